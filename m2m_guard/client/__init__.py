"""The caller side: an HTTP auth that gets, caches and renews M2M tokens.

``ClientCredentialsAuth`` obtains an access token with the OAuth2
client-credentials grant (RFC 6749 §4.4), sends it as a bearer token
(RFC 6750 §2.1), reuses it until shortly before it expires, and on a 401
from the protected API fetches a new one and retries the request once::

    auth = ClientCredentialsAuth.for_stytch(project_id, client_id, client_secret)
    with httpx.Client(auth=auth) as client:          # or httpx2.Client
        client.get("https://api.example.com/things")

One auth for both HTTP packages. ``httpx`` and ``httpx2`` clients each
accept only an auth derived from their own package's ``Auth``, so
``ClientCredentialsAuth`` derives from the ``Auth`` of every installed
package: the same object works as ``auth=`` of ``httpx.Client``,
``httpx.AsyncClient``, ``httpx2.Client`` and ``httpx2.AsyncClient``, with no
factory to pick and no per-package name to import. The clients it uses for
its own token requests may be of either package too (``http_client``,
``async_http_client``); it builds each request with that client's package.
Without them it creates clients of the package m2m_guard uses (see
``m2m_guard._http``: ``httpx2`` when installed, else ``httpx``).

The modules:

* ``_state``: the token state, sans I/O: checked settings, the token
  request as bytes, the parsed answer, the cache, single-flight
  bookkeeping (a generation counter) and the authorize-and-retry flow;
* ``_sync``: threads: a blocking client, a thread lock shared by every
  caller, a watchdog that bounds the whole exchange; flows run by
  ``run_sync``;
* ``_async``: tasks: an anyio lock and a client per event loop
  (``PerLoop``), flows run by ``run_async``;
* ``_dpop_key``: ``DPoPKey``, the caller's DPoP key and the proofs it signs;
* ``_dpop``: DPoP-bound tokens (RFC 9449): proofs on token and API
  requests, the servers' nonces, one retry when a server asks for one;
* ``_auth``: ``ClientCredentialsAuth`` itself, the thin httpx auth flows.

N concurrent callers on a cold cache, threads and event loops mixed, cause
one token request, and callers that waited for a fetch share its outcome,
failure included, rather than hammer a failing endpoint. Token requests go
through a client of their own (or the one given), never through the client
being authenticated, and never with that client's auth. Neither the secret
nor a whole token is ever logged.
"""

from m2m_guard._sansio.errors import TokenRequestError

from ._auth import ClientCredentialsAuth
from ._dpop_key import DPoPKey

__all__ = ["ClientCredentialsAuth", "DPoPKey", "TokenRequestError"]
