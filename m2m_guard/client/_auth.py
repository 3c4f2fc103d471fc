"""``ClientCredentialsAuth``: the auth for ``httpx`` and ``httpx2`` clients alike.

Its base is the ``Auth`` class of every installed HTTP package (both, when
both are installed), because each package's clients accept only an auth
derived from their own ``Auth``; the flows themselves touch nothing but a
request's headers and a response's status, which both packages share.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from m2m_guard._closing import Closing
from m2m_guard._http import INSTALLED, Timeout, httpx
from m2m_guard._presets import stytch_base_url, stytch_token_url
from m2m_guard._sansio.errors import ConfigurationError
from m2m_guard._settings.checks import plain_http, valid_url

from ._async import AsyncSender, async_token
from ._dpop import DPoPAsyncSender, DPoPSigner, DPoPSyncSender, authorize_dpop
from ._dpop_key import DPoPKey
from ._state import (
    AuthMethod,
    BodyFormat,
    TokenConfig,
    TokenNeeded,
    TokenState,
    authorize,
    seconds,
    token_config,
)
from ._sync import Shared, SyncSender, sync_token

if TYPE_CHECKING:
    from m2m_guard._http import AsyncClient, SyncClient

__all__ = ["ClientCredentialsAuth", "configure"]

logger = logging.getLogger("m2m_guard.client")

_PROJECT_ID = re.compile(r"[A-Za-z0-9._~-]+")


def _auth_base() -> type:
    """One class deriving from every installed package's ``Auth``."""
    bases = tuple(module.Auth for module in INSTALLED)
    if len(bases) == 1:
        base: type = bases[0]
        return base
    return type("Auth", bases, {"__module__": __name__, "__doc__": _auth_base.__doc__})


if TYPE_CHECKING:
    _Auth = httpx.Auth
else:
    _Auth = _auth_base()


def configure(
    token_url: str,
    client_id: str,
    client_secret: str,
    *,
    scopes: str | Iterable[str] | None = None,
    auth_method: AuthMethod = "client_secret_basic",
    body_format: BodyFormat = "form",
    extra_params: Mapping[str, str] | None = None,
    refresh_margin: float = 60.0,
    timeout: float | Timeout = 5.0,
) -> TokenConfig:
    """Checked token request settings (``ConfigurationError`` for a bad one)."""
    if not isinstance(token_url, str):
        raise ConfigurationError(f"The token URL must be a string, got {token_url!r}.")
    parts = valid_url(token_url, "the token URL")
    if plain_http(parts):
        logger.warning(
            "the token URL %s is plain http: the client secret travels unencrypted", token_url
        )
    timeouts = timeout.as_dict() if isinstance(timeout, Timeout) else seconds(timeout)
    return token_config(
        token_url,
        client_id,
        client_secret,
        scopes=scopes,
        auth_method=auth_method,
        body_format=body_format,
        extra_params=extra_params,
        refresh_margin=refresh_margin,
        timeouts=timeouts,
    )


