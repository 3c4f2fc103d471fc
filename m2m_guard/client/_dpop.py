"""DPoP on the caller side (RFC 9449): proofs on token requests and on API requests.

``DPoPSigner`` holds the key and the latest ``DPoP-Nonce`` each origin sent
(§8.2: a server may hand out a new one on any response). Two flows use it,
both sans I/O and driven like every flow of the package:

* ``prove_token_request``: the token request with a proof (``htm`` POST,
  ``htu`` the token endpoint), sent again once with the server's nonce when
  the endpoint answers 400 ``use_dpop_nonce`` (§8);
* ``authorize_dpop``: an API request with ``Authorization: DPoP <token>``
  and a fresh proof carrying ``ath``; once more with the nonce after a 401
  ``use_dpop_nonce`` (§9), and once with a new token after any other 401.

``DPoPSyncSender`` and ``DPoPAsyncSender`` put the first flow in front of
the ordinary senders, so the cache, single flight and deadlines stay
exactly those of bearer tokens.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping, MutableMapping
from dataclasses import replace
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from m2m_guard._sansio.flow import run_async, run_sync

from ._async import AsyncSender
from ._dpop_key import DPoPKey
from ._state import Reply, TokenNeeded, TokenRequest, Unreachable, prefix
from ._sync import SyncSender

__all__ = [
    "DPoPAsyncSender",
    "DPoPSigner",
    "DPoPSyncSender",
    "authorize_dpop",
    "prove_token_request",
]

logger = logging.getLogger("m2m_guard.client")

_MAX_NONCE = 512  # characters of a server nonce we keep and send back
_NONCE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 9449 §8.1: nonce = 1*NQCHAR


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class DPoPSigner:
    """A key and the nonces servers gave it; thread- and task-safe."""

    def __init__(self, key: DPoPKey, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self._clock = clock
        self._nonces: dict[str, str] = {}
        self._lock = threading.Lock()

    def nonce(self, url: str) -> str | None:
        """The latest nonce the origin of ``url`` sent, if any."""
        with self._lock:
            return self._nonces.get(_origin(url))

    def observe(self, url: str, headers: Mapping[str, str]) -> bool:
        """Remember a ``DPoP-Nonce`` from a response to ``url``; whether one came (§8.2)."""
        nonce = headers.get("dpop-nonce")
        if not nonce or len(nonce) > _MAX_NONCE or not _NONCE.fullmatch(nonce):
            return False
        with self._lock:
            self._nonces[_origin(url)] = nonce
        return True

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """A fresh proof for ``method url`` with the origin's latest nonce."""
        return self.key.proof(
            method, url, access_token=access_token, nonce=self.nonce(url), clock=self._clock
        )

    def token_request(self, request: TokenRequest) -> TokenRequest:
        """``request`` with a proof for the token endpoint (§5)."""
        headers = {**request.headers, "DPoP": self.proof("POST", request.url)}
        return replace(request, headers=headers)


def _oauth_error(content: bytes) -> object:
    try:
        payload = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return payload.get("error") if isinstance(payload, dict) else None


def prove_token_request(
    signer: DPoPSigner, request: TokenRequest
) -> Generator[TokenRequest, Reply | Unreachable, Reply | Unreachable]:
    """Send ``request`` with a proof; once more with the endpoint's nonce if it asks (§8)."""
    reply = yield signer.token_request(request)
    if isinstance(reply, Unreachable):
        return reply
    fresh = signer.observe(request.url, reply.headers)
    if reply.status == 400 and fresh and _oauth_error(reply.content) == "use_dpop_nonce":
        logger.debug("the token endpoint wants a DPoP nonce; sending the proof again")
        reply = yield signer.token_request(request)
        if isinstance(reply, Reply):
            signer.observe(request.url, reply.headers)
    return reply


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class _Request(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def headers(self) -> MutableMapping[str, str]: ...


Request = TypeVar("Request", bound=_Request)


def _wants_nonce(response: _Response) -> bool:
    """A 401 whose ``DPoP`` challenge says ``error="use_dpop_nonce"`` (§9)."""
    challenge = response.headers.get("www-authenticate", "")
    return response.status_code == 401 and "use_dpop_nonce" in challenge


def authorize_dpop(
    request: Request, url: str, signer: DPoPSigner
) -> Generator[Request | TokenNeeded, Any, None]:
    """Send ``request`` (to ``url``) with a DPoP-bound token and a fresh proof each time.

    After a 401 ``use_dpop_nonce`` that brought a nonce, the same token
    goes again with a proof carrying it; after any other 401, once with a
    new token. A proof is never sent twice (each send signs a new one).
    """
    refused: str | None = None
    for _attempt in range(2):
        token: str = yield TokenNeeded(refused=refused)
        request.headers["Authorization"] = f"DPoP {token}"
        request.headers["DPoP"] = signer.proof(request.method, url, token)
        response: _Response = yield request
        fresh = signer.observe(url, response.headers)
        if _wants_nonce(response) and fresh:
            logger.debug("the API wants a DPoP nonce; sending the request again")
            request.headers["DPoP"] = signer.proof(request.method, url, token)
            response = yield request
            signer.observe(url, response.headers)
        if response.status_code != 401 or _wants_nonce(response):
            return
        logger.debug("the API refused DPoP token %s; fetching a new one", prefix(token))
        refused = token


class DPoPSyncSender(SyncSender):
    """A ``SyncSender`` whose token requests carry DPoP proofs."""

    def __init__(self, signer: DPoPSigner, *args: Any) -> None:
        super().__init__(*args)
        self.signer = signer

    def send(self, request: TokenRequest) -> Reply | Unreachable:
        """Send ``request`` with a proof, retrying once for a nonce."""
        return run_sync(prove_token_request(self.signer, request), super().send)


class DPoPAsyncSender(AsyncSender):
    """An ``AsyncSender`` whose token requests carry DPoP proofs."""

    def __init__(self, signer: DPoPSigner, *args: Any) -> None:
        super().__init__(*args)
        self.signer = signer

    async def send(self, request: TokenRequest) -> Reply | Unreachable:
        """Send ``request`` with a proof, retrying once for a nonce."""
        return await run_async(prove_token_request(self.signer, request), super().send)
