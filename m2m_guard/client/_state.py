"""The caller side's token state, without I/O: everything here decides, nothing sends.

``TokenConfig`` holds the checked settings, ``build_request`` describes the
token request (RFC 6749 §4.4: URL, headers, body bytes), ``parse_reply``
turns what came back into a ``Token`` or a ``TokenRequestError``, and
``TokenState`` caches the token: ``fresh``/``usable`` answer without a
fetch, and ``fetch`` is a flow (run by ``m2m_guard._sansio.flow.run_sync`` /
``run_async``) that yields one ``TokenRequest`` and is sent a ``Reply`` or
an ``Unreachable``. Single flight is bookkeeping here, waiting elsewhere:
the drivers run ``fetch`` under their locks with the ``generation`` they saw
before waiting, so a caller that queued behind a fetch takes its token, or
shares its failure, instead of fetching again. ``authorize`` is the flow of
one API request: send it with the token; after a 401, retry once with a new
one. Neither the secret nor a whole token is logged or shown in a ``repr``.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
from collections.abc import Callable, Generator, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, TypeVar
from urllib.parse import quote_plus, urlencode

from m2m_guard._sansio.errors import ConfigurationError, TokenRequestError
from m2m_guard._sansio.jws import B64TOKEN
from m2m_guard._text import inert

__all__ = [
    "Reply",
    "Token",
    "TokenConfig",
    "TokenNeeded",
    "TokenRequest",
    "TokenState",
    "Unreachable",
    "authorize",
    "build_request",
    "parse_reply",
    "seconds",
    "token_config",
]

logger = logging.getLogger("m2m_guard.client")

AuthMethod: TypeAlias = Literal["client_secret_basic", "client_secret_post"]
BodyFormat: TypeAlias = Literal["form", "json"]
#: a timeout per phase of a request, as httpx's ``Timeout.as_dict()`` gives them
Timeouts: TypeAlias = Mapping[str, float | None]

_RESERVED_PARAMS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
# RFC 6749 §3.3: scope-token = 1*NQCHAR
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_PHASES = ("connect", "read", "write", "pool")
_MAX_ECHO = 200  # characters of an endpoint's own error text we repeat
_MAX_DEADLINE = 60.0  # seconds, when the timeouts set no limit at all


@dataclass(frozen=True, slots=True)
class TokenConfig:
    """Checked settings of one client's token requests (build with ``token_config``)."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]
    auth_method: AuthMethod
    body_format: BodyFormat
    extra_params: tuple[tuple[str, str], ...]
    refresh_margin: float
    timeouts: Timeouts
    token_type: str = "bearer"  # noqa: S105 - the expected token_type: "bearer" or "dpop"

    @property
    def deadline(self) -> float:
        """Seconds the whole request may take, connect to last byte: its largest timeout.

        httpx's own timeouts apply to each step; this bounds the exchange.
        """
        limits = [value for value in self.timeouts.values() if value is not None]
        return max(limits) if limits else _MAX_DEADLINE


def token_config(
    token_url: str,
    client_id: str,
    client_secret: str,
    *,
    scopes: str | Iterable[str] | None,
    auth_method: AuthMethod,
    body_format: BodyFormat,
    extra_params: Mapping[str, str] | None,
    refresh_margin: float,
    timeouts: Timeouts,
) -> TokenConfig:
    """Check the settings (``ConfigurationError`` for a bad one); the URL is checked already."""
    if not client_id or not isinstance(client_id, str):
        raise ConfigurationError("client_id must be a non-empty string.")
    if not client_secret or not isinstance(client_secret, str):
        raise ConfigurationError("client_secret must be a non-empty string.")
    if auth_method not in ("client_secret_basic", "client_secret_post"):
        raise ConfigurationError(f"Unknown auth_method {auth_method!r}.")
    if body_format not in ("form", "json"):
        raise ConfigurationError(f"Unknown body_format {body_format!r}.")
    if isinstance(refresh_margin, bool) or not (
        isinstance(refresh_margin, int | float) and refresh_margin >= 0
    ):
        raise ConfigurationError("refresh_margin must be a number of seconds >= 0.")
    return TokenConfig(
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        scopes=_check_scopes(scopes),
        auth_method=auth_method,
        body_format=body_format,
        extra_params=_check_extra_params(extra_params),
        refresh_margin=float(refresh_margin),
        timeouts=dict(timeouts),
    )


