"""The demo's DPoP step: a sender-constrained token (RFC 9449) and how it is refused.

A client that must prove a key (``dpop_bound_access_tokens``) gets no token
without a proof, and a token bound to its key with one (``cnf.jkt``). The
API (``dpop="allowed"``) takes that token with a fresh proof, and refuses it
replayed, sent as a plain Bearer token, and with a proof by another key, as
a thief without the private key would have to send it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from m2m_guard._presets import stytch_token_url
from m2m_guard.client import DPoPKey

__all__ = ["dpop_step"]


class _Walk(Protocol):
    """What the step uses of the demo's walk-through (``demo._Walk``)."""

    issuer_url: str
    api_url: str
    project_id: str

    def say(self, text: str) -> None: ...
    def heading(self, text: str) -> None: ...
    def call(
        self,
        method: str,
        url: str,
        expect: int,
        *,
        note: str = "",
        summary: Callable[[dict[str, Any]], str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]: ...
    def project_call(
        self, method: str, path: str, expect: int, **kwargs: Any
    ) -> dict[str, Any]: ...
    def token(self, client_id: str, secret: str, expect: int = 200, **params: str) -> str: ...
    def api(self, method: str, path: str, token: str | None, expect: int) -> dict[str, Any]: ...


def _short(value: str, keep: int = 16) -> str:
    return value if len(value) <= keep + 3 else f"{value[:keep]}…"


def _bound_summary(body: dict[str, Any]) -> str:
    client = body["m2m_client"]
    return (
        f"client_id={client['client_id']} "
        f"dpop_bound_access_tokens={str(client['dpop_bound_access_tokens']).lower()}"
    )


def _dpop_api(walk: _Walk, token: str, proof: str, expect: int, note: str) -> None:
    headers = {"authorization": f"DPoP {token}", "dpop": proof}
    walk.call("GET", f"{walk.api_url}/whoami", expect, note=note, headers=headers)


def dpop_step(walk: _Walk) -> None:
    """Create a DPoP-bound client, get a bound token, use it, and see it refused."""
    walk.heading("A DPoP-bound token (RFC 9449): it works only with a proof by its key")
    created = walk.project_call(
        "POST",
        "/v1/m2m/clients",
        200,
        json={"scopes": ["read:settings"], "dpop_bound_access_tokens": True},
        summary=_bound_summary,
    )
    client_id = created["m2m_client"]["client_id"]
    secret = created["m2m_client"]["client_secret"]
    walk.token(client_id, secret, expect=400)  # no proof: invalid_dpop_proof
    key = DPoPKey.generate()
    token_url = stytch_token_url(walk.issuer_url, walk.project_id)
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    body = walk.call(
        "POST",
        token_url,
        200,
        note=f"(DPoP proof by key {_short(key.thumbprint)})",
        data=data,
        headers={"dpop": key.proof("POST", token_url)},
        summary=lambda body: (
            f"token_type={body['token_type']} access_token={_short(body['access_token'])}"
        ),
    )
    token = str(body["access_token"])
    url = f"{walk.api_url}/whoami"
    proof = key.proof("GET", url, access_token=token)
    _dpop_api(walk, token, proof, 200, "(DPoP token + a fresh proof)")
    _dpop_api(walk, token, proof, 401, "(the same proof again: a replay)")
    walk.api("GET", "/whoami", token, 401)  # the bound token as a Bearer token
    thief = DPoPKey.generate().proof("GET", url, access_token=token)
    _dpop_api(walk, token, thief, 401, "(stolen token, proof by another key)")
    walk.say("   (ClientCredentialsAuth(..., dpop=True) does all of this for a caller)")
