"""A route's own verifier is never bypassed by claims another verifier produced.

Every case puts a route guard with verifier B behind a "middleware" that
verified the request with verifier A first: ``M2MGuardMiddleware`` (ASGI) in
front of ``require_scopes`` / ``M2MBearer``, an app-wide ``M2MBearer``
dependency in front of a route's, ``m2m_guard.wsgi.M2MGuardMiddleware`` in
front of a Flask decorator or protected blueprint, and one ``M2MGuard``'s
blueprint in front of another ``M2MGuard``'s decorator on the same app.

A accepts audiences "a" and "b", reads the client from ``sub`` and scopes
from ``scope``. B accepts only audience "b", tokens at most 300 s old, reads
the client from ``azp`` and scopes from ``scp``. So a token A accepts can be
one B refuses (audience, age, scopes), and the client id the handler sees
tells whose claims it got. Verifications are counted with the verifiers'
``on_event`` hook: ``TokenVerified`` is emitted once per check (a token
cache hit included), never for claims a guard reuses.
"""

# No "from __future__ import annotations": FastAPI reads the route
# annotations below at runtime, and they name local variables.
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security
from flask import Blueprint, Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from m2m_guard import M2MClaims, Verifier
from m2m_guard.asgi import M2MGuardMiddleware, get_claims
from m2m_guard.events import Event, TokenVerified
from m2m_guard.fastapi import M2MBearer, install
from m2m_guard.flask import M2MGuard, get_current_client
from m2m_guard.starlette import attach_claims, require_scopes
from m2m_guard.wsgi import M2MGuardMiddleware as WSGIGuardMiddleware
from tests.integrations._harness import Reply
from tests.integrations._harness_asgi import bearer, request, websocket
from tests.integrations._harness_wsgi import call
from tests.support.clock import FakeClock
from tests.support.keys import CLIENT_ID, ISSUER, SigningKey, jwks_of, stytch_claims

ROUTE_CLIENT = "route-view-of-the-client"  # the client id B reads (from azp)
Headers = list[tuple[str, str]]
Send_ = Callable[[Headers], Reply]


@dataclass
class Counted:
    """A verifier and the ``TokenVerified`` events it emitted."""

    verifier: Verifier
    events: list[Event] = field(default_factory=list)

    @property
    def verified(self) -> int:
        """How many times a token passed this verifier (cache hits included)."""
        return sum(isinstance(event, TokenVerified) for event in self.events)


def counted(rsa_key: SigningKey, clock: Callable[[], float], **options: Any) -> Counted:
    events: list[Event] = []
    verifier = Verifier(
        issuer=ISSUER, jwks=jwks_of(rsa_key), clock=clock, on_event=events.append, **options
    )
    return Counted(verifier, events)


@pytest.fixture
def outer(rsa_key: SigningKey, clock: FakeClock) -> Counted:
    """Verifier A, the middleware's: audiences a and b, no age limit."""
    return counted(
        rsa_key, clock, audience=["a", "b"], client_id_claims=("sub",), scope_claims=("scope",)
    )


@pytest.fixture
def route(rsa_key: SigningKey, clock: FakeClock) -> Counted:
    """Verifier B, the route's: audience b only, at most 300 s old."""
    return counted(
        rsa_key,
        clock,
        audience="b",
        max_token_age=300,
        client_id_claims=("azp",),
        scope_claims=("scp",),
    )


def mint(
    rsa_key: SigningKey,
    now: float,
    aud: str,
    *,
    age: float = 0,
    scope: str = "read:b",
    scp: Any = "read:b",
) -> str:
    """A token for ``aud`` issued ``age`` seconds before ``now``."""
    claims = stytch_claims(now - age, aud=[aud], azp=ROUTE_CLIENT, scope=scope, scp=scp)
    return rsa_key.sign(claims)


# -- the applications: a guard of "outer", then the route's guard of "route" ----


def identity(claims: M2MClaims | None) -> dict[str, Any]:
    return {"client_id": claims.client_id if claims else None}


def asgi_sender(app: Any) -> Send_:
    def send(headers: Headers) -> Reply:
        response = request(app, "/r", headers)
        return Reply(response.status_code, dict(response.headers), response.json())

    return send


def flask_sender(app: Flask) -> Send_:
    client = app.test_client()

    def send(headers: Headers) -> Reply:
        response = client.get("/r", headers=headers)
        lowered = {name.lower(): value for name, value in response.headers.items()}
        return Reply(response.status_code, lowered, response.get_json(silent=True))

    return send


