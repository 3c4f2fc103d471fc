"""``m2m-guard demo``: Stytch's M2M guide, end to end, on 127.0.0.1.

Starts the local issuer and a protected Starlette API on free loopback ports
(real uvicorn servers, in threads of this process), then walks the guide
over HTTP, printing every call and its answer: create a client, get a token,
call the API (allowed, and refused for a missing scope), deactivate and
reactivate the client, rotate its secret, use a DPoP-bound token (and see
it refused replayed, as Bearer, and stolen), delete it. Each step checks the
status it expects; the demo exits 1 at the first surprise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from m2m_guard._http import httpx
from m2m_guard._presets import stytch_token_url
from m2m_guard._verifier import Verifier
from m2m_guard.client import ClientCredentialsAuth
from m2m_guard.issuer import LocalIssuer, create_app
from m2m_guard.starlette import M2MGuardMiddleware, require_scopes

from .demo_dpop import dpop_step
from .server import ServerThread

__all__ = ["DemoFailed", "protected_app", "run_demo"]

SCOPES = ["read:settings", "write:settings"]


class DemoFailed(Exception):
    """A step of the demo did not answer as the guide says it should."""


def protected_app(verifier: Verifier) -> Any:
    """The examples' API: /health public, /whoami any token, /settings by scope."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def who(request: Request) -> JSONResponse:
        claims = request.state.m2m
        return JSONResponse(
            {
                "client_id": claims.client_id,
                "scopes": list(claims.scopes),
                "custom_claims": dict(claims.custom_claims),
            }
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/health", health),
        Route("/whoami", who),
        Route("/settings", require_scopes("read:settings")(who), methods=["GET"]),
        Route("/settings", require_scopes("write:settings")(who), methods=["POST"]),
    ]
    middleware = [Middleware(M2MGuardMiddleware, verifier=verifier, exclude_paths=["/health"])]
    return Starlette(routes=routes, middleware=middleware)


def _short(value: str, keep: int = 12) -> str:
    return value if len(value) <= keep + 3 else f"{value[:keep]}…"


