"""The caller side (``ClientCredentialsAuth``): what a DPoP proof per request costs it.

"caller, bearer" runs one request through the auth's sync flow with a warm
token: the header set, the response looked at. "caller, DPoP" is the same
with ``dpop=True``: ``Authorization: DPoP`` and a fresh ES256 proof (a new
``jti``, ``ath`` over the token) signed for every request. "DPoPKey.proof"
is the signing alone. No network: the token endpoint is an
``httpx.MockTransport`` asked once before timing, and each request's
response is made by hand.
"""

from __future__ import annotations

import itertools
from typing import Any

from benchmarks._timing import Batch, Case
from m2m_guard._http import httpx
from m2m_guard.client import ClientCredentialsAuth, DPoPKey

__all__ = ["CALLER_KEYS", "caller_cases"]

#: every item this module measures, in table order
CALLER_KEYS = ("caller_bearer", "caller_dpop", "caller_dpop_proof")
_URL = "https://api.example.com/orders?page=1"
_TOKEN = "eyJhbGciOiJSUzI1NiJ9." + "a" * 600 + ".sig"  # a Stytch-sized token


def _auth(dpop: bool) -> ClientCredentialsAuth:
    def endpoint(request: httpx.Request) -> httpx.Response:
        kind = "DPoP" if dpop else "bearer"
        return httpx.Response(
            200, json={"access_token": _TOKEN, "token_type": kind, "expires_in": 3600}
        )

    client = httpx.Client(transport=httpx.MockTransport(endpoint))
    auth = ClientCredentialsAuth(
        "https://issuer.example.com/token", "client", "secret", dpop=dpop, http_client=client
    )
    auth.get_token()  # warm: every timed request finds the token cached
    return auth


def _requests(auth: ClientCredentialsAuth) -> Any:
    ok = httpx.Response(200)

    def prepare() -> Batch:
        def batch(n: int) -> None:
            for _ in itertools.repeat(None, n):
                flow = auth.sync_auth_flow(httpx.Request("GET", _URL))
                next(flow)
                try:
                    flow.send(ok)
                except StopIteration:
                    continue
                raise AssertionError("the auth retried a 200")

        return batch

    return prepare


def caller_cases() -> list[Case]:
    """The caller-side items (see the module docstring)."""
    key = DPoPKey.generate()

    def proof_prepare() -> Batch:
        def batch(n: int) -> None:
            for _ in itertools.repeat(None, n):
                key.proof("GET", _URL, access_token=_TOKEN)

        return batch

    return [
        Case("caller_bearer", "caller, bearer token (warm)", _requests(_auth(dpop=False))),
        Case("caller_dpop", "caller, DPoP token + fresh proof (warm)", _requests(_auth(dpop=True))),
        Case("caller_dpop_proof", "DPoPKey.proof alone (ES256)", proof_prepare),
    ]
