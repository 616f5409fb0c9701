"""Case-insensitive, multi-valued HTTP headers as plain immutable data.

Signals are read from *every* header line with a given name, never just the first
(httpx ``Headers.get_list``): a site that sends two ``X-Robots-Tag`` lines means both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["EMPTY_HEADERS", "Headers"]


def _text(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


class Headers:
    """An immutable, case-insensitive multimap of header names to values (in arrival order)."""

    __slots__ = ("_map", "_pairs")

    def __init__(
        self,
        pairs: Iterable[tuple[str | bytes, str | bytes]] | Mapping[str, str] | None = None,
    ) -> None:
        if pairs is None:
            items: Iterable[tuple[str | bytes, str | bytes]] = ()
        elif isinstance(pairs, Mapping):
            items = pairs.items()
        else:
            items = pairs
        built: list[tuple[str, str]] = []
        index: dict[str, list[str]] = {}
        for name, value in items:
            n, v = _text(name), _text(value)
            built.append((n, v))
            index.setdefault(n.lower(), []).append(v)
        self._pairs: tuple[tuple[str, str], ...] = tuple(built)
        self._map: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in index.items()}

    def get_list(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (case-insensitive), in order; empty if absent."""
        return self._map.get(name.lower(), ())

    def get(self, name: str, default: str | None = None) -> str | None:
        """The values of ``name`` joined with ``", "`` (RFC 9110 §5.3), or ``default``."""
        values = self._map.get(name.lower())
        return ", ".join(values) if values else default

    def has_any(self, names: frozenset[str]) -> bool:
        """Whether any of the lower-case ``names`` is present (one set operation)."""
        return not self._map.keys().isdisjoint(names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def names(self) -> frozenset[str]:
        """The lower-cased header names present."""
        return frozenset(self._map)

    def items(self) -> tuple[tuple[str, str], ...]:
        """All (name, value) pairs as received."""
        return self._pairs

    def __len__(self) -> int:
        return len(self._pairs)

    def __repr__(self) -> str:
        return f"Headers({list(self._pairs)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._pairs == other._pairs

    def __hash__(self) -> int:
        return hash(self._pairs)


EMPTY_HEADERS = Headers()