def seconds(timeout: object) -> Timeouts:
    """One timeout in seconds for every phase of a request."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigurationError("timeout must be a positive number of seconds.")
    return dict.fromkeys(_PHASES, float(timeout))


def _check_scopes(scopes: str | Iterable[str] | None) -> tuple[str, ...]:
    if scopes is None:
        return ()
    found = tuple(scopes.split() if isinstance(scopes, str) else scopes)
    for scope in found:
        if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
            raise ConfigurationError(f"Invalid scope {scope!r} (RFC 6749 §3.3).")
    return found


def _check_extra_params(params: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    found = dict(params or {})
    for name, value in found.items():
        if name in _RESERVED_PARAMS:
            raise ConfigurationError(f"extra_params may not set {name!r}; use the arguments.")
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise ConfigurationError("extra_params must map non-empty names to strings.")
    return tuple(found.items())


# -- the exchange ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token request to send: ``POST url`` with these headers and body."""

    url: str
    headers: Mapping[str, str] = field(repr=False)  # may carry the secret (Basic)
    content: bytes = field(repr=False)  # may carry the secret (client_secret_post)
    timeouts: Timeouts


@dataclass(frozen=True, slots=True)
class Reply:
    """The token endpoint's answer, read whole."""

    status: int
    content: bytes = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # lower-case names