def starlette_async(outer: Verifier, route: Verifier) -> Send_:
    """M2MGuardMiddleware(outer) + @require_scopes(verifier=route) on an async endpoint."""

    @require_scopes("read:b", verifier=route)
    async def endpoint(request: Request) -> JSONResponse:
        # Everything the request exposes is the route verifier's view of the caller.
        assert request.user.identity == get_claims(request).client_id  # type: ignore[union-attr]
        return JSONResponse(identity(get_claims(request)))

    stack = [Middleware(M2MGuardMiddleware, verifier=outer)]
    return asgi_sender(Starlette(routes=[Route("/r", endpoint)], middleware=stack))


def starlette_sync(outer: Verifier, route: Verifier) -> Send_:
    """The same with a sync endpoint (the decorator's other code path)."""

    @require_scopes("read:b", verifier=route)
    def endpoint(request: Request) -> JSONResponse:
        return JSONResponse(identity(get_claims(request)))

    stack = [Middleware(M2MGuardMiddleware, verifier=outer)]
    return asgi_sender(Starlette(routes=[Route("/r", endpoint)], middleware=stack))


def fastapi_middleware(outer: Verifier, route: Verifier) -> Send_:
    """M2MGuardMiddleware(outer) + Security(M2MBearer(route))."""
    guard = M2MBearer(route)
    app = install(FastAPI())
    app.add_middleware(M2MGuardMiddleware, verifier=outer)

    @app.get("/r")
    async def endpoint(
        request: Request, claims: Annotated[M2MClaims, Security(guard, scopes=["read:b"])]
    ) -> dict[str, Any]:
        assert get_claims(request) is claims  # the request carries the route's claims
        return identity(claims)

    return asgi_sender(app)


def fastapi_dependency_chain(outer: Verifier, route: Verifier) -> Send_:
    """An app-wide Security(M2MBearer(outer)) + the route's Security(M2MBearer(route))."""
    guard = M2MBearer(route)
    app = install(FastAPI(dependencies=[Security(M2MBearer(outer))]))

    @app.get("/r")
    async def endpoint(
        claims: Annotated[M2MClaims, Security(guard, scopes=["read:b"])],
    ) -> dict[str, Any]:
        return identity(claims)

    return asgi_sender(app)


def flask_decorator(outer: Verifier, route: Verifier) -> Send_:
    """wsgi.M2MGuardMiddleware(outer) on app.wsgi_app + @M2MGuard(route).require_scopes."""
    app = Flask(__name__)
    app.wsgi_app = WSGIGuardMiddleware(app.wsgi_app, verifier=outer)  # type: ignore[method-assign]
    guard = M2MGuard(app, verifier=route)

    @app.get("/r")
    @guard.require_scopes("read:b")
    def view() -> dict[str, Any]:
        return identity(get_current_client())

    return flask_sender(app)


def flask_blueprint(outer: Verifier, route: Verifier) -> Send_:
    """wsgi.M2MGuardMiddleware(outer) + M2MGuard(route).protect_blueprint."""
    app = Flask(__name__)
    app.wsgi_app = WSGIGuardMiddleware(app.wsgi_app, verifier=outer)  # type: ignore[method-assign]
    guard = M2MGuard(app, verifier=route)
    api = Blueprint("api", __name__)
    api.add_url_rule("/r", view_func=lambda: identity(get_current_client()))
    guard.protect_blueprint(api, required_scopes="read:b")
    app.register_blueprint(api)
    return flask_sender(app)


def flask_two_extensions(outer: Verifier, route: Verifier) -> Send_:
    """M2MGuard(outer) protects the blueprint, M2MGuard(route) decorates its view.

    The route's extension is bound to the app first, so the outer one is the
    last bound (the one ``app.extensions["m2m_guard"]`` names).
    """
    app = Flask(__name__)
    route_guard = M2MGuard(app, verifier=route)
    outer_guard = M2MGuard(app, verifier=outer)
    api = Blueprint("api", __name__)

    @api.get("/r")
    @route_guard.require_scopes("read:b")
    def view() -> dict[str, Any]:
        return identity(get_current_client())

    outer_guard.protect_blueprint(api)
    app.register_blueprint(api)
    return flask_sender(app)


FRAMEWORKS = pytest.mark.parametrize(
    "build",
    [
        starlette_async,
        starlette_sync,
        fastapi_middleware,
        fastapi_dependency_chain,
        flask_decorator,
        flask_blueprint,
        flask_two_extensions,
    ],
)

INVALID_TOKEN = 'Bearer realm="api", error="invalid_token", error_description='


