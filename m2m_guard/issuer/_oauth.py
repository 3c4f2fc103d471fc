"""The public endpoints: token (RFC 6749 §4.4), JWKS and discovery metadata.

| endpoint   | route                                                        |
|------------|--------------------------------------------------------------|
| token      | POST /v1/public/{project_id}/oauth2/token                    |
| JWKS       | GET  /v1/sessions/jwks/{project_id}, /v1/b2b/sessions/jwks/… |
| metadata   | GET  /.well-known/openid-configuration                       |
|            | GET  /.well-known/oauth-authorization-server (RFC 8414)      |

The metadata's ``issuer`` is what the tokens carry as ``iss``: the issuer URL
in URL mode (discoverable: ``Verifier.from_discovery(url)`` accepts it), or
``stytch.com/{project_id}``, which is not a URL and so not discoverable (use
``Verifier.for_stytch``). Its endpoint URLs use the configured public URL, or
else the address the server is bound to; never the request's ``Host``
header, which any client can set.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._certs import certificate_thumbprint
from ._dpop import DPOP_ALGORITHMS, ProofChecker
from ._errors import BadRequestError, NotFoundError, OAuthError
from ._http import basic_credentials, endpoint, ok, parse_token_body, read_body
from ._local import LocalIssuer
from ._routes import run_blocking

__all__ = ["PublicRoutes"]

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _string_param(params: dict[str, Any], name: str) -> str | None:
    value = params.pop(name, None)
    if value is not None and not isinstance(value, str):
        raise OAuthError("invalid_request", f"The {name} parameter must be a string.")
    return value


def _etag(document: dict[str, Any]) -> str:
    canonical = json.dumps(document["keys"], sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # RFC 9110 §13.1.2: weak comparison; "*" matches any current representation.
    candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


class PublicRoutes:
    """The unauthenticated endpoints of one :class:`LocalIssuer`."""

    def __init__(
        self,
        issuer: LocalIssuer,
        *,
        base_url: str | None,
        jwks_max_age: int,
        max_body_bytes: int,
        proofs: ProofChecker | None = None,
        mtls_cert_header: str | None = None,
    ) -> None:
        self.issuer = issuer
        self.proofs = proofs or ProofChecker(clock=issuer.clock)
        self.mtls_cert_header = mtls_cert_header
        self.base_url = None if base_url is None else base_url.rstrip("/")
        self.jwks_max_age = jwks_max_age
        self.max_body_bytes = max_body_bytes

    def routes(self) -> list[BaseRoute]:
        """Starlette routes for token, JWKS and metadata."""
        jwks = endpoint()(self.jwks)
        metadata = endpoint()(self.metadata)
        return [
            Route(
                "/v1/public/{project_id}/oauth2/token",
                endpoint(oauth=True)(self.token),
                methods=["POST"],
            ),
            Route("/v1/sessions/jwks/{project_id}", jwks, methods=["GET"]),
            Route("/v1/b2b/sessions/jwks/{project_id}", jwks, methods=["GET"]),
            Route("/.well-known/openid-configuration", metadata, methods=["GET"]),
            Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        ]

    def _check_project(self, request: Request) -> None:
        if request.path_params["project_id"] != self.issuer.project_id:
            raise NotFoundError("No such project.", error_type="project_not_found")

    def _client_credentials(self, request: Request, params: dict[str, Any]) -> tuple[str, str]:
        body_id = _string_param(params, "client_id")
        body_secret = _string_param(params, "client_secret")
        try:
            basic = basic_credentials(request, form_decode=True)
        except BadRequestError as exc:
            raise OAuthError("invalid_client", exc.message, status_code=401) from exc
        if basic is not None and body_id is not None and basic[0] == self.issuer.project_id:
            # Stytch's Python SDK sends its project credentials as Basic auth
            # on every call, with the client's credentials in the body.
            basic = None
        if basic is not None:
            if body_secret is not None:  # RFC 6749 §2.3: one method per request
                raise OAuthError(
                    "invalid_request", "Send client credentials either in Basic auth or the body."
                )
            if body_id not in (None, basic[0]):
                raise OAuthError(
                    "invalid_request", "The body client_id differs from the Basic auth user."
                )
            return basic
        if body_id is None or body_secret is None:
            raise OAuthError(
                "invalid_client", "Client authentication is required.", status_code=401
            )
        return body_id, body_secret

    async def token(self, request: Request) -> Response:
        """The client-credentials grant; extra parameters feed the M2M template."""
        self._check_project(request)
        params = parse_token_body(request, await read_body(request, self.max_body_bytes))
        grant_type = _string_param(params, "grant_type")
        if grant_type is None:
            raise OAuthError("invalid_request", "The grant_type parameter is required.")
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "Only client_credentials is supported.")
        client_id, client_secret = self._client_credentials(request, params)
        scope = _string_param(params, "scope")
        issued = await run_blocking(
            self.issuer.issue_token,
            client_id,
            client_secret,
            scopes=None if scope is None else scope.split(),
            params=params,
            confirmation=self._confirmation(request),
        )
        headers = dict(_NO_STORE)
        nonce = self.proofs.fresh_nonce()
        if nonce is not None:
            headers["DPoP-Nonce"] = nonce  # RFC 9449 §8.2: the next one, ahead of need
        return ok(issued.to_json(), headers=headers)

    def _confirmation(self, request: Request) -> dict[str, str]:
        """What the token is to be bound to: a DPoP key, a TLS client certificate."""
        found: dict[str, str] = {}
        token_url = f"{self._base(request)}/v1/public/{self.issuer.project_id}/oauth2/token"
        jkt = self.proofs.check(request.headers.getlist("dpop"), token_url)
        if jkt is not None:
            found["jkt"] = jkt
        thumbprint = certificate_thumbprint(
            request.scope, request.headers.items(), self.mtls_cert_header
        )
        if thumbprint is not None:
            found["x5t#S256"] = thumbprint
        return found

    async def jwks(self, request: Request) -> Response:
        """The public keys, cacheable, with an ETag for conditional requests."""
        self._check_project(request)
        document = await run_blocking(self.issuer.jwks)
        etag = _etag(document)
        headers = {"Cache-Control": f"public, max-age={self.jwks_max_age}", "ETag": etag}
        if _etag_matches(request.headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=headers)
        return ok(document, headers=headers)

    def _base(self, request: Request) -> str:
        if self.base_url is not None:
            return self.base_url
        if self.issuer.issuer_url is not None:
            return self.issuer.issuer_url
        # The socket's own address (ASGI "server"), not the client's Host header.
        server = request.scope.get("server")
        if not server:  # a Unix socket: nothing to name
            raise NotFoundError(
                "The issuer has no public URL configured.", error_type="public_url_unknown"
            )
        scheme = "https" if request.scope.get("scheme") == "https" else "http"
        default = {"http": 80, "https": 443}[scheme]
        host, port = str(server[0]), default if server[1] is None else int(server[1])
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}" + ("" if port == default else f":{port}")

    async def metadata(self, request: Request) -> Response:
        """OIDC discovery / RFC 8414 authorization server metadata."""
        base = self._base(request)
        project_id = self.issuer.project_id
        return ok(
            {
                "issuer": self.issuer.issuer,
                "token_endpoint": f"{base}/v1/public/{project_id}/oauth2/token",
                "jwks_uri": f"{base}/v1/sessions/jwks/{project_id}",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
                "tls_client_certificate_bound_access_tokens": self.mtls_cert_header is not None,
                "response_types_supported": ["token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )
