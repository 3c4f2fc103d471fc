"""A real local issuer on a loopback port, for tests (``m2m_issuer``).

:class:`IssuerHost` is one uvicorn server (started once, e.g. per test
session) whose address serves whichever :class:`LiveIssuer` is current;
:meth:`IssuerHost.issuer` opens a fresh one (its own in-memory database,
project, credentials and clients) and retires it when its ``with`` block
ends. A test thus pays for a server start only once, and sees nothing of
another test's clients, keys or template.

Public through :mod:`m2m_guard.testing`; needs the ``issuer`` extra, which is
imported only when a host starts.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from m2m_guard._http import httpx
from m2m_guard._presets import stytch_jwks_url, stytch_token_url
from m2m_guard._verifier import Verifier
from m2m_guard.client import ClientCredentialsAuth

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from m2m_guard.issuer import LocalIssuer

    from .server import ASGIApp, ServerThread

__all__ = ["IssuerHost", "LiveClient", "LiveIssuer", "live_issuer"]

_Scope = MutableMapping[str, Any]


class LiveClient:
    """An M2M client of a :class:`LiveIssuer`, with its secret.

    ``auth()`` gives a ``ClientCredentialsAuth`` for ``httpx`` (closed with
    the issuer), ``token()`` a freshly fetched access token, over HTTP from
    the issuer's token endpoint, as a real caller gets one.
    """

    def __init__(
        self, issuer: LiveIssuer, client_id: str, client_secret: str, scopes: tuple[str, ...]
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes

    def __repr__(self) -> str:  # never the secret
        return f"LiveClient(client_id={self.client_id!r}, scopes={self.scopes!r})"

    def auth(
        self, scopes: str | Iterable[str] | None = None, **kwargs: Any
    ) -> ClientCredentialsAuth:
        """A ``ClientCredentialsAuth`` for this client (``None``: all its scopes)."""
        auth = ClientCredentialsAuth.for_stytch(
            self.issuer.project_id,
            self.client_id,
            self.client_secret,
            environment=self.issuer.base_url,
            scopes=scopes,
            **{"http_client": self.issuer.http, **kwargs},
        )
        self.issuer._closing.append(auth)
        return auth

    def token(self, scopes: str | Iterable[str] | None = None) -> str:
        """A new access token from the token endpoint (raises ``TokenRequestError``)."""
        with ClientCredentialsAuth.for_stytch(
            self.issuer.project_id,
            self.client_id,
            self.client_secret,
            environment=self.issuer.base_url,
            scopes=scopes,
            http_client=self.issuer.http,
        ) as auth:
            return auth.get_token()

    def auth_header(self, scopes: str | Iterable[str] | None = None) -> dict[str, str]:
        """``{"Authorization": "Bearer …"}`` with a new token."""
        return {"Authorization": f"Bearer {self.token(scopes)}"}


class LiveIssuer:
    """A local Stytch-compatible issuer served over HTTP on 127.0.0.1.

    Attributes:
        base_url: ``http://127.0.0.1:PORT``, Stytch's ``environment``.
        project_id, project_secret: the project (HTTP Basic credentials of
            the management API).
        local: the :class:`~m2m_guard.issuer.LocalIssuer` behind the server,
            for in-process calls (``rotate_keys()``, ``set_m2m_template()``,
            ``update_client()`` …).
        http: the ``httpx.Client`` its verifiers and auths fetch with, kept
            by the host (making one costs more than a test's requests).
    """

    def __init__(self, local: LocalIssuer, base_url: str, http: httpx.Client) -> None:
        self.local = local
        self.base_url = base_url
        self.http = http
        self.project_id = local.project_id
        self.project_secret = local.project_secret
        self._verifier: Verifier | None = None
        self._closing: list[Verifier | ClientCredentialsAuth] = []

    def __repr__(self) -> str:  # never the secret
        return f"LiveIssuer(base_url={self.base_url!r}, project_id={self.project_id!r})"

    @property
    def iss(self) -> str:
        """The ``iss`` of the tokens it mints (``stytch.com/{project_id}``)."""
        return self.local.issuer

    @property
    def token_url(self) -> str:
        """The client-credentials token endpoint."""
        return stytch_token_url(self.base_url, self.project_id)

    @property
    def jwks_url(self) -> str:
        """The project's JWKS."""
        return stytch_jwks_url(self.base_url, self.project_id)

    @property
    def management_auth(self) -> tuple[str, str]:
        """``(project_id, project_secret)``: ``httpx``'s ``auth=`` for the management API."""
        return self.project_id, self.project_secret

    @property
    def verifier(self) -> Verifier:
        """A ``Verifier`` for this issuer's tokens (fetches its JWKS over HTTP)."""
        if self._verifier is None:
            self._verifier = self.new_verifier()
        return self._verifier

    def new_verifier(self, **kwargs: Any) -> Verifier:
        """``Verifier.for_stytch(project_id, environment=base_url, **kwargs)``, closed with it."""
        settings = {"http_client": self.http, **kwargs}
        verifier = Verifier.for_stytch(self.project_id, environment=self.base_url, **settings)
        self._closing.append(verifier)
        return verifier

    def create_client(self, scopes: str | Iterable[str] = (), **kwargs: Any) -> LiveClient:
        """A new M2M client with these scopes (and ``LocalIssuer.create_client``'s
        other arguments: ``client_name``, ``trusted_metadata`` …)."""
        wanted = scopes.split() if isinstance(scopes, str) else list(scopes)
        created = self.local.create_client(scopes=wanted, **kwargs)
        client = created.client
        return LiveClient(self, client.client_id, created.client_secret, client.scopes)

    def close(self) -> None:
        """Close the verifiers and auths it handed out."""
        closing, self._closing, self._verifier = self._closing, [], None
        for resource in closing:
            resource.close()


class _Current:
    """The ASGI app at the host's address: the current issuer's, or a 503.

    The lifespan is answered here: per-issuer apps own nothing to set up.
    """

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: _Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        app = self.app
        if app is None:
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"no issuer is current"})
            return
        await app(scope, receive, send)