@FRAMEWORKS
@pytest.mark.parametrize(
    ("token_options", "status", "challenge"),
    [
        pytest.param({"aud": "a"}, 401, INVALID_TOKEN, id="audience"),
        pytest.param({"aud": "b", "age": 600}, 401, INVALID_TOKEN, id="max_token_age"),
        pytest.param(
            {"aud": "b", "scp": ...},
            403,
            'Bearer realm="api", error="insufficient_scope", error_description=',
            id="scopes",
        ),
    ],
)
def test_a_token_only_the_middleware_accepts_gets_the_route_verifier_error(
    build: Callable[[Verifier, Verifier], Send_],
    token_options: dict[str, Any],
    status: int,
    challenge: str,
    outer: Counted,
    route: Counted,
    rsa_key: SigningKey,
    clock: FakeClock,
) -> None:
    """The middleware accepts the token (A), the route's verifier B refuses it:
    the answer is B's 401/403 with its WWW-Authenticate challenge, never the
    handler and never a 500."""
    send = build(outer.verifier, route.verifier)
    token = mint(rsa_key, clock(), **token_options)

    reply = send(bearer(token))

    assert outer.verified == 1  # the middleware let it through …
    assert reply.status == status  # … the route did not
    assert reply.headers["www-authenticate"].startswith(challenge)
    assert reply.json["error"] == challenge.split('error="')[1].split('"')[0]
    if status == 403:
        assert reply.headers["www-authenticate"].endswith('scope="read:b"')


@FRAMEWORKS
def test_the_handler_sees_the_route_verifier_principal(
    build: Callable[[Verifier, Verifier], Send_],
    outer: Counted,
    route: Counted,
    rsa_key: SigningKey,
    clock: FakeClock,
) -> None:
    """A token both accept reaches the handler with B's claims (client id from
    azp), not A's (from sub): the route verified it itself."""
    send = build(outer.verifier, route.verifier)

    reply = send(bearer(mint(rsa_key, clock(), "b")))

    assert reply.status == 200
    assert reply.json == {"client_id": ROUTE_CLIENT}
    assert (outer.verified, route.verified) == (1, 1)


@FRAMEWORKS
def test_a_shared_verifier_verifies_once_per_request(
    build: Callable[[Verifier, Verifier], Send_],
    outer: Counted,
    rsa_key: SigningKey,
    clock: FakeClock,
) -> None:
    """Middleware and route with the same verifier object: the route reuses the
    middleware's claims (scopes still checked) and nothing is verified twice."""
    send = build(outer.verifier, outer.verifier)
    token = bearer(mint(rsa_key, clock(), "a", scope="read:b"))

    for requests in (1, 2):  # a full verification, then a token cache hit
        reply = send(token)
        assert reply.status == 200
        assert reply.json == {"client_id": CLIENT_ID}
        assert outer.verified == requests

    refused = send(bearer(mint(rsa_key, clock(), "a", scope="read:other")))
    assert refused.status == 403
    assert refused.headers["www-authenticate"].endswith('scope="read:b"')


# -- cases one framework has -----------------------------------------------------


