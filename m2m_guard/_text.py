"""Text from elsewhere made safe for a log line or a terminal."""

from __future__ import annotations

__all__ = ["inert"]


def inert(text: str) -> str:
    """``text`` with every non-printable character escaped (``\\n``, ``\\x1b``, ``\\u202e``).

    What a remote endpoint says ends up in log lines, exception messages and
    terminals: a newline there would forge a log entry, an escape sequence
    would drive the terminal, a bidi control would reorder what an operator
    reads. Printable text, spaces included, is returned unchanged.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
