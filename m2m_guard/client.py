"""The caller side: an ``httpx`` auth that gets, caches and renews M2M tokens.

``ClientCredentialsAuth`` obtains an access token with the OAuth2
client-credentials grant (RFC 6749 §4.4), sends it as a bearer token
(RFC 6750 §2.1), reuses it until shortly before it expires, and on a 401
from the protected API fetches a new one and retries the request once::

    auth = ClientCredentialsAuth.for_stytch(project_id, client_id, client_secret)
    with httpx.Client(auth=auth) as client:
        client.get("https://api.example.com/things")

The algorithm is written once: ``_flow`` (authorize, send, retry once on a
401) is a generator in the manner of httpx's own auth flows, and the token
cache decides in ``_begin``/``_finish`` whether and how to fetch. The sync
and async drivers only wait differently: a ``threading.Lock`` and a blocking
``httpx.Client`` for threads, a per-event-loop ``anyio.Lock`` and an
``httpx.AsyncClient`` for tasks. Either way N concurrent callers on a cold
cache cause one token request, and callers that waited for a fetch share its
outcome, failure included, rather than hammer a failing endpoint.

Token requests go through a client of their own (or the one given), never
through the client being authenticated, and never with that client's auth.
Neither the secret nor a whole token is ever logged.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import logging
import math
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias
from urllib.parse import quote_plus

import anyio
from anyio.lowlevel import RunVar

from ._closing import Closing
from ._drivers import Watchdog
from ._http import httpx
from ._presets import stytch_base_url
from ._sansio.errors import ConfigurationError, M2MGuardError
from ._text import inert

__all__ = ["ClientCredentialsAuth", "TokenRequestError"]

logger = logging.getLogger("m2m_guard.client")

AuthMethod: TypeAlias = Literal["client_secret_basic", "client_secret_post"]
BodyFormat: TypeAlias = Literal["form", "json"]

_RESERVED_PARAMS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
# RFC 6749 §3.3: scope-token = 1*NQCHAR
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# RFC 6750 §2.1: the only characters a bearer token may carry in a header.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_PROJECT_ID = re.compile(r"[A-Za-z0-9._~-]+")
_MAX_ECHO = 200  # characters of an endpoint's own error text we repeat
_MAX_DEADLINE = 60.0  # seconds, when an httpx.Timeout sets no limit at all


class TokenRequestError(M2MGuardError):
    """The token endpoint refused to issue a token, or answered something unusable.

    ``str(exc)`` says what went wrong in detail, for logs. ``description``
    stays generic: should this escape into an integration's error handler,
    the upstream details never reach that service's own caller.

    Attributes:
        error: the endpoint's OAuth2 error code (RFC 6749 §5.2), e.g.
            ``invalid_client``; ``None`` when it gave none.
        error_description: the endpoint's ``error_description``, or ``None``.
        http_status: the endpoint's HTTP status; ``None`` when no response
            arrived (connection refused, timeout).
    """

    status_code = 502
    default_description = "An access token for an upstream service could not be obtained."

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        error_description: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__()
        self.args = (message,)
        self.error = error
        self.error_description = error_description
        self.http_status = http_status

    def www_authenticate(
        self, realm: str = "api", *, resource_metadata: str | None = None
    ) -> str | None:
        return None

    def to_dict(self) -> dict[str, str]:
        return {"error": "temporarily_unavailable", "error_description": self.description}

    def _copy(self) -> TokenRequestError:
        return TokenRequestError(
            str(self),
            error=self.error,
            error_description=self.error_description,
            http_status=self.http_status,
        )


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at: float  # from here on, fetch a new one
    expires_at: float  # until here, it is still good while a refresh is under way


@dataclass(frozen=True, slots=True)
class _TokenNeeded:
    """A step of ``_flow``: the driver must answer with a token."""

    refused: str | None  # the token the API just answered 401 to, if any


@dataclass(frozen=True, slots=True)
class _Fetch:
    """A token request ``_begin`` planned; the driver sends it."""

    request: httpx.Request
    started: float
    refused: str | None


@dataclass
class _LoopState:
    lock: anyio.Lock
    client: httpx.AsyncClient | None = None


# _flow yields requests for the API (answered with a response) and
# _TokenNeeded steps (answered with a token string).
_Flow: TypeAlias = Generator["httpx.Request | _TokenNeeded", Any, None]
_Reply: TypeAlias = "httpx.Response | httpx.HTTPError"


class ClientCredentialsAuth(Closing, httpx.Auth):
    """An ``httpx.Auth`` for ``httpx.Client`` and ``httpx.AsyncClient`` alike.

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
        timeout: seconds (or an ``httpx.Timeout``) for each token request:
            the whole request, connect to last byte, ends within the largest
            of them, also on a client you pass in with kept-alive connections.
        clock: a monotonic clock; only differences of its readings matter.
        http_client, async_http_client: clients for token requests; by
            default the auth creates (and ``close``/``aclose`` closes) its own.

    The request body is read up front so it can be sent again after a 401.
    One instance may serve threads and event loops at once: fetches are
    single-flight across threads and within each event loop.
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
        timeout: float | httpx.Timeout = 5.0,
        clock: Callable[[], float] = time.monotonic,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._token_url = _check_url(token_url)
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
        self._client_id = client_id
        self._client_secret = client_secret
        self._scopes = _check_scopes(scopes)
        self._auth_method = auth_method
        self._body_format = body_format
        self._extra_params = _check_extra_params(extra_params)
        self._refresh_margin = float(refresh_margin)
        self._timeout = _check_timeout(timeout)
        # The whole token request, connect to last byte, is bounded by the
        # largest of its timeouts (httpx's own apply to each step).
        limits = [value for value in self._timeout.as_dict().values() if value is not None]
        self._deadline = max(limits) if limits else _MAX_DEADLINE
        self._wait_limit = self._deadline + 1.0  # for a fetch another thread or loop runs
        self._clock = clock
        self._given_client = http_client
        self._given_async_client = async_http_client
        self._own_client: httpx.Client | None = None
        self._token: _Token | None = None
        self._generation = 0  # completed fetch attempts
        self._failure: TokenRequestError | None = None  # the last attempt's, if it failed
        self._thread_lock = threading.Lock()
        self._per_loop: RunVar[_LoopState] = RunVar(f"m2m_guard_client_{id(self)}")

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
        timeout: float | httpx.Timeout = 5.0,
        clock: Callable[[], float] = time.monotonic,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> ClientCredentialsAuth:
        """Configure for Stytch's ``/v1/public/{project_id}/oauth2/token``.

        ``environment`` is ``"test"``, ``"live"``, a base URL such as
        ``http://127.0.0.1:8787`` (a local issuer), or ``None`` (the
        default): inferred from the project id as Stytch's SDKs do.
        Credentials travel in a JSON body, as Stytch's SDKs send them.
        """
        if not isinstance(project_id, str) or not _PROJECT_ID.fullmatch(project_id):
            raise ConfigurationError(f"Invalid Stytch project_id {project_id!r}.")
        base = stytch_base_url(project_id, environment)
        return cls(
            f"{base}/v1/public/{project_id}/oauth2/token",
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
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(token_url={self._token_url!r}, client_id={self._client_id!r})"
        )

    # -- the algorithm, written once ------------------------------------------

    def _flow(self, request: httpx.Request) -> _Flow:
        """Authorize and send; after a 401, retry exactly once with a new token."""
        token: str = yield _TokenNeeded(refused=None)
        request.headers["Authorization"] = f"Bearer {token}"
        response: httpx.Response = yield request
        if response.status_code != 401:
            return
        logger.debug("the API refused token %s; fetching a new one", _prefix(token))
        token = yield _TokenNeeded(refused=token)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _fresh(self, refused: str | None) -> str | None:
        """The cached token if it needs no refresh yet."""
        now, token = self._clock(), self._token
        if token is None or token.value == refused or now >= token.refresh_at:
            return None
        return token.value

    def _usable(self, refused: str | None) -> str | None:
        """The cached token if it has not expired, refresh due or not."""
        now, token = self._clock(), self._token
        if token is None or token.value == refused or now >= token.expires_at:
            return None
        return token.value

    def _begin(self, refused: str | None, generation: int) -> str | _Fetch:
        """Under the lock: take what a fetch we waited for produced, or plan one."""
        token = self._fresh(refused)
        if token is not None:
            return token
        if generation != self._generation and self._failure is not None:
            # The fetch we queued behind just failed: share its outcome.
            raise self._failure._copy() from self._failure
        if refused is not None and self._token is not None and self._token.value == refused:
            self._token = None  # the API refused it: never hand it out again
        return _Fetch(self._token_request(), self._clock(), refused)

    def _finish(self, fetch: _Fetch, reply: _Reply) -> str:
        """Under the lock: store the fetched token, or fall back, or raise."""
        self._generation += 1
        try:
            token = self._parse(reply, fetch.started)
        except TokenRequestError as exc:
            self._failure = exc
            current = self._usable(fetch.refused)
            if current is None:
                raise
            logger.warning("token refresh failed, the current token is still valid: %s", exc)
            return current
        self._token, self._failure = token, None
        logger.debug(
            "fetched token %s, refresh in %.0fs",
            _prefix(token.value),
            token.refresh_at - fetch.started,
        )
        return token.value

    def _token_request(self) -> httpx.Request:
        body: dict[str, str] = {"grant_type": "client_credentials"}
        if self._scopes:
            body["scope"] = " ".join(self._scopes)
        body.update(self._extra_params)
        headers = {"Accept": "application/json"}
        if self._auth_method == "client_secret_basic":
            # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
            userpass = f"{quote_plus(self._client_id)}:{quote_plus(self._client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(userpass.encode()).decode()
        else:
            body["client_id"] = self._client_id
            body["client_secret"] = self._client_secret
        extensions = {"timeout": self._timeout.as_dict()}
        if self._body_format == "json":
            return httpx.Request(
                "POST", self._token_url, json=body, headers=headers, extensions=extensions
            )
        return httpx.Request(
            "POST", self._token_url, data=body, headers=headers, extensions=extensions
        )

    def _parse(self, reply: _Reply, started: float) -> _Token:
        url = self._token_url
        if isinstance(reply, httpx.HTTPError):
            raise TokenRequestError(
                f"The token request to {url} failed: {type(reply).__name__}: {inert(str(reply))}"
            ) from reply
        status, payload = reply.status_code, _json_object(reply)
        error, description = _oauth_error(payload)

        def fail(problem: str) -> TokenRequestError:
            detail = f" ({error}: {description})" if error else ""
            return TokenRequestError(
                f"The token endpoint {url} {problem}{detail}",
                error=error,
                error_description=description,
                http_status=status,
            )

        if status != 200:
            raise fail(f"refused the request with HTTP {status}")
        if payload is None:
            raise fail("did not answer with a JSON object")
        access_token = payload.get("access_token")
        if not isinstance(access_token, str) or not _B64TOKEN.fullmatch(access_token):
            raise fail("sent no usable access_token")
        token_type = payload.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise fail(f"sent token_type {token_type!r}, not a bearer token")
        lifetime = _lifetime(payload.get("expires_in"))
        if lifetime is None:
            raise fail("sent no positive expires_in")
        margin = min(self._refresh_margin, lifetime / 2)
        return _Token(access_token, started + lifetime - margin, started + lifetime)

    # -- the sync driver -------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Run ``_flow`` for ``httpx.Client``."""
        request.read()
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, _TokenNeeded):
                reply: object = self._sync_token(step.refused)
            else:
                reply = yield step
            try:
                step = flow.send(reply)
            except StopIteration:
                return

    def get_token(self) -> str:
        """A valid access token, fetched if needed (for use outside httpx)."""
        return self._sync_token(None)

    def _sync_token(self, refused: str | None) -> str:
        token = self._fresh(refused)
        if token is not None:
            return token
        generation = self._generation
        lock = self._thread_lock
        if not lock.acquire(blocking=False):
            token = self._usable(refused)
            if token is not None:
                return token  # another thread is refreshing ahead of expiry
            # Bounded: the holder's request ends within its deadline, and a
            # holder on this thread's own event loop could never finish.
            if not lock.acquire(timeout=self._wait_limit):
                raise self._busy()
        try:
            step = self._begin(refused, generation)
            if isinstance(step, str):
                return step
            return self._finish(step, self._sync_send(step.request))
        finally:
            lock.release()

    def _sync_send(self, request: httpx.Request) -> _Reply:
        """Send a token request within its whole deadline, whatever the client.

        httpx bounds each read, not the exchange: a token endpoint trickling
        its answer would hold the caller's request indefinitely. The JWKS
        fetch's watchdog cuts the connection's socket at the deadline (new,
        pooled or TLS connections alike).
        """
        with Watchdog(self._deadline) as watchdog:
            request.extensions = {**request.extensions, "trace": watchdog.trace}
            try:
                response = self._sync_client().send(
                    request, auth=None, follow_redirects=False, stream=True
                )
                with contextlib.closing(response), watchdog.guarding(response):
                    response.read()
            except httpx.HTTPError as exc:
                return _timed_out(request) if watchdog.fired else exc
        return response

    def _sync_client(self) -> httpx.Client:
        if self._given_client is not None:
            return self._given_client
        if self._own_client is None:  # only ever reached under the thread lock
            self._own_client = httpx.Client(follow_redirects=False)
        return self._own_client

    def close(self) -> None:
        """Close the sync client the auth created for token requests, if any."""
        if self._own_client is not None:
            self._own_client.close()
            self._own_client = None

    # -- the async driver ------------------------------------------------------

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Run ``_flow`` for ``httpx.AsyncClient``."""
        await request.aread()
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, _TokenNeeded):
                reply: object = await self._async_token(step.refused)
            else:
                reply = yield step
            try:
                step = flow.send(reply)
            except StopIteration:
                return

    async def aget_token(self) -> str:
        """A valid access token, fetched if needed (for use outside httpx)."""
        return await self._async_token(None)

    async def _async_token(self, refused: str | None) -> str:
        token = self._fresh(refused)
        if token is not None:
            return token
        generation = self._generation
        state = self._loop_state()
        try:
            state.lock.acquire_nowait()
        except anyio.WouldBlock:
            token = self._usable(refused)
            if token is not None:
                return token  # another task is refreshing ahead of expiry
            await state.lock.acquire()
        try:
            await self._hold_thread_lock()
        except BaseException:
            state.lock.release()
            raise
        try:
            step = self._begin(refused, generation)
            if isinstance(step, str):
                return step
            try:
                with anyio.fail_after(self._deadline):
                    reply: _Reply = await self._async_client(state).send(
                        step.request, auth=None, follow_redirects=False
                    )
            except TimeoutError:
                reply = _timed_out(step.request)
            except httpx.HTTPError as exc:
                reply = exc
            return self._finish(step, reply)
        finally:
            self._thread_lock.release()
            state.lock.release()

    async def _hold_thread_lock(self) -> None:
        """Take the lock every thread and event loop fetches under, without blocking the loop.

        One task per loop gets here (the loop's own lock queues the rest);
        it polls, so a fetch running in another thread or loop is shared
        instead of repeated, and gives up after the holder's deadline.
        """
        delay, waited = 0.001, 0.0
        while not self._thread_lock.acquire(blocking=False):
            if waited > self._wait_limit:
                raise self._busy()
            await anyio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.02)

    def _busy(self) -> TokenRequestError:
        return TokenRequestError(
            f"Another token request to {self._token_url} did not finish within "
            f"{self._wait_limit:.0f} s."
        )

    def _loop_state(self) -> _LoopState:
        # anyio locks and async clients belong to one event loop, so each loop
        # gets its own; no await between the lookup and the set keeps it single.
        state = self._per_loop.get(None)
        if state is None:
            state = _LoopState(anyio.Lock())
            self._per_loop.set(state)
        return state

    def _async_client(self, state: _LoopState) -> httpx.AsyncClient:
        if self._given_async_client is not None:
            return self._given_async_client
        if state.client is None:
            state.client = httpx.AsyncClient(follow_redirects=False)
        return state.client

    async def aclose(self) -> None:
        """Close the clients the auth created: this event loop's and the sync one."""
        state = self._per_loop.get(None)
        if state is not None and state.client is not None:
            await state.client.aclose()
            state.client = None
        self.close()


# -- helpers -------------------------------------------------------------------


def _prefix(token: str) -> str:
    """Enough of a token to tell tokens apart in logs, never the token."""
    return token[: min(8, len(token) // 4)] + "..."


def _check_url(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"Invalid token URL {url!r}.") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(f"The token URL must be an http(s) URL, got {url!r}.")
    if parsed.scheme == "http" and not _is_loopback(parsed.host):
        logger.warning("the token URL %s is plain http: the client secret travels unencrypted", url)
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_scopes(scopes: str | Iterable[str] | None) -> tuple[str, ...]:
    if scopes is None:
        return ()
    found = tuple(scopes.split() if isinstance(scopes, str) else scopes)
    for scope in found:
        if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
            raise ConfigurationError(f"Invalid scope {scope!r} (RFC 6749 §3.3).")
    return found


def _check_extra_params(params: Mapping[str, str] | None) -> dict[str, str]:
    found = dict(params or {})
    for name, value in found.items():
        if name in _RESERVED_PARAMS:
            raise ConfigurationError(f"extra_params may not set {name!r}; use the arguments.")
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise ConfigurationError("extra_params must map non-empty names to strings.")
    return found


def _timed_out(request: httpx.Request) -> httpx.TimeoutException:
    return httpx.ReadTimeout("the token request exceeded its deadline", request=request)


def _check_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigurationError("timeout must be a positive number of seconds.")
    return httpx.Timeout(timeout)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
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
