"""How challenges are rendered: RFC 6750 quoting, and RFC 9449's ``DPoP``
challenge next to (or instead of) ``Bearer``."""

from __future__ import annotations

import re

__all__ = ["dpop_challenges", "quote"]

# RFC 6750 §3: error_description and scope values are limited to these
# characters, so a quoted-string never needs escaping once filtered.
_UNSAFE_CHALLENGE_CHARS = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


def quote(value: str) -> str:
    """``value`` as an RFC 6750 quoted-string, unsafe characters dropped."""
    return '"' + _UNSAFE_CHALLENGE_CHARS.sub("", value) + '"'


def dpop_challenges(
    challenge: tuple[str, str, str | None], params: list[str], error: list[str]
) -> str:
    """RFC 9449 §7.1: a ``DPoP`` challenge with the proof algorithms; in
    ``"allowed"`` mode a ``Bearer`` one too. The error goes with the scheme
    the request used (DPoP errors always with ``DPoP``)."""
    mode, algs, scheme = challenge
    dpop = [*params]
    if algs:
        dpop.append(f"algs={quote(algs)}")
    if mode != "allowed":
        return "DPoP " + ", ".join(dpop + error)
    if scheme == "DPoP":
        return "Bearer " + ", ".join(params) + ", DPoP " + ", ".join(dpop + error)
    return "Bearer " + ", ".join(params + error) + ", DPoP " + ", ".join(dpop)
