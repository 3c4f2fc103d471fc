"""The client-credentials grant (RFC 6749 §4.4): authenticate, scope, sign."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ._binding import check_binding
from ._clients import ClientStore
from ._errors import BadRequestError, OAuthError
from ._models import IssuedToken, M2MClient
from ._secrets import ScryptParams, generate_secret, hash_secret, verify_secret
from ._template import TemplateStore
from ._tokens import TokenMinter

__all__ = ["ClientCredentialsGrant"]

logger = logging.getLogger("m2m_guard.issuer")


class ClientCredentialsGrant:
    """Turns client credentials into access tokens."""

    def __init__(
        self,
        clients: ClientStore,
        minter: TokenMinter,
        scrypt: ScryptParams,
        templates: TemplateStore,
    ) -> None:
        self._clients = clients
        self._minter = minter
        self._scrypt = scrypt
        self._templates = templates

    @functools.cached_property
    def _dummy_hash(self) -> str:
        # Unknown clients cost one scrypt too, so timing does not reveal ids.
        return hash_secret(generate_secret(), self._scrypt)

    def authenticate(self, client_id: str, client_secret: str) -> M2MClient:
        """The active client these credentials belong to, or ``invalid_client``."""
        stored = self._clients.get_for_auth(client_id)
        hashes = [self._dummy_hash] if stored is None else [stored.secret_hash]
        if stored is not None and stored.next_secret_hash is not None:
            hashes.append(stored.next_secret_hash)
        # Check every hash so the timing does not tell which one matched.
        matched = [verify_secret(client_secret, stored_hash) for stored_hash in hashes]
        if stored is None or not any(matched):
            # %.128r: the id is the caller's input; keep log lines short and inert.
            logger.info("token refused: bad credentials for client %.128r", client_id)
            raise OAuthError("invalid_client", "Client authentication failed.", status_code=401)
        if not stored.client.is_active:
            logger.info("token refused: client %s is inactive", client_id)
            raise OAuthError("invalid_client", "The client is inactive.", status_code=401)
        return stored.client

    def issue(
        self,
        client_id: str,
        client_secret: str,
        scopes: Iterable[str] | None,
        custom_claims: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None = None,
        confirmation: Mapping[str, str] | None = None,
    ) -> IssuedToken:
        """A signed token for valid credentials and an allowed scope request.

        ``params`` are the request's extra parameters: they become claims only
        through the project's M2M template, and are ignored without one.
        ``custom_claims`` come from trusted in-process callers and are added
        as they are (reserved claims excepted). ``confirmation`` is the
        proven key (``jkt``) or certificate (``x5t#S256``) to bind the token
        to, as ``cnf`` (RFC 7800).
        """
        client = self.authenticate(client_id, client_secret)
        check_binding(client, confirmation or {})
        granted = client.scopes if scopes is None else tuple(dict.fromkeys(scopes))
        unknown = [scope for scope in granted if scope not in client.scopes]
        if unknown:
            raise OAuthError(
                "invalid_scope",
                f"The client is not allowed the scope(s): {' '.join(map(str, unknown))}.",
            )
        template = self._templates.get()
        try:
            extra = template.render(params or {}) if template.root else {}
            if params and not template.root:
                logger.debug("no M2M template: %d extra parameter(s) ignored", len(params))
            claims = self._minter.claims(
                client.client_id,
                granted,
                {**extra, **(custom_claims or {})},
                audience=template.custom_audience,
            )
        except BadRequestError as exc:
            raise OAuthError("invalid_request", exc.message) from exc
        if confirmation:
            claims["cnf"] = dict(confirmation)
        token = self._minter.sign(claims)
        logger.info("issued token jti=%s to client %s", claims["jti"], client.client_id)
        return IssuedToken(
            token,
            self._minter.lifetime,
            client.client_id,
            granted,
            token_type="DPoP" if confirmation and "jkt" in confirmation else "bearer",
            confirmation=dict(confirmation) if confirmation else None,
        )