class IssuerHost:
    """One loopback server that hosts one :class:`LiveIssuer` at a time.

    Args:
        host: the interface (loopback).
        key: the first signing key of every issuer (RSA generation is the
            slow part); one generated at start by default. Later keys
            (``rotate_keys``) are new.
        fast_hashes: cheap scrypt for client secrets (test suites).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        key: rsa.RSAPrivateKey | None = None,
        fast_hashes: bool = True,
    ) -> None:
        self.host = host
        self._key = key
        self._fast = fast_hashes
        self._current = _Current()
        self._server: ServerThread | None = None
        self._http: httpx.Client | None = None

    @property
    def base_url(self) -> str:
        """The server's ``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("the issuer host is not started")
        return self._server.base_url

    def start(self) -> IssuerHost:
        """Start the server (needs the ``issuer`` extra)."""
        from m2m_guard.issuer import generate_rsa_key

        from .server import ServerThread

        if self._key is None:
            self._key = generate_rsa_key()
        # Named apart: a session's host outlives tests that check for leftover servers.
        self._server = ServerThread(
            self._current, host=self.host, thread_name="m2m-guard-issuer-host"
        ).start()
        # TCP_NODELAY: a POST's body must not wait for the ACK of its headers.
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        self._http = httpx.Client(
            transport=httpx.HTTPTransport(socket_options=nodelay),
            timeout=10.0,
            follow_redirects=False,
        )
        return self

    def stop(self) -> None:
        """Stop the server."""
        server, self._server = self._server, None
        http, self._http = self._http, None
        if http is not None:
            http.close()
        if server is not None:
            server.stop()

    def __enter__(self) -> IssuerHost:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def issuer(self, **options: Any) -> Iterator[LiveIssuer]:
        """A fresh issuer served at :attr:`base_url` for the ``with`` block.

        ``options`` go to ``LocalIssuer`` (``project_id``, ``token_lifetime``,
        ``clock`` …).
        """
        from m2m_guard.issuer import LocalIssuer, ScryptParams, create_app, generate_rsa_key

        first = [] if self._key is None else [self._key]

        def key_factory() -> rsa.RSAPrivateKey:
            return first.pop() if first else generate_rsa_key()

        defaults: Mapping[str, Any] = {
            "key_factory": key_factory,
            **({"scrypt": ScryptParams.insecure_fast()} if self._fast else {}),
        }
        base_url = self.base_url
        assert self._http is not None
        with LocalIssuer(":memory:", **{**defaults, **options}) as local:
            live = LiveIssuer(local, base_url, self._http)
            self._current.app = create_app(issuer=local, base_url=base_url)
            try:
                yield live
            finally:
                self._current.app = None
                live.close()


@contextlib.contextmanager
def live_issuer(**options: Any) -> Iterator[LiveIssuer]:
    """Serve a fresh local issuer on a free 127.0.0.1 port for the ``with`` block.

    ``options`` go to ``LocalIssuer``. For example, ``with live_issuer() as
    issuer:`` then ``client = issuer.create_client(["read:x"])`` and
    ``issuer.verifier.verify(client.token(), ["read:x"])``.
    """
    with IssuerHost() as host, host.issuer(**options) as issuer:
        yield issuer
