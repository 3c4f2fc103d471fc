"""Flask integration: an extension, a view decorator and ``current_client``.

    guard = M2MGuard(app)           # M2M_GUARD_* from app.config, or verifier=…

    @app.get("/settings")
    @guard.require_scopes("read:settings")
    def settings():
        return {"client_id": current_client.client_id}

    guard.protect_blueprint(admin_bp, required_scopes="admin:settings")

A rejected request raises ``M2MGuardHTTPException``: like ``abort(response)``
it is an ``HTTPException`` without a ``code`` that carries its finished
RFC 6750 response, which Flask returns as it is. So an
``errorhandler(Exception)``, ``errorhandler(HTTPException)`` or
``errorhandler(401)`` of the application never turns it into something
else, while ``after_request`` functions (CORS …) still run on it. With
``TRAP_HTTP_EXCEPTIONS`` set, the handler ``init_app`` registers renders it.

Every ``M2MGuard`` verifies with its own verifier, also when several are
bound to one application (a blueprint guarded by one, a view by another).
Claims already verified in the request, by a blueprint guard, a decorator or
``m2m_guard.wsgi.M2MGuardMiddleware`` around ``app.wsgi_app``, are kept with
the verifier that produced them (on ``flask.g``, in the environ) and reused,
scopes checked, only by a guard with that same verifier object. A guard with
another verifier checks the token again (its token cache keeps that cheap):
a token it refuses gets its own 401/403, and the claims it accepts become
``current_client``. With one shared verifier a request is verified once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from ._extras import missing_extra

try:
    from flask import Blueprint, Flask, current_app, request
    from werkzeug.wrappers import Response
except ImportError as _error:
    raise missing_extra("m2m_guard.flask", "flask", _error) from _error

from ._flask_auth import (
    M2MGuardHTTPException,
    authenticate,
    current_client,
    get_current_client,
)
from ._flask_setup import (
    Rule,
    State,
    configured_verifier,
    misplaced_decorator,
    rule_of,
    wants_keys,
)
from ._flask_setup import require_keys as fetch_keys_now
from ._guard import PathMatcher
from ._sansio.checks import Check
from ._sansio.errors import ConfigurationError
from ._sansio.scopes import normalize_scopes
from ._types import TokenVerifier

__all__ = [
    "EXTENSION_KEY",
    "M2MGuard",
    "M2MGuardHTTPException",
    "current_client",
    "get_current_client",
]

#: The key of the per-application state in ``app.extensions`` (of the
#: ``M2MGuard`` bound last, when there are several).
EXTENSION_KEY = "m2m_guard"
#: ``app.extensions`` entry mapping each bound ``M2MGuard`` to its own state.
_BOUND_KEY = "m2m_guard.bound"
_NONE: dict[Any, Any] = {}  # (never written to)

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


#: On a view function: the ``M2MGuard``s that marked it public / decorated it
#: (copied by ``functools.wraps`` onto outer wrappers, so still found there).
_PUBLIC_ATTR = "_m2m_guard_public"
_DECORATED_ATTR = "_m2m_guard_decorated"
_ALL = Rule()


class M2MGuard:
    """Verifies M2M access tokens for a Flask application.

    Args:
        app: the application, or ``None`` to call ``init_app`` later (the
            application-factory pattern: ``guard = M2MGuard()`` at module
            level, ``guard.init_app(app, verifier=…)`` in the factory).
        verifier: the verifier to use; without it (here and in ``init_app``),
            ``init_app`` builds one from the application's ``M2M_GUARD_*``
            configuration, else from the ``M2M_GUARD_*`` environment
            variables (the names ``Verifier.from_env`` reads).
        realm: the ``realm`` of the ``WWW-Authenticate`` challenge.
        protect_all: deny by default: every request needs a valid token,
            except for views marked ``@guard.public``, the application's
            static files and automatic ``OPTIONS`` answers. Views decorated
            with ``require_scopes`` apply their own rule. An unknown route
            (404, 405, a trailing-slash redirect) answers 401 without a
            token, so the route map cannot be probed anonymously; with a
            valid token the application's 404/405 (and its error handlers)
            answer as usual.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        verifier: TokenVerifier | None = None,
        realm: str = "api",
        protect_all: bool = False,
    ) -> None:
        self.verifier = verifier
        self.realm = realm
        self.protect_all = protect_all
        # Every view function this guard decorated or marked (order checks).
        self._decorated: list[Callable[..., Any]] = []
        # Every rule of its decorators and blueprints, and every app it is bound to.
        self._rules: list[Rule] = []
        self._states: list[State] = []
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        verifier: TokenVerifier | None = None,
        *,
        require_keys: bool | None = None,
    ) -> None:
        """Attach to ``app``; invalid configuration raises ``ConfigurationError`` here.

        Args:
            app: the application.
            verifier: overrides the constructor's; without either, one is
                built from ``app.config``'s ``M2M_GUARD_*`` settings or, when
                it has none, from the ``M2M_GUARD_*`` environment variables.
            require_keys: fetch the keys now and fail (``KeysUnavailableError``
                with the reason) when there are none, so that a wrong JWKS URL
                fails the deploy. ``None`` reads
                ``M2M_GUARD_REQUIRE_KEYS_AT_STARTUP`` from ``app.config``, then
                from the environment (default off).
        """
        verifier = verifier if verifier is not None else self.verifier
        if verifier is None:
            verifier = configured_verifier(app.config)
        state = State(verifier, self.realm)
        state.guard(_ALL)  # checks the verifier now rather than on the first request
        for rule in self._rules:  # and every rule of a decorator or blueprint
            state.guard(rule)
        self._states.append(state)
        if app.has_static_folder:
            state.static_view = app.view_functions.get("static")
        if wants_keys(app.config, require_keys):
            fetch_keys_now(verifier)
        app.extensions[EXTENSION_KEY] = state
        # Keyed by this extension: another M2MGuard bound to the same app
        # must not replace the verifier of this one's views and blueprints.
        app.extensions.setdefault(_BOUND_KEY, {})[self] = state
        app.register_error_handler(M2MGuardHTTPException, _render)
        app.before_request(self._before_request)

    def public(self, view: ViewT) -> ViewT:
        """Mark a view that needs no token under ``protect_all``.

        Put it directly above ``def`` (below ``@app.route``). It marks the
        function itself and returns it unchanged, so it never opens anything
        but that function: above ``@app.route`` it marks the very function
        the route registered (same effect); above another decorator that
        wrapped the registered view (``functools.wraps``), it would mark a
        function no route calls, and ``check_views`` refuses it on the first
        request. It does not exempt a view from ``protect_blueprint`` (use
        its ``exclude_paths``) nor from ``require_scopes``.
        """
        if not callable(view):
            raise TypeError("use @guard.public without parentheses, directly above def")
        marks = view.__dict__.setdefault(_PUBLIC_ATTR, set())
        marks.add(self)
        self._decorated.append(view)
        return view

    def check_views(self, app: Flask) -> None:
        """Refuse decorators of this guard placed above ``@app.route``.

        Run on the first request of ``app`` (and callable at start-up, after
        every blueprint is registered). ``@guard.require_scopes`` above
        ``@app.route`` leaves the route with the undecorated view, open
        unless ``protect_all``; ``@guard.public`` on a function the route
        does not reach is a marker without effect. Both are a
        ``ConfigurationError`` naming the view.

        Raises:
            ConfigurationError: a decorator of this guard is misplaced.
        """
        misplaced = misplaced_decorator(app.view_functions.values(), self._decorated)
        if misplaced is not None:
            name = getattr(misplaced, "__qualname__", repr(misplaced))
            public = self in getattr(misplaced, _PUBLIC_ATTR, ())
            marker = "@guard.public" if public else "@guard.require_scopes(...)"
            raise ConfigurationError(
                f"{marker} on {name} is not on the view the route registered: "
                "put it below @app.route (directly above def)"
            )

    def require_scopes(
        self,
        *scopes: str,
        any_of: bool = False,
        optional: bool = False,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        max_token_age: float | None = None,
        checks: Iterable[Check] | None = None,
        token_header: str | None = None,
        token_cookie: str | None = None,
    ) -> Callable[[ViewT], ViewT]:
        """Decorate a view (sync or async) to require a token with ``scopes``.

        Without scopes, any valid token is enough. With ``any_of``, one of
        the scopes is. With ``optional``, requests without a token reach the
        view with ``current_client`` empty; a token that is sent must pass.
        ``audience``, ``issuer``, ``max_token_age`` and ``checks`` narrow the
        verifier's rules for this view (README, "Custom checks and per-route
        rules"); a rule wider than the verifier's is a ``ConfigurationError``
        when the view is decorated or the extension bound, whichever is later.
        ``token_header`` / ``token_cookie`` read the token from that header or
        cookie instead of ``Authorization`` (one place only).
        """
        if scopes and callable(scopes[0]):
            raise TypeError("use @guard.require_scopes() with parentheses")
        wanted = normalize_scopes(scopes)
        narrowing = {
            "audience": audience,
            "issuer": issuer,
            "max_token_age": max_token_age,
            "token_header": token_header,
            "token_cookie": token_cookie,
        }
        rule = self._register(
            rule_of((), wanted, optional, checks=checks, **narrowing)  # type: ignore[arg-type]
            if any_of
            else rule_of(wanted, (), optional, checks=checks, **narrowing)  # type: ignore[arg-type]
        )

        def decorator(view: ViewT) -> ViewT:
            if not inspect.iscoroutinefunction(view):  # decided once, not per request

                @functools.wraps(view)
                def wrapper(*args: Any, **kwargs: Any) -> Any:
                    self._authenticate(rule)
                    return view(*args, **kwargs)

                return cast(ViewT, self._decorates(wrapper))

            @functools.wraps(view)
            def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                self._authenticate(rule)
                return current_app.ensure_sync(view)(*args, **kwargs)

            return cast(ViewT, self._decorates(async_wrapper))

        return decorator

    def protect_blueprint(
        self,
        blueprint: Blueprint,
        *,
        required_scopes: str | Iterable[str] = (),
        any_scopes: str | Iterable[str] = (),
        optional: bool = False,
        exclude_paths: str | Iterable[str] = (),
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        max_token_age: float | None = None,
        checks: Iterable[Check] | None = None,
        token_header: str | None = None,
        token_cookie: str | None = None,
    ) -> None:
        """Require a valid token for every request routed to ``blueprint``.

        ``exclude_paths`` are full request paths (with the blueprint's
        ``url_prefix``); ``"/api/public/*"`` is a prefix. ``audience``,
        ``issuer``, ``max_token_age`` and ``checks`` narrow the verifier's
        rules, and ``token_header`` / ``token_cookie`` locate the token, as in
        ``require_scopes``.
        """
        excluded = (exclude_paths,) if isinstance(exclude_paths, str) else tuple(exclude_paths)
        PathMatcher(excluded)  # a bad entry fails here, not on a request
        rule = self._register(
            rule_of(
                normalize_scopes(required_scopes),
                normalize_scopes(any_scopes),
                optional,
                excluded,
                audience=audience,
                issuer=issuer,
                max_token_age=max_token_age,
                checks=checks,
                token_header=token_header,
                token_cookie=token_cookie,
            )
        )
        blueprint.before_request(functools.partial(self._authenticate, rule))

    def _register(self, rule: Rule) -> Rule:
        """Keep ``rule``, and build its guard in every application bound so far
        (so a rule the verifier cannot honour fails now, not on a request)."""
        for state in self._states:
            state.guard(rule)
        self._rules.append(rule)
        return rule

    def _decorates(self, wrapper: Callable[..., Any]) -> Any:
        # functools.wraps shared the view's __dict__ entries: a set of our own.
        wrapper.__dict__[_DECORATED_ATTR] = {*getattr(wrapper, _DECORATED_ATTR, ()), self}
        self._decorated.append(wrapper)
        return wrapper

    def _before_request(self) -> None:
        """The order check once per application; then ``protect_all``."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        state = cast(State, app.extensions[_BOUND_KEY][self])
        if not state.checked:
            self.check_views(app)
            state.checked = True
        if not self.protect_all:
            return
        current = request._get_current_object()  # type: ignore[attr-defined]
        url_rule = current.url_rule
        if url_rule is not None and current.routing_exception is None:
            view = app.view_functions.get(url_rule.endpoint)
            if (
                view is not None
                and (
                    view is state.static_view
                    or _is_blueprint_static(view)
                    or self in getattr(view, _PUBLIC_ATTR, ())
                    or self in getattr(view, _DECORATED_ATTR, ())  # its own rule decides
                )
            ) or (current.method == "OPTIONS" and url_rule.provide_automatic_options):
                return
        # An unmarked view, an unknown route, a wrong method: a token first.
        self._authenticate(_ALL)

    def _authenticate(self, rule: Rule) -> None:
        """Check the current request against ``rule`` with this extension's verifier."""
        # One proxy lookup each: werkzeug's LocalProxy costs on every access.
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        state = app.extensions.get(_BOUND_KEY, _NONE).get(self)
        if state is None:
            raise RuntimeError("M2MGuard.init_app(app) was not called for this application")
        authenticate(cast(State, state).guard(rule))


def _is_blueprint_static(view: object) -> bool:
    return getattr(view, "__func__", None) is Blueprint.send_static_file


def _render(exc: M2MGuardHTTPException) -> Response:
    # Only reached when TRAP_HTTP_EXCEPTIONS sends HTTP exceptions to handlers.
    return exc.get_response()