@dataclass(frozen=True, slots=True)
class Unreachable:
    """No answer: the request failed (refused, reset, timed out)."""

    error: Exception


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and when to stop using it."""

    value: str = field(repr=False)
    refresh_at: float  # from here on, fetch a new one
    expires_at: float  # until here, it is still good while a refresh is under way
    response: Mapping[str, Any] = field(repr=False)  # the endpoint's whole JSON answer


def build_request(config: TokenConfig) -> TokenRequest:
    """The client-credentials grant request (RFC 6749 §4.4.2)."""
    body: dict[str, str] = {"grant_type": "client_credentials"}
    if config.scopes:
        body["scope"] = " ".join(config.scopes)
    body.update(config.extra_params)
    headers = {"Accept": "application/json"}
    if config.auth_method == "client_secret_basic":
        # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        userpass = f"{quote_plus(config.client_id)}:{quote_plus(config.client_secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(userpass.encode()).decode()
    else:
        body["client_id"] = config.client_id
        body["client_secret"] = config.client_secret
    if config.body_format == "json":
        headers["Content-Type"] = "application/json"
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        content = text.encode("utf-8")
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        content = urlencode(body).encode("ascii")
    return TokenRequest(config.token_url, headers, content, config.timeouts)


def parse_reply(config: TokenConfig, reply: Reply | Unreachable, started: float) -> Token:
    """The token in ``reply`` (asked for at ``started``), or ``TokenRequestError``."""
    url = config.token_url
    if isinstance(reply, Unreachable):
        cause = reply.error
        raise TokenRequestError(
            f"The token request to {url} failed: {type(cause).__name__}: {inert(str(cause))}"
        ) from cause
    status, payload = reply.status, _json_object(reply.content)
    error, description = _oauth_error(payload)

    def fail(problem: str) -> TokenRequestError:
        detail = f" ({error}: {description})" if error else ""
        return TokenRequestError(
            f"The token endpoint {url} {problem}{detail}",
            upstream_error=error,
            error_description=description,
            http_status=status,
        )

    if status != 200:
        raise fail(f"refused the request with HTTP {status}")
    if payload is None:
        raise fail("did not answer with a JSON object")
    access_token = payload.get("access_token")
    if not isinstance(access_token, str) or not B64TOKEN.fullmatch(access_token):
        raise fail("sent no usable access_token")
    token_type = payload.get("token_type", "bearer")
    if not isinstance(token_type, str) or token_type.lower() != config.token_type:
        shown = inert(repr(token_type)[:_MAX_ECHO])
        raise fail(f"sent token_type {shown}, not a {config.token_type} token")
    lifetime = _lifetime(payload.get("expires_in"))
    if lifetime is None:
        raise fail("sent no positive expires_in")
    margin = min(config.refresh_margin, lifetime / 2)
    return Token(access_token, started + lifetime - margin, started + lifetime, payload)


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(content)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or absurdly nested
        return None
    return payload if isinstance(payload, dict) else None


def _oauth_error(payload: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """The RFC 6749 §5.2 ``error`` and ``error_description``, when well-formed."""
    if payload is None:
        return None, None
    error, description = payload.get("error"), payload.get("error_description")
    return (
        inert(error[:_MAX_ECHO]) if isinstance(error, str) else None,
        inert(description[:_MAX_ECHO]) if isinstance(description, str) else None,
    )


def _lifetime(expires_in: object) -> float | None:
    """``expires_in`` in seconds if it is a positive number.

    Digit strings are accepted too: Azure AD v1 sends ``"3599"``.
    """
    if isinstance(expires_in, str) and re.fullmatch(r"[0-9]{1,10}", expires_in):
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return None
    if not math.isfinite(expires_in) or expires_in <= 0:
        return None
    return float(expires_in)


def prefix(token: str) -> str:
    """Enough of a token to tell tokens apart in logs, never the token."""
    return token[: min(8, len(token) // 4)] + "..."


# -- the cache -------------------------------------------------------------------


class TokenState:
    """The cached token of one client, and the bookkeeping that makes fetches single-flight.

    Not thread-safe by itself: ``fetch`` runs under the drivers' lock; the
    lock-free ``fresh``/``usable`` only read one reference.
    """

    def __init__(self, config: TokenConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self._clock = clock
        self._token: Token | None = None
        self._generation = 0  # completed fetch attempts
        self._failure: TokenRequestError | None = None  # the last attempt's, if it failed

    @property
    def generation(self) -> int:
        """How many fetches have completed; read it before waiting for the lock."""
        return self._generation

    def fresh(self, refused: str | None) -> str | None:
        """The cached token if it needs no refresh yet (and is not ``refused``)."""
        token = self._cached(refused, usable=False)
        return None if token is None else token.value

    def usable(self, refused: str | None) -> str | None:
        """The cached token if it has not expired, refresh due or not."""
        token = self._cached(refused, usable=True)
        return None if token is None else token.value

    def _cached(self, refused: str | None, *, usable: bool) -> Token | None:
        now, token = self._clock(), self._token
        if token is None or token.value == refused:
            return None
        return token if now < (token.expires_at if usable else token.refresh_at) else None

    def fetch(
        self, refused: str | None, generation: int
    ) -> Generator[TokenRequest, Reply | Unreachable, Token]:
        """Under the lock: take what a fetch we waited for produced, or fetch.

        ``refused`` is the token the API just answered 401 to (never handed
        out again); ``generation`` what ``generation`` was before waiting.
        A failed refresh falls back to the current token while it is valid.
        """
        token = self._cached(refused, usable=False)
        if token is not None:
            return token
        if generation != self._generation and self._failure is not None:
            # The fetch we queued behind just failed: share its outcome.
            raise self._failure._copy() from self._failure
        if refused is not None and self._token is not None and self._token.value == refused:
            self._token = None  # the API refused it: never hand it out again
        started = self._clock()
        reply = yield build_request(self.config)
        self._generation += 1
        try:
            token = parse_reply(self.config, reply, started)
        except TokenRequestError as exc:
            self._failure = exc
            current = self._cached(refused, usable=True)
            if current is None:
                raise
            logger.warning("token refresh failed, the current token is still valid: %s", exc)
            return current
        self._token, self._failure = token, None
        logger.debug(
            "fetched token %s, refresh in %.0fs", prefix(token.value), token.refresh_at - started
        )
        return token


# -- one authorized request ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenNeeded:
    """A step of ``authorize``: answer it with a token."""

    refused: str | None  # the token the API just answered 401 to, if any


class _Request(Protocol):
    @property
    def headers(self) -> MutableMapping[str, str]: ...


Request = TypeVar("Request", bound=_Request)


def authorize(request: Request) -> Generator[Request | TokenNeeded, Any, None]:
    """Send ``request`` with a token; after a 401, retry exactly once with a new one.

    Yields ``TokenNeeded`` (answer: a token) and the request (answer: the
    API's response; anything with a ``status_code``).
    """
    token: str = yield TokenNeeded(refused=None)
    request.headers["Authorization"] = f"Bearer {token}"
    response = yield request
    if response.status_code != 401:
        return
    logger.debug("the API refused token %s; fetching a new one", prefix(token))
    token = yield TokenNeeded(refused=token)
    request.headers["Authorization"] = f"Bearer {token}"
    yield request
