"""Where a guard reads its bearer token when it is not the ``Authorization`` header.

Opt-in, one place per guard: a request header (``token_header="X-Api-Token"``,
carrying the bare token or ``Bearer <token>``) or a cookie
(``token_cookie="access_token"``). The token is then handed to the verifier
as the ``Bearer <token>`` value it would have read from ``Authorization``,
so every rule (and the token cache) applies unchanged.

A request with credentials in two places (``Authorization`` and the
configured header or cookie, or the header or cookie twice) is malformed:
400 ``invalid_request``, never a choice between them. A guard with a
location does not read ``Authorization``: a token sent only there is a
request without a token (401). The query string is never a location: RFC
6750 §2.3 tokens in URLs end up in logs, histories and ``Referer`` headers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ConfigurationError, InvalidRequestError
from .request import RequestContext

__all__ = ["TokenLocation", "token_location"]

# RFC 9110 §5.6.2 token: a header field name; RFC 6265 §4.1.1: a cookie name.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SCHEME = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr][ \t]")


@dataclass(frozen=True, slots=True)
class TokenLocation:
    """One header (lower-case name) or one cookie the token is read from."""

    header: str | None = None
    cookie: str | None = None

    @property
    def where(self) -> str:
        """The location, as said in errors and documentation."""
        return f"the {self.header} header" if self.header else f"the {self.cookie} cookie"

    def credentials(
        self, authorization: Sequence[str], request: RequestContext | None
    ) -> Sequence[str]:
        """The ``Authorization``-style values to verify: ``["Bearer <token>"]``
        when the location holds one token, ``[]`` when it holds none.

        Raises:
            InvalidRequestError: credentials in more than one place.
        """
        found = self._found(request)
        if len(found) > 1 or (found and authorization):
            raise InvalidRequestError(
                f"The request carries more than one credential (the token belongs in {self.where})."
            )
        if not found:
            return ()
        value = found[0]
        return (value if _SCHEME.match(value) else "Bearer " + value,)

    def _found(self, request: RequestContext | None) -> tuple[str, ...]:
        if request is None:
            return ()
        if self.header is not None:
            return request.header_values(self.header)
        found = []
        for line in request.header_values("cookie"):
            for pair in line.split(";"):
                name, sep, value = pair.strip(" \t").partition("=")
                if sep and name == self.cookie:
                    value = value.strip(" \t")
                    if len(value) >= 2 and value[0] == value[-1] == '"':
                        value = value[1:-1]  # RFC 6265 §4.1.1 allows a quoted value
                    found.append(value)
        return tuple(found)


def token_location(token_header: str | None, token_cookie: str | None) -> TokenLocation | None:
    """The guard's token location (``None``: the ``Authorization`` header).

    Raises:
        ConfigurationError: both given, a malformed name, or ``Authorization``.
    """
    if token_header is None and token_cookie is None:
        return None
    if token_header is not None and token_cookie is not None:
        raise ConfigurationError(
            "token_header and token_cookie: a guard reads its token from one place only"
        )
    if token_header is not None:
        if not isinstance(token_header, str) or not _TOKEN.fullmatch(token_header):
            raise ConfigurationError.of("token_header", "must be an HTTP header name")
        if token_header.lower() in ("authorization", "cookie"):
            raise ConfigurationError.of(
                "token_header", "names a header read already: leave it unset for Authorization"
            )
        return TokenLocation(header=token_header.lower())
    if not isinstance(token_cookie, str) or not _TOKEN.fullmatch(token_cookie):
        raise ConfigurationError.of("token_cookie", "must be a cookie name")
    return TokenLocation(cookie=token_cookie)
