"""The in-process issuer: Stytch's M2M operations as plain method calls.

:class:`LocalIssuer` is what the HTTP routes call (in a worker thread: its
methods block on SQLite and scrypt) and what tests and the pytest plugin
use directly. It validates every argument itself, so a wrong value fails
the same way in-process and over HTTP: with an :class:`IssuerError`.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from . import _validate as v
from ._clients import ClientStore
from ._db import Database
from ._errors import BadRequestError, IssuerConfigError
from ._grant import ClientCredentialsGrant
from ._keys import DEFAULT_GRACE_SECONDS, KeyRing, generate_rsa_key
from ._models import (
    CreatedClient,
    IssuedToken,
    M2MClient,
    RotatingClient,
    SearchPage,
    SigningKeyInfo,
)
from ._project import load_project
from ._secrets import ScryptParams, generate_secret, hash_secret
from ._template import ClaimsTemplate, TemplateStore, compile_template
from ._tokens import DEFAULT_TOKEN_LIFETIME, TokenMinter

__all__ = ["LocalIssuer"]

logger = logging.getLogger("m2m_guard.issuer")


def _bindings(dpop: object, mtls: object) -> dict[str, Any]:
    """The sender-constraint flags that were given, checked."""
    given = {
        "dpop_bound_access_tokens": dpop,
        "tls_client_certificate_bound_access_tokens": mtls,
    }
    return {name: v.flag_value(value, name) for name, value in given.items() if value is not None}


class LocalIssuer:
    """A Stytch-compatible M2M issuer backed by SQLite.

    Args:
        db_path: SQLite file, or ``":memory:"`` (the default) for tests.
        project_id / project_secret: used on a new database, generated when
            omitted; an existing database keeps its own (see ``load_project``).
        scrypt: cost of client secret hashes; ``ScryptParams.insecure_fast()``
            in test suites.
        clock: seconds since the epoch; inject a fake one in tests.
        token_lifetime: seconds from ``iat`` to ``exp`` (Stytch: 3600).
        key_grace_seconds: default grace period of :meth:`rotate_keys`.
        key_factory: makes RSA keys; tests may hand out pre-generated ones.
        issuer_url: mint ``iss`` = this URL (Stytch's custom-domain
            behaviour; what discovery needs) instead of ``stytch.com/{project_id}``.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] = ":memory:",
        *,
        project_id: str | None = None,
        project_secret: str | None = None,
        scrypt: ScryptParams | None = None,
        clock: Callable[[], float] = time.time,
        token_lifetime: int = DEFAULT_TOKEN_LIFETIME,
        key_grace_seconds: float = DEFAULT_GRACE_SECONDS,
        key_factory: Callable[[], rsa.RSAPrivateKey] = generate_rsa_key,
        issuer_url: str | None = None,
    ) -> None:
        if isinstance(token_lifetime, bool) or not isinstance(token_lifetime, int):
            raise IssuerConfigError("token_lifetime must be an integer number of seconds")
        if token_lifetime < 1:
            raise IssuerConfigError("token_lifetime must be at least 1 second")
        self._scrypt = scrypt or ScryptParams()
        self._clock = clock
        self._key_grace = key_grace_seconds
        self.db = Database(db_path)
        try:
            self.project_id, self.project_secret = load_project(self.db, project_id, project_secret)
            self.keys = KeyRing(self.db, clock=clock, key_factory=key_factory)
        except BaseException:
            self.db.close()
            raise
        self._clients = ClientStore(self.db)
        self._templates = TemplateStore(self.db)
        self._minter = TokenMinter(
            self.keys,
            project_id=self.project_id,
            clock=clock,
            lifetime=token_lifetime,
            issuer_url=None if issuer_url is None else v.issuer_url_value(issuer_url),
        )
        self._grant = ClientCredentialsGrant(
            self._clients, self._minter, self._scrypt, self._templates
        )

    # -- lifecycle -------------------------------------------------------

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def __enter__(self) -> LocalIssuer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def issuer(self) -> str:
        """The ``iss`` of every token: ``stytch.com/{project_id}`` or the issuer URL."""
        return self._minter.issuer

    @property
    def clock(self) -> Callable[[], float]:
        """The issuer's clock: seconds since the epoch."""
        return self._clock

    @property
    def issuer_url(self) -> str | None:
        """The issuer URL tokens carry as ``iss``, if one was set."""
        return self._minter.issuer_url

    # -- the M2M custom-claims template ------------------------------------

    def set_m2m_template(
        self, template_content: str, custom_audience: str | None = None
    ) -> ClaimsTemplate:
        """Set the project's M2M template (``""`` removes it).

        Its ``{{ request.<param> }}`` placeholders are how extra token request
        parameters become claims; a template that would set a reserved or
        authority-bearing claim is a :class:`BadRequestError`.
        """
        template = compile_template(template_content, custom_audience)
        self._templates.set(template, now=self._clock())
        logger.info(
            "M2M template set (%d parameter(s)%s)",
            len(template.parameters),
            ", custom audience" if template.custom_audience else "",
        )
        return template

    def get_m2m_template(self) -> ClaimsTemplate:
        """The project's M2M template (empty when none is set)."""
        return self._templates.get()

    # -- clients ---------------------------------------------------------

    def create_client(
        self,
        *,
        scopes: Sequence[str],
        client_id: str | None = None,
        client_secret: str | None = None,
        client_name: str | None = None,
        client_description: str | None = None,
        trusted_metadata: Mapping[str, Any] | None = None,
        dpop_bound_access_tokens: bool | None = None,
        tls_client_certificate_bound_access_tokens: bool | None = None,
    ) -> CreatedClient:
        """Create a client; its secret is returned only here.

        ``dpop_bound_access_tokens`` / ``tls_client_certificate_bound_access_tokens``:
        every token request of the client must carry a DPoP proof / come
        with a TLS client certificate, and its tokens are bound to it.
        """
        checked_scopes = v.scopes_value(scopes)
        cid = (
            f"m2m-client-test-{uuid.uuid4()}" if client_id is None else v.client_id_value(client_id)
        )
        secret = (
            generate_secret() if client_secret is None else v.client_secret_value(client_secret)
        )
        client = M2MClient(
            client_id=cid,
            client_name=v.optional_text(client_name, "client_name") or "",
            client_description=v.optional_text(client_description, "client_description") or "",
            status="active",
            scopes=checked_scopes,
            trusted_metadata=v.metadata_value({} if trusted_metadata is None else trusted_metadata),
            client_secret_last_four=secret[-4:],
            **_bindings(dpop_bound_access_tokens, tls_client_certificate_bound_access_tokens),
        )
        self._clients.insert(client, hash_secret(secret, self._scrypt), now=self._clock())
        logger.info("created M2M client %s", cid)
        return CreatedClient(client, secret)

    def get_client(self, client_id: str) -> M2MClient:
        """The client, or :class:`ClientNotFoundError`."""
        return self._clients.get(client_id)

    def search_clients(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> SearchPage:
        """Clients matching ``query`` (Stytch's wire format), one page at a time."""
        if cursor is not None and not isinstance(cursor, str):
            raise BadRequestError("cursor must be a string.", error_type="invalid_cursor")
        # Stytch's own examples send "" for the first page.
        return self._clients.search(v.query_value(query), cursor or None, v.limit_value(limit))

    def update_client(
        self,
        client_id: str,
        *,
        client_name: str | None = None,
        client_description: str | None = None,
        status: str | None = None,
        scopes: Sequence[str] | None = None,
        trusted_metadata: Mapping[str, Any] | None = None,
        dpop_bound_access_tokens: bool | None = None,
        tls_client_certificate_bound_access_tokens: bool | None = None,
    ) -> M2MClient:
        """Change the given fields (None leaves a field alone)."""
        changes: dict[str, Any] = _bindings(
            dpop_bound_access_tokens, tls_client_certificate_bound_access_tokens
        )
        if client_name is not None:
            changes["client_name"] = v.optional_text(client_name, "client_name")
        if client_description is not None:
            changes["client_description"] = v.optional_text(
                client_description, "client_description"
            )
        if status is not None:
            changes["status"] = v.status_value(status)
        if scopes is not None:
            changes["scopes"] = v.scopes_value(scopes)
        if trusted_metadata is not None:
            changes["trusted_metadata"] = v.metadata_value(trusted_metadata)
        client = self._clients.update(client_id, changes, now=self._clock())
        logger.info(
            "updated M2M client %s (%s)", client_id, ", ".join(sorted(changes)) or "no change"
        )
        return client

    def delete_client(self, client_id: str) -> None:
        """Delete the client; tokens it already holds stay valid until they expire."""
        self._clients.delete(client_id)
        logger.info("deleted M2M client %s", client_id)

    # -- secret rotation -------------------------------------------------

    def start_secret_rotation(self, client_id: str) -> RotatingClient:
        """Add a next secret; both work until the rotation completes or is cancelled.

        Starting again while a rotation is pending replaces the next secret.
        """
        secret = generate_secret()
        client = self._clients.set_next_secret(
            client_id, hash_secret(secret, self._scrypt), secret[-4:], now=self._clock()
        )
        logger.info("started secret rotation of M2M client %s", client_id)
        return RotatingClient(client, secret)

    def complete_secret_rotation(self, client_id: str) -> M2MClient:
        """The next secret becomes the only secret."""
        client = self._clients.finish_rotation(client_id, complete=True, now=self._clock())
        logger.info("completed secret rotation of M2M client %s", client_id)
        return client

    def cancel_secret_rotation(self, client_id: str) -> M2MClient:
        """Discard the next secret; only the original keeps working."""
        client = self._clients.finish_rotation(client_id, complete=False, now=self._clock())
        logger.info("cancelled secret rotation of M2M client %s", client_id)
        return client

    # -- tokens ----------------------------------------------------------

    def authenticate_client(self, client_id: str, client_secret: str) -> M2MClient:
        """The active client these credentials belong to, or ``invalid_client``."""
        return self._grant.authenticate(client_id, client_secret)

    def issue_token(
        self,
        client_id: str,
        client_secret: str,
        *,
        scopes: Iterable[str] | None = None,
        custom_claims: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        confirmation: Mapping[str, str] | None = None,
    ) -> IssuedToken:
        """The client-credentials grant: authenticate, check scopes, sign.

        ``scopes`` must be a subset of the client's (None means all of them).
        ``params`` are a token request's extra parameters: they become claims
        only through the M2M template (see :meth:`set_m2m_template`), as on
        Stytch. ``custom_claims`` are claims from trusted code, added at the
        top level as they are. Failures are :class:`OAuthError`
        (``invalid_client``, ``invalid_scope`` …).
        ``confirmation`` binds the token: ``{"jkt": ...}`` from a checked DPoP
        proof, ``{"x5t#S256": ...}`` from the caller's TLS certificate.
        """
        return self._grant.issue(
            client_id, client_secret, scopes, custom_claims, params, confirmation
        )

    def mint_token(
        self,
        client_id: str,
        *,
        scopes: Iterable[str] = (),
        custom_claims: Mapping[str, Any] | None = None,
        issued_at: int | None = None,
        lifetime: int | None = None,
    ) -> str:
        """Sign a token for any subject, no client or secret needed (tests)."""
        claims = self._minter.claims(
            client_id, list(scopes), custom_claims, issued_at=issued_at, lifetime=lifetime
        )
        return self._minter.sign(claims)

    def sign_claims(
        self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None
    ) -> str:
        """Sign an arbitrary claim set with the current key (for edge-case tests)."""
        return self._minter.sign(claims, headers)

    # -- keys ------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document."""
        return self.keys.jwks()

    def rotate_keys(self, grace_seconds: float | None = None) -> str:
        """Sign with a new key; the old one stays in the JWKS for the grace period."""
        return self.keys.rotate(self._key_grace if grace_seconds is None else grace_seconds)

    def retire_keys(self, kid: str | None = None) -> list[str]:
        """Remove old keys (all, or ``kid``) from the JWKS now."""
        return self.keys.retire(kid)

    def signing_keys(self) -> list[SigningKeyInfo]:
        """Every key in the ring, the signing key first."""
        return self.keys.keys()
