"""Last known static data per MMSI, bounded with least-recently-used eviction.

Static data (types 5, 19, 21, 24) arrives every few minutes, positions every few seconds;
positions are enriched from this cache. The bound keeps memory flat on a busy feed:
100 000 vessels cost roughly 30 MB.
"""

from __future__ import annotations

from collections import OrderedDict

from sensors.ais.model import STATIC_FIELDS, AisRecord

StaticData = dict[str, object]


class StaticCache:
    """MMSI → static fields; ``update`` learns from a record, ``merge`` fills a record's gaps."""

    def __init__(self, max_size: int = 100_000) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self._data: OrderedDict[int, StaticData] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, mmsi: int) -> StaticData | None:
        return self._data.get(mmsi)

    def update(self, rec: AisRecord) -> None:
        """Remember the non-null static fields of ``rec`` (newer values win)."""
        new = {f: v for f in STATIC_FIELDS if (v := getattr(rec, f)) is not None}
        if not new:
            return
        entry = self._data.get(rec.mmsi)
        if entry is None:
            self._data[rec.mmsi] = new
            if len(self._data) > self.max_size:
                self._data.popitem(last=False)
        else:
            entry.update(new)
            self._data.move_to_end(rec.mmsi)

    def merge(self, rec: AisRecord) -> None:
        """Fill the null static fields of ``rec`` from what is known about its MMSI."""
        entry = self._data.get(rec.mmsi)
        if entry is None:
            return
        self._data.move_to_end(rec.mmsi)
        for f, v in entry.items():
            if getattr(rec, f) is None:
                setattr(rec, f, v)
