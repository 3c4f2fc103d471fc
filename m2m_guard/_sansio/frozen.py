"""Read-only JSON containers for decoded tokens.

A verified token's claims are shared: the token cache hands the same
objects to every request that carries the same token, and decoded JWS
headers are memoised across tokens. A handler that appended to
``claims["roles"]`` would change what the next request sees. The decoder
therefore builds :class:`FrozenDict` and :class:`FrozenList`, which are a
real ``dict`` and ``list`` (``isinstance``, ``json.dumps`` and equality work
as before) whose mutating methods raise ``TypeError``. Copy one
(``dict(value)``, ``list(value)``) to get a mutable version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "freeze"]


def _read_only(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        f"{type(self).__name__} is read-only: token claims are shared between requests; "
        "copy it (dict(...) / list(...)) to change it"
    )


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses to change after it is built."""

    __slots__ = ()

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


class FrozenList(list[Any]):
    """A ``list`` that refuses to change after it is built."""

    __slots__ = ()

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))


def freeze(value: Any) -> Any:
    """``value`` with every dict and list inside it made read-only (copies)."""
    if isinstance(value, (FrozenDict, FrozenList)):
        return value
    if isinstance(value, Mapping):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(item) for item in value)
    if isinstance(value, tuple):
        return tuple(freeze(item) for item in value)
    return value
