"""Multipart reassembly: fragments grouped per (station, channel, sequential message id).

A group completes when every fragment number 1..n has arrived (in any order). A group is an
orphan when a fragment with a number it already holds (or a different count) starts a new
message under the same key, when it is older than the timeout, or when too many groups are
pending. Orphans are handed back so the caller can report them; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

F = TypeVar("F")
Key = tuple[str, str, str]


@dataclass(slots=True)
class _Group(Generic[F]):
    parts: list[F | None]
    t0: float
    missing: int


class Reassembler(Generic[F]):
    """Buffers fragments until complete; returns complete groups and orphaned ones."""

    def __init__(self, timeout_s: float = 10.0, max_pending: int = 10_000) -> None:
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self._groups: dict[Key, _Group[F]] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def add(
        self, key: Key, frag_num: int, frag_cnt: int, frag: F, now: float
    ) -> tuple[list[F] | None, list[list[F]]]:
        """Add one fragment; return (the completed group or None, orphaned groups)."""
        orphans: list[list[F]] = []
        group = self._groups.get(key)
        if group is not None and (
            len(group.parts) != frag_cnt or group.parts[frag_num - 1] is not None
        ):
            orphans.append(_present(self._groups.pop(key)))
            group = None
        if group is None:
            group = _Group([None] * frag_cnt, now, frag_cnt)
            self._groups[key] = group
            if len(self._groups) > self.max_pending:
                oldest = next(iter(self._groups))
                orphans.append(_present(self._groups.pop(oldest)))
        group.parts[frag_num - 1] = frag
        group.missing -= 1
        if group.missing == 0:
            del self._groups[key]
            return [p for p in group.parts if p is not None], orphans
        return None, orphans

    def expire(self, now: float) -> list[list[F]]:
        """Pop and return the groups whose first fragment is older than the timeout."""
        limit = now - self.timeout_s
        stale = [k for k, g in self._groups.items() if g.t0 < limit]
        return [_present(self._groups.pop(k)) for k in stale]

    def flush(self) -> list[list[F]]:
        """Pop every pending group (end of input)."""
        groups = [_present(g) for g in self._groups.values()]
        self._groups.clear()
        return groups


def _present(group: _Group[F]) -> list[F]:
    return [p for p in group.parts if p is not None]
