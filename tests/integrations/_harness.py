"""The contract every integration's test harness fulfils.

Each integration (ASGI middleware, Starlette decorator, FastAPI dependency,
WSGI middleware, Flask extension) provides a ``Harness`` that builds the same
small application and sends requests to it in process. ``test_cases.py`` then
runs one shared table of cases against all of them, so the integrations are
held to identical semantics and identical RFC 6750 responses.

The application every harness builds:

* ``GET /whoami`` — protected; answers 200 with JSON
  ``{"client_id": …, "scopes": [...], "custom_claims": {...}}`` taken from the
  claims the integration attached to the request, or ``{"client_id": null}``
  when ``optional`` let an anonymous request through. When
  ``required_scopes`` is given, the route (or the middleware) requires them.
* ``GET /health`` — public; answers 200 ``{"status": "ok"}`` with no token.
  For middlewares it is public through ``exclude_paths``; for per-route
  guards, by not being guarded.

``route`` holds the keyword options every integration's guard takes the same
way (``audience``, ``issuer``, ``max_token_age``, ``checks``, ``token_header``,
``token_cookie``): given to the middleware, or to the route's guard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from m2m_guard import Verifier


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, with header names in lower case."""

    status: int
    headers: dict[str, str]
    json: Any


class Harness(Protocol):
    """Builds the app for one integration and calls it in process."""

    name: str

    def build(
        self,
        verifier: Verifier,
        *,
        required_scopes: Sequence[str] = (),
        optional: bool = False,
        route: Mapping[str, Any] | None = None,
    ) -> None:
        """Build the application described in the module docstring."""

    def request(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> Reply:
        """Send ``GET path`` with these headers (names may repeat)."""
