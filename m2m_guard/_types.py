"""The interfaces every layer agrees on, kept low so nothing imports upward.

``TokenVerifier`` is what the integrations (``Guard`` and every adapter)
need from a verifier; ``Verifier`` and ``MultiIssuerVerifier`` implement it
through ``VerifierBase``. Integrations go through ``verify_authorization``
(and its async twin) only: the request's ``Authorization`` values and
normalised scopes in, claims out, the token-cache hit first. A verifier
whose rules look beyond the header (custom checks, proof-of-possession)
says so with a ``needs_request`` attribute that is true; the integrations
then build a ``RequestContext`` and pass it as ``request=`` (a verifier
without that attribute is never handed one, so third-party verifiers written
against the older protocol keep working).
``EventHook`` receives ``m2m_guard.events``. The ASGI aliases are the ones
the ASGI specification describes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ._sansio.claims import M2MClaims
from ._sansio.events import EventHook
from ._sansio.request import RequestContext

__all__ = ["ASGIApp", "EventHook", "Message", "Receive", "Scope", "Send", "TokenVerifier"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@runtime_checkable
class TokenVerifier(Protocol):
    """What the integrations need from a verifier (``Verifier`` and
    ``MultiIssuerVerifier`` both are one)."""

    def verify(
        self,
        token: str,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims: ...

    async def verify_async(
        self,
        token: str,
        required_scopes: str | Iterable[str] = (),
        *,
        any_scopes: str | Iterable[str] = (),
        max_token_age: float | None = None,
    ) -> M2MClaims: ...

    def verify_authorization(
        self,
        values: Sequence[str],
        required: tuple[str, ...] = (),
        any_of: tuple[str, ...] = (),
        *,
        optional: bool = False,
        request: RequestContext | None = None,
    ) -> M2MClaims | None: ...

    async def verify_authorization_async(
        self,
        values: Sequence[str],
        required: tuple[str, ...] = (),
        any_of: tuple[str, ...] = (),
        *,
        optional: bool = False,
        request: RequestContext | None = None,
    ) -> M2MClaims | None: ...

    def warm_up(self, *, strict: bool = False) -> bool: ...

    async def warm_up_async(self, *, strict: bool = False) -> bool: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...
