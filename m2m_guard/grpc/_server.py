"""The server interceptors: ``grpc.Server`` (threads) and ``grpc.aio.Server``.

Each call is decided in ``intercept_service``, from the call's metadata,
before the server reads a request message: a refused call is answered by a
handler that reads none (the servicer never runs, a streaming call is
refused before its first message, and an unknown method is refused like a
known one rather than answered ``UNIMPLEMENTED`` to a stranger). The
decision is the ``Guard``'s (the verifier's fast lane: a token verified
before costs a dictionary lookup); the interceptor only translates it into
a gRPC status and keeps the claims where ``get_claims(context)`` finds them.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import grpc

from m2m_guard._guard import Guard
from m2m_guard._sansio.checks import Check
from m2m_guard._sansio.claims import M2MClaims
from m2m_guard._sansio.errors import M2MGuardError
from m2m_guard._types import TokenVerifier

from ._methods import (
    UNEXPECTED,
    MethodRules,
    Refusal,
    Scopes,
    authorization_of,
    refusal,
    request_context,
)

__all__ = ["AsyncM2MServerInterceptor", "M2MServerInterceptor", "get_claims"]

logger = logging.getLogger("m2m_guard.grpc")

# id(servicer context) -> the call's claims, while the servicer runs. (The
# aio context takes neither attributes nor weak references.)
_CLAIMS: dict[int, M2MClaims | None] = {}


def get_claims(context: Any) -> M2MClaims | None:
    """The verified caller of the call whose servicer ``context`` this is;
    ``None`` on a public method (or an anonymous call when ``optional``)."""
    return _CLAIMS.get(id(context))


class _Base:
    """What both interceptors share: the rules, and the decision's translation."""

    #: whether checks must be plain functions (the thread-pool server)
    _synchronous = False

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        methods: Mapping[str, Scopes] | None = None,
        default: Scopes = (),
        public_methods: Iterable[str] = (),
        optional: bool = False,
        realm: str = "api",
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        max_token_age: float | None = None,
        checks: Iterable[Check] | None = None,
    ) -> None:
        options = {
            "optional": optional,
            "realm": realm,
            "audience": audience,
            "issuer": issuer,
            "max_token_age": max_token_age,
            "checks": checks,
        }
        self._rules = MethodRules(verifier, methods or {}, default, public_methods, options)
        if self._synchronous:
            self._rules.default.require_sync(f"m2m_guard.grpc.{type(self).__name__}")


def _refused(exc: BaseException, guard: Guard) -> Refusal:
    if isinstance(exc, M2MGuardError):
        return refusal(exc, guard.realm)
    logger.error("the gRPC call could not be authenticated", exc_info=exc)
    return UNEXPECTED


def _kind(handler: Any) -> str:
    return ("stream_" if handler.request_streaming else "unary_") + (
        "stream" if handler.response_streaming else "unary"
    )


_FACTORIES: dict[str, Callable[..., Any]] = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


def _rebuilt(handler: Any, kind: str, behaviour: Callable[..., Any]) -> Any:
    return _FACTORIES[kind](
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


# -- grpc.Server ---------------------------------------------------------------


def _sync_denial(answer: Refusal) -> Callable[..., Any]:
    def deny(requests: Any, context: Any) -> Any:
        context.set_trailing_metadata(answer.trailing)
        context.abort(answer.code, answer.details)

    return deny


def _sync_with_claims(behaviour: Callable[..., Any], claims: M2MClaims | None, kind: str) -> Any:
    if kind.endswith("_stream"):

        def streaming(request: Any, context: Any) -> Iterator[Any]:
            key = id(context)
            _CLAIMS[key] = claims
            try:
                yield from behaviour(request, context)
            finally:
                _CLAIMS.pop(key, None)

        return streaming

    def unary(request: Any, context: Any) -> Any:
        key = id(context)
        _CLAIMS[key] = claims
        try:
            return behaviour(request, context)
        finally:
            _CLAIMS.pop(key, None)

    return unary


class M2MServerInterceptor(_Base, grpc.ServerInterceptor):  # type: ignore[misc]
    """Require a valid token on every call of a ``grpc.Server`` (threads).

    ``methods`` maps full method names (``/pkg.Service/Method``) or service
    globs (``/pkg.Service/*``) to the scopes they need (a scope, several,
    or ``MethodScopes(required=…, any_of=…)``); other methods need
    ``default``; ``public_methods`` need no token. ``audience``, ``issuer``,
    ``max_token_age`` and ``checks`` narrow the verifier's rules as on any
    route.

    Raises:
        ConfigurationError: an invalid rule, or an ``async`` check (use
            ``AsyncM2MServerInterceptor`` on a ``grpc.aio`` server).
    """

    _synchronous = True

    def intercept_service(
        self, continuation: Callable[[Any], Any], handler_call_details: Any
    ) -> Any:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        guard = self._rules.guard_for(method)
        if guard is None:
            claims = None
        else:
            metadata = handler_call_details.invocation_metadata
            try:
                authorization = authorization_of(metadata)
                context = request_context(method, metadata) if guard.needs_request else None
                claims = guard.cached(authorization, method, context)
                if claims is None:
                    claims = guard.check(authorization, method, context)
            except Exception as exc:
                return grpc.stream_stream_rpc_method_handler(_sync_denial(_refused(exc, guard)))
        if handler is None:
            return None  # UNIMPLEMENTED, once the caller is known
        kind = _kind(handler)
        return _rebuilt(handler, kind, _sync_with_claims(getattr(handler, kind), claims, kind))


# -- grpc.aio.Server -----------------------------------------------------------


def _aio_denial(answer: Refusal) -> Callable[..., Any]:
    async def deny(requests: Any, context: Any) -> None:
        await context.abort(answer.code, answer.details, answer.trailing)

    return deny


def _aio_with_claims(behaviour: Callable[..., Any], claims: M2MClaims | None, kind: str) -> Any:
    if not (inspect.iscoroutinefunction(behaviour) or inspect.isasyncgenfunction(behaviour)):
        # a plain function: grpc.aio runs it in its thread pool, so must the wrapper
        return _sync_with_claims(behaviour, claims, kind)
    if kind.endswith("_stream"):

        async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
            key = id(context)
            _CLAIMS[key] = claims
            try:
                result = behaviour(request, context)
                if hasattr(result, "__aiter__"):
                    async for message in result:
                        yield message
                else:
                    await result  # the servicer writes with context.write()
            finally:
                _CLAIMS.pop(key, None)

        return streaming

    async def unary(request: Any, context: Any) -> Any:
        key = id(context)
        _CLAIMS[key] = claims
        try:
            return await behaviour(request, context)
        finally:
            _CLAIMS.pop(key, None)

    return unary


class AsyncM2MServerInterceptor(_Base, grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """``M2MServerInterceptor`` for a ``grpc.aio.Server``: keys are fetched
    without blocking the event loop, and checks may be ``async def``."""

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], handler_call_details: Any
    ) -> Any:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        guard = self._rules.guard_for(method)
        if guard is None:
            claims = None
        else:
            metadata = handler_call_details.invocation_metadata
            try:
                authorization = authorization_of(metadata)
                context = request_context(method, metadata) if guard.needs_request else None
                claims = guard.cached(authorization, method, context)
                if claims is None:
                    claims = await guard.check_async(authorization, method, context)
            except Exception as exc:
                return grpc.stream_stream_rpc_method_handler(_aio_denial(_refused(exc, guard)))
        if handler is None:
            return None
        kind = _kind(handler)
        return _rebuilt(handler, kind, _aio_with_claims(getattr(handler, kind), claims, kind))