class ClientCredentialsAuth(Closing, _Auth):
    """An auth for ``Client`` and ``AsyncClient`` of ``httpx`` and of ``httpx2``.

    Args:
        token_url: the token endpoint.
        client_id, client_secret: the M2M client's credentials.
        scopes: scopes to ask for (a list, or one space-separated string);
            ``None`` asks for the client's default scopes.
        auth_method: ``client_secret_basic`` (an HTTP Basic header,
            RFC 6749 §2.3.1) or ``client_secret_post`` (in the body).
        body_format: ``form`` (RFC 6749) or ``json`` (Stytch accepts both).
        extra_params: further body parameters, e.g. ``audience`` for Auth0.
        refresh_margin: seconds before expiry at which a new token is
            fetched; at most half the token's lifetime is used.
        timeout: seconds (or a ``Timeout`` of either package) for each token
            request: the whole request, connect to last byte, ends within
            the largest of them, also on a client you pass in with
            kept-alive connections.
        clock: a monotonic clock; only differences of its readings matter.
        http_client, async_http_client: clients for token requests (of
            either package); by default the auth creates (and
            ``close``/``aclose`` closes) its own.
        dpop: ``True`` (a new ES256 key) or a ``DPoPKey``: ask for
            DPoP-bound tokens (RFC 9449) and send each request with
            ``Authorization: DPoP`` and a fresh proof; the token endpoint
            must answer ``token_type: DPoP``.

    The request body is read up front so it can be sent again after a 401.
    One instance may serve threads and event loops at once: fetches are
    single-flight across all of them.
    """

    requires_request_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scopes: str | Iterable[str] | None = None,
        auth_method: AuthMethod = "client_secret_basic",
        body_format: BodyFormat = "form",
        extra_params: Mapping[str, str] | None = None,
        refresh_margin: float = 60.0,
        timeout: float | Timeout = 5.0,
        clock: Callable[[], float] = time.monotonic,
        http_client: SyncClient | None = None,
        async_http_client: AsyncClient | None = None,
        dpop: bool | DPoPKey = False,
    ) -> None:
        config = configure(
            token_url,
            client_id,
            client_secret,
            scopes=scopes,
            auth_method=auth_method,
            body_format=body_format,
            extra_params=extra_params,
            refresh_margin=refresh_margin,
            timeout=timeout,
        )
        self._signer: DPoPSigner | None = None
        if dpop is not False:
            if not isinstance(dpop, DPoPKey) and dpop is not True:
                raise ConfigurationError("dpop must be True, False or a DPoPKey.")
            self._signer = DPoPSigner(DPoPKey.generate() if dpop is True else dpop)
            config = replace(config, token_type="dpop")  # noqa: S106 - RFC 9449 §5
        # Waiting for a fetch another thread or loop runs: its deadline (twice
        # with DPoP: a nonce may cost a second request), and a second.
        exchanges = 1.0 if self._signer is None else 2.0
        self._shared = Shared(
            TokenState(config, clock), threading.Lock(), exchanges * config.deadline + 1.0
        )
        self._sync: SyncSender = SyncSender(http_client, config.deadline)
        self._async: AsyncSender = AsyncSender(async_http_client, config.deadline)
        if self._signer is not None:
            self._sync = DPoPSyncSender(self._signer, http_client, config.deadline)
            self._async = DPoPAsyncSender(self._signer, async_http_client, config.deadline)

    @classmethod
    def for_stytch(
        cls,
        project_id: str,
        client_id: str,
        client_secret: str,
        *,
        environment: str | None = None,
        scopes: str | Iterable[str] | None = None,
        extra_params: Mapping[str, str] | None = None,
        refresh_margin: float = 60.0,
        timeout: float | Timeout = 5.0,
        clock: Callable[[], float] = time.monotonic,
        http_client: SyncClient | None = None,
        async_http_client: AsyncClient | None = None,
        dpop: bool | DPoPKey = False,
    ) -> ClientCredentialsAuth:
        """Configure for Stytch's ``/v1/public/{project_id}/oauth2/token``.

        ``environment`` is ``"test"``, ``"live"``, a base URL such as
        ``http://127.0.0.1:8787`` (a local issuer), or ``None`` (the
        default): inferred from the project id as Stytch's SDKs do.
        Credentials travel in a JSON body, as Stytch's SDKs send them.
        """
        if not isinstance(project_id, str) or not _PROJECT_ID.fullmatch(project_id):
            raise ConfigurationError(f"Invalid Stytch project_id {project_id!r}.")
        return cls(
            stytch_token_url(stytch_base_url(project_id, environment), project_id),
            client_id,
            client_secret,
            scopes=scopes,
            auth_method="client_secret_post",
            body_format="json",
            extra_params=extra_params,
            refresh_margin=refresh_margin,
            timeout=timeout,
            clock=clock,
            http_client=http_client,
            async_http_client=async_http_client,
            dpop=dpop,
        )

    def __repr__(self) -> str:
        config = self._shared.state.config
        return (
            f"{type(self).__name__}(token_url={config.token_url!r}, client_id={config.client_id!r})"
        )

    @property
    def dpop_key(self) -> DPoPKey | None:
        """The DPoP key, or None for bearer tokens (sign your own proofs with it)."""
        return None if self._signer is None else self._signer.key

    def _flow(self, request: httpx.Request) -> Generator[Any, Any, None]:
        if self._signer is None:
            return authorize(request)
        return authorize_dpop(request, str(request.url), self._signer)

    # -- threads -----------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Authorize ``request`` for a ``Client``; one retry after a 401."""
        request.read()
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, TokenNeeded):
                reply: object = sync_token(self._shared, self._sync, step.refused)
            else:
                reply = yield step
            try:
                step = flow.send(reply)
            except StopIteration:
                return

    def get_token(self) -> str:
        """A valid access token, fetched if needed (for use outside httpx)."""
        return sync_token(self._shared, self._sync, None)

    def close(self) -> None:
        """Close the sync client the auth created for token requests, if any."""
        self._sync.close()

    # -- tasks -------------------------------------------------------------------

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Authorize ``request`` for an ``AsyncClient``; one retry after a 401."""
        await request.aread()
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, TokenNeeded):
                reply: object = await async_token(self._shared, self._async, step.refused)
            else:
                reply = yield step
            try:
                step = flow.send(reply)
            except StopIteration:
                return

    async def aget_token(self) -> str:
        """A valid access token, fetched if needed (for use outside httpx)."""
        return await async_token(self._shared, self._async, None)

    async def aclose(self) -> None:
        """Close the clients the auth created: this event loop's and the sync one."""
        await self._async.aclose()
        self.close()