class _Walk:
    """Prints and checks the calls of the walk-through."""

    def __init__(self, out: TextIO, issuer_url: str, api_url: str, project: tuple[str, str]):
        self.out = out
        self.http = httpx.Client(timeout=10.0)
        self.issuer_url, self.api_url = issuer_url, api_url
        self.project_id, self.project_secret = project
        self.step = 0

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def heading(self, text: str) -> None:
        self.step += 1
        self.say(f"\n{self.step}. {text}")

    def call(
        self,
        method: str,
        url: str,
        expect: int,
        *,
        note: str = "",
        summary: Callable[[dict[str, Any]], str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        shown = url.replace(self.issuer_url, "{issuer}").replace(self.api_url, "{api}")
        shown = shown.replace(self.project_id, "{project}")
        if kwargs.get("json"):
            note = json.dumps(kwargs["json"]) + (f"  {note}" if note else "")
        self.say(f"   {method} {shown}{f'  {note}' if note else ''}")
        response = self.http.request(method, url, **kwargs)
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        mark = "ok" if response.status_code == expect else "UNEXPECTED"
        ok = response.status_code == expect and response.is_success
        detail = summary(body) if summary and ok else _brief(body)
        self.say(f"   -> {response.status_code} {detail}  [{mark}]")
        challenge = response.headers.get("www-authenticate")
        if challenge and response.status_code >= 400:
            self.say(f"      WWW-Authenticate: {challenge}")
        if response.status_code != expect:
            raise DemoFailed(f"{method} {shown} answered {response.status_code}, expected {expect}")
        return body

    def project_call(self, method: str, path: str, expect: int, **kwargs: Any) -> dict[str, Any]:
        auth = (self.project_id, self.project_secret)
        url = f"{self.issuer_url}{path}"
        return self.call(method, url, expect, note="(Basic project:secret)", auth=auth, **kwargs)

    def token(self, client_id: str, secret: str, expect: int = 200, **params: str) -> str:
        url = stytch_token_url(self.issuer_url, self.project_id)
        data = {"grant_type": "client_credentials", "client_id": client_id}
        data.update(client_secret=secret, **params)
        scope = f", scope={params['scope']}" if "scope" in params else ""
        note = f"(client {_short(client_id, 20)}, secret …{secret[-4:]}{scope})"
        body = self.call("POST", url, expect, note=note, data=data, summary=_token_summary)
        return str(body.get("access_token", ""))

    def api(self, method: str, path: str, token: str | None, expect: int) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        note = f"(Bearer {_short(token, 16)})" if token else "(no token)"
        return self.call(method, f"{self.api_url}{path}", expect, note=note, headers=headers)


def _brief(body: dict[str, Any]) -> str:
    if "error" in body:
        return f"{body['error']}: {body.get('error_description') or body.get('error_message', '')}"
    if "error_type" in body:
        return f"{body['error_type']}: {body.get('error_message', '')}"
    if "client_id" in body and "scopes" in body:
        return f"client_id={body['client_id']} scopes={body['scopes']}"
    return _short(json.dumps(body), 100)


def _token_summary(body: dict[str, Any]) -> str:
    return f"access_token={_short(body['access_token'], 16)} expires_in={body['expires_in']}"


def _client_summary(body: dict[str, Any]) -> str:
    client = body["m2m_client"]
    parts = [f"client_id={client['client_id']}", f"status={client['status']}"]
    if "client_secret" in client:
        parts.append(f"client_secret=…{client['client_secret'][-4:]} (shown once)")
    if client.get("next_client_secret"):
        parts.append(f"next_client_secret=…{client['next_client_secret'][-4:]}")
    return " ".join(parts)


def _guide(walk: _Walk) -> None:
    walk.heading("Create an M2M client with scopes read:settings write:settings")
    created = walk.project_call(
        "POST",
        "/v1/m2m/clients",
        200,
        json={"client_name": "settings-sync", "scopes": SCOPES},
        summary=_client_summary,
    )
    client_id = created["m2m_client"]["client_id"]
    secret = created["m2m_client"]["client_secret"]
    client_path = f"/v1/m2m/clients/{client_id}"

    walk.heading("Get an access token (client credentials)")
    token = walk.token(client_id, secret)

    walk.heading("Call the protected API with it")
    walk.api("GET", "/health", None, 200)
    walk.api("GET", "/whoami", None, 401)
    walk.api("GET", "/whoami", token, 200)
    walk.api("GET", "/settings", token, 200)
    walk.api("POST", "/settings", token, 200)

    walk.heading("A token with only read:settings is refused where write:settings is needed")
    read_only = walk.token(client_id, secret, scope="read:settings")
    walk.api("GET", "/settings", read_only, 200)
    walk.api("POST", "/settings", read_only, 403)

    walk.heading("Deactivate the client: no new tokens, issued tokens stay valid until they expire")
    walk.project_call("PUT", client_path, 200, json={"status": "inactive"}, summary=_client_summary)
    walk.token(client_id, secret, expect=401)
    walk.api("GET", "/settings", token, 200)

    walk.heading("Reactivate it")
    walk.project_call("PUT", client_path, 200, json={"status": "active"}, summary=_client_summary)
    walk.token(client_id, secret)

    walk.heading("Rotate the secret: start (both work), complete (only the new one works)")
    rotating = walk.project_call(
        "POST", f"{client_path}/secrets/rotate/start", 200, json={}, summary=_client_summary
    )
    new_secret = rotating["m2m_client"]["next_client_secret"]
    walk.token(client_id, secret)
    walk.token(client_id, new_secret)
    walk.project_call(
        "POST", f"{client_path}/secrets/rotate", 200, json={}, summary=_client_summary
    )
    walk.token(client_id, secret, expect=401)
    fresh = walk.token(client_id, new_secret)

    walk.heading("The caller side: an httpx client with ClientCredentialsAuth")
    auth = ClientCredentialsAuth.for_stytch(
        walk.project_id, client_id, new_secret, environment=walk.issuer_url, scopes=SCOPES
    )
    with httpx.Client(auth=auth, base_url=walk.api_url, timeout=10.0) as caller:
        response = caller.get("/whoami")
        walk.say("   GET {api}/whoami  (the auth fetched and cached a token itself)")
        walk.say(f"   -> {response.status_code} {_brief(response.json())}")
        if response.status_code != 200:
            raise DemoFailed("ClientCredentialsAuth could not call the API")
    auth.close()

    dpop_step(walk)

    walk.heading("Delete the client")
    walk.project_call(
        "DELETE", client_path, 200, json={}, summary=lambda body: f"deleted {body['client_id']}"
    )
    walk.project_call("GET", client_path, 404)
    walk.token(client_id, new_secret, expect=401)
    walk.api("GET", "/whoami", fresh, 200)
    walk.say("   (tokens issued before the deletion stay valid until they expire;")
    walk.say("    use max_token_age on sensitive routes to bound that window)")


@contextmanager
def _servers() -> Iterator[tuple[ServerThread, ServerThread, LocalIssuer]]:
    issuer = LocalIssuer(":memory:")
    try:
        with ServerThread(create_app(issuer=issuer)) as issuer_server:
            verifier = Verifier.for_stytch(
                issuer.project_id, environment=issuer_server.base_url, dpop="allowed"
            )
            try:
                with ServerThread(protected_app(verifier)) as api_server:
                    yield issuer_server, api_server, issuer
            finally:
                verifier.close()
    finally:
        issuer.close()


def run_demo(out: TextIO) -> int:
    """Run the walk-through, printing to ``out``; returns the exit status."""
    with _servers() as (issuer_server, api_server, issuer):
        walk = _Walk(
            out,
            issuer_server.base_url,
            api_server.base_url,
            (issuer.project_id, issuer.project_secret),
        )
        walk.say("m2m-guard demo: Stytch's M2M guide against a local issuer")
        walk.say(f"   issuer  {issuer_server.base_url}  (project {issuer.project_id})")
        walk.say(f"   api     {api_server.base_url}  (Starlette + M2MGuardMiddleware)")
        try:
            _guide(walk)
        except DemoFailed as exc:
            walk.say(f"\nFAILED: {exc}")
            return 1
        finally:
            walk.http.close()
        walk.say(f"\nAll {walk.step} steps behaved as Stytch's guide describes.")
    return 0