def test_a_websocket_route_with_its_own_verifier_is_refused_before_accept(
    outer: Counted, route: Counted, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Behind M2MGuardMiddleware(A), a websocket the route's B refuses is denied
    with B's 401 before it is accepted."""
    accepted: list[bool] = []

    @require_scopes(verifier=route.verifier)
    async def endpoint(ws: WebSocket) -> None:
        accepted.append(True)
        await ws.accept()
        await ws.close()

    app = Starlette(
        routes=[WebSocketRoute("/ws", endpoint)],
        middleware=[Middleware(M2MGuardMiddleware, verifier=outer.verifier)],
    )
    sent = websocket(app, "/ws", bearer(mint(rsa_key, clock(), "a")))

    assert outer.verified == 1
    assert accepted == []
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 401


def test_nested_middlewares_do_not_hand_the_outer_claims_to_the_inner_verifier(
    outer: Counted, route: Counted, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """An inner M2MGuardMiddleware(B) that excludes a path still names B as the
    verifier of its routes; claims the outer middleware (A) attached are not B's,
    so a plain @require_scopes() there verifies with B."""

    @require_scopes()
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse(identity(get_claims(request)))

    inner = M2MGuardMiddleware(
        Starlette(routes=[Route("/r", endpoint)]),
        verifier=route.verifier,
        exclude_paths=["/r"],
    )
    app = M2MGuardMiddleware(inner, verifier=outer.verifier)

    refused = request(app, "/r", bearer(mint(rsa_key, clock(), "a")))
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_token")
    accepted = request(app, "/r", bearer(mint(rsa_key, clock(), "b")))
    assert accepted.json() == {"client_id": ROUTE_CLIENT}


def test_claims_attached_without_a_verifier_are_never_reused(
    route: Counted, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """attach_claims without naming the verifier (an app's own middleware) gives
    claims no guard trusts: require_scopes verifies the request's token itself."""
    some_claims = route.verifier.verify(mint(rsa_key, clock(), "b"))

    class AttachesClaims:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            attach_claims(scope, some_claims)
            await self.app(scope, receive, send)

    @require_scopes("read:b", verifier=route.verifier)
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse(identity(get_claims(request)))

    app = Starlette(routes=[Route("/r", endpoint)], middleware=[Middleware(AttachesClaims)])
    assert request(app, "/r").status_code == 401
    assert request(app, "/r", bearer("not-a-jwt")).status_code == 401
    assert request(app, "/r", bearer(mint(rsa_key, clock(), "a"))).status_code == 401


@pytest.mark.parametrize("route_first", [True, False], ids=["route-bound-first", "route-last"])
def test_each_flask_extension_keeps_its_own_verifier(
    route_first: bool, outer: Counted, route: Counted, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """Two M2MGuard bound to one app, in either order: the blueprint guarded by
    A's extension accepts what A accepts, the view decorated by B's checks B."""
    app = Flask(__name__)
    if route_first:
        route_guard = M2MGuard(app, verifier=route.verifier)
        outer_guard = M2MGuard(app, verifier=outer.verifier)
    else:
        outer_guard = M2MGuard(app, verifier=outer.verifier)
        route_guard = M2MGuard(app, verifier=route.verifier)
    api = Blueprint("api", __name__)
    api.add_url_rule("/plain", "plain", lambda: identity(get_current_client()))
    api.add_url_rule(
        "/r", "r", route_guard.require_scopes()(lambda: identity(get_current_client()))
    )
    outer_guard.protect_blueprint(api)
    app.register_blueprint(api)
    client = app.test_client()
    for_a = {"Authorization": f"Bearer {mint(rsa_key, clock(), 'a')}"}

    assert client.get("/plain", headers=for_a).json == {"client_id": CLIENT_ID}
    assert client.get("/r", headers=for_a).status_code == 401


def test_flask_verifier_from_app_config_is_not_bypassed_by_the_wsgi_middleware(
    outer: Counted, rsa_key: SigningKey
) -> None:
    """M2MGuard(app) configured by M2M_GUARD_* (audience b) behind a WSGI
    middleware that accepts a and b: the configured verifier decides."""
    app = Flask(__name__)
    app.config.update(
        M2M_GUARD_ISSUER=ISSUER,
        M2M_GUARD_AUDIENCE="b",
        M2M_GUARD_JWKS=json.dumps(jwks_of(rsa_key)),
        M2M_GUARD_CLIENT_ID_CLAIMS="azp",
    )
    guard = M2MGuard(app)
    middleware = counted(rsa_key, time.time, audience=["a", "b"])  # the config reads real time
    app.wsgi_app = WSGIGuardMiddleware(app.wsgi_app, verifier=middleware.verifier)  # type: ignore[method-assign]

    @app.get("/r")
    @guard.require_scopes()
    def view() -> dict[str, Any]:
        return identity(get_current_client())

    send = flask_sender(app)
    refused = send(bearer(mint(rsa_key, time.time(), "a")))
    assert (refused.status, refused.json["error"]) == (401, "invalid_token")
    assert send(bearer(mint(rsa_key, time.time(), "b"))).json == {"client_id": ROUTE_CLIENT}
    assert middleware.verified == 2


def test_the_recorded_verifier_sits_next_to_the_claims(
    outer: Counted, rsa_key: SigningKey, clock: FakeClock
) -> None:
    """The ASGI middleware records its verifier in scope["state"], the WSGI one
    in the environ, both under "m2m_guard.verified_by"."""
    seen: dict[str, Mapping[str, Any]] = {}

    async def asgi_endpoint(request: Request) -> JSONResponse:
        seen["state"] = request.scope["state"]
        return JSONResponse({})

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["environ"] = environ
        start_response("200 OK", [("content-type", "application/json")])
        return [b"{}"]

    token = mint(rsa_key, clock(), "a")
    asgi = M2MGuardMiddleware(
        Starlette(routes=[Route("/r", asgi_endpoint)]), verifier=outer.verifier
    )
    assert request(asgi, "/r", bearer(token)).status_code == 200
    wsgi = WSGIGuardMiddleware(wsgi_app, verifier=outer.verifier)
    assert call(wsgi, "/r", bearer(token)).status == 200

    assert seen["state"]["m2m_guard.verified_by"] is outer.verifier
    assert seen["environ"]["m2m_guard.verified_by"] is outer.verifier
    assert isinstance(seen["state"]["m2m"], M2MClaims)
