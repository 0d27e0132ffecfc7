"""All tracks of a sector as parallel arrays: one row per track, no per-track objects.

Rows stay in creation order, so the integer track numbers in ``num`` are sorted and a track
is found by binary search. Compaction (``keep``) preserves that order.

Checkpoint format (``to_dict``): each array as base64 of its little-endian bytes
(``"encoding": "b64le"``), not nested lists: it is written on every sector checkpoint, and
``tolist`` of ``P``/``seen``/``seen_t`` plus their JSON encoding and ``asarray`` on restore
were most of the checkpoint's cost (issue 9). Bytes round-trip every float exactly;
``from_dict`` still reads the older nested-list states.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

N_CLASSES = 5
TENTATIVE = 0
CONFIRMED = 1

# column name -> (dtype, trailing shape); "seen" has a variable sensor dimension
_COLUMNS: dict[str, tuple[type, tuple[int, ...]]] = {
    "num": (np.int64, ()),
    "x": (np.float64, (4,)),
    "P": (np.float64, (4, 4)),
    "t": (np.float64, ()),
    "status": (np.int8, ()),
    "hits": (np.int32, ()),
    "opps": (np.int32, ()),
    "misses": (np.int32, ()),
    "qscale": (np.float64, ()),
    "cls": (np.float64, (N_CLASSES,)),
    "mmsi": (np.int64, ()),
    "last_opp": (np.float64, ()),  # time of the last counted detection opportunity
    # duplicate-track test (``SectorTracker._dedupe``): consecutive checks in which this
    # track and track ``dup_of`` were one target's state
    "dup_n": (np.int32, ()),
    "dup_of": (np.int64, ()),
}
# columns an ``append`` or an older snapshot may leave out, and their fill value
_OPTIONAL: dict[str, float] = {"dup_n": 0, "dup_of": -1}


_ENCODING = "b64le"


def _encode(a: NDArray[Any], dtype: Any) -> str:
    """Base64 of the array's little-endian bytes as ``dtype`` (the column's, C order)."""
    le = np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<"))
    return base64.b64encode(le.tobytes()).decode("ascii")


def _decode(v: Any, dtype: Any, shape: tuple[int, ...]) -> NDArray[Any]:
    """A column from ``_encode``'s string or from the older nested lists; writable, native."""
    if isinstance(v, str):
        raw = np.frombuffer(base64.b64decode(v), dtype=np.dtype(dtype).newbyteorder("<"))
        return raw.astype(dtype).reshape(shape)  # astype copies: frombuffer is read-only
    return np.asarray(v, dtype=dtype).reshape(shape)


class TrackStore:
    """Column store of tracks. ``seen[i, s]`` marks sensor ``s`` as a contributor of track i,
    ``seen_t[i, s]`` the time of its latest contribution (``sources`` lists recent ones)."""

    def __init__(self, n_sensors: int = 0) -> None:
        self.cols: dict[str, NDArray[Any]] = {
            k: np.empty((0, *shape), dtype=dt) for k, (dt, shape) in _COLUMNS.items()
        }
        self.seen: NDArray[np.bool_] = np.zeros((0, n_sensors), dtype=bool)
        self.seen_t: NDArray[np.float64] = np.zeros((0, n_sensors))
        self.names: dict[int, str] = {}
        # spare rows behind the arrays (``_grow``): name -> (buffer, the view handed out)
        self._spare: dict[str, tuple[NDArray[Any], NDArray[Any]]] = {}

    def __len__(self) -> int:
        return int(self.cols["num"].shape[0])

    # columns as attributes (``store.x``): ``property`` objects set below the class, since a
    # ``__getattr__`` fallback costs an internal AttributeError per access (~15 per call)
    num: NDArray[np.int64]
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    t: NDArray[np.float64]
    status: NDArray[np.int8]
    hits: NDArray[np.int32]
    opps: NDArray[np.int32]
    misses: NDArray[np.int32]
    qscale: NDArray[np.float64]
    cls: NDArray[np.float64]
    mmsi: NDArray[np.int64]
    last_opp: NDArray[np.float64]
    dup_n: NDArray[np.int32]
    dup_of: NDArray[np.int64]

    def ensure_sensors(self, n_sensors: int) -> None:
        """Widen ``seen`` when a new sensor appears."""
        extra = n_sensors - self.seen.shape[1]
        if extra > 0:
            self.seen = np.hstack([self.seen, np.zeros((len(self), extra), dtype=bool)])
            self.seen_t = np.hstack([self.seen_t, np.zeros((len(self), extra))])

    def credit(
        self, rows: int | NDArray[np.intp], sensor: int | NDArray[np.intp], t: ArrayLike
    ) -> None:
        """Record ``sensor`` (one, or one per row) as a source of ``rows`` at times ``t``
        without touching their state (an out-of-sequence observation already superseded);
        never moves a time back."""
        self.seen[rows, sensor] = True
        np.maximum.at(self.seen_t, (rows, sensor), t)  # type: ignore[arg-type]

    def append(self, seen: NDArray[np.bool_], **values: ArrayLike) -> None:
        """Append rows; every column but ``_OPTIONAL``'s must be given (same length).
        Contributions are dated at the rows' ``t``."""
        rows = len(np.asarray(values["t"]).reshape(-1))
        for k, (dt, _) in _COLUMNS.items():
            v = values[k] if k in values else np.full(rows, _OPTIONAL[k])
            self.cols[k] = self._grow(k, self.cols[k], np.asarray(v, dtype=dt))
        self.seen = self._grow("seen", self.seen, np.asarray(seen, dtype=bool))
        t = np.asarray(values["t"], float).reshape(-1, 1)
        self.seen_t = self._grow("seen_t", self.seen_t, np.where(seen, t, 0.0))

    def _grow(self, name: str, a: NDArray[Any], new: NDArray[Any]) -> NDArray[Any]:
        """``a`` with rows ``new`` appended, as a view of a buffer with spare rows.

        A sector's tracker appends a few tracks per scan to ~1 000 (radar clutter) and
        deletes as many: concatenating every column (``seen_t`` alone is tracks × sensors
        floats) on every append was ~3 % of the tracker under backlog. Same values as
        ``np.concatenate``; an array replaced from outside (not the view handed out) just
        starts a new buffer."""
        n, k = a.shape[0], new.shape[0]
        spare = self._spare.get(name)
        if (
            spare is None
            or spare[1] is not a
            or spare[0].shape[0] < n + k
            or spare[0].shape[1:] != a.shape[1:]
            or spare[0].dtype != a.dtype
        ):
            buf = np.empty((max(2 * (n + k), 64), *a.shape[1:]), dtype=a.dtype)
            buf[:n] = a
        else:
            buf = spare[0]
        buf[n : n + k] = new
        view = buf[: n + k]
        self._spare[name] = (buf, view)
        return view

    def _compact(
        self, name: str, a: NDArray[Any], mask: NDArray[np.bool_], first: int, n_keep: int
    ) -> NDArray[Any]:
        """``a[mask]``: in place from row ``first`` (the first dropped one) when ``a`` is our
        buffer's view; the rows before it do not move (deleted tracks are mostly young
        clutter at the end, so little is copied)."""
        spare = self._spare.get(name)
        if spare is None or spare[1] is not a:
            return a[mask]
        buf = spare[0]
        buf[first:n_keep] = a[first:][mask[first:]]  # fancy index copies before the write
        view = buf[:n_keep]
        self._spare[name] = (buf, view)
        return view

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Drop rows where ``mask`` is False (arrays taken from the store before may see
        their rows move: take copies, as fancy indexing does)."""
        first = int(np.argmin(mask)) if mask.size else 0
        n_keep = int(np.count_nonzero(mask))
        for k in self.cols:
            self.cols[k] = self._compact(k, self.cols[k], mask, first, n_keep)
        self.seen = self._compact("seen", self.seen, mask, first, n_keep)
        self.seen_t = self._compact("seen_t", self.seen_t, mask, first, n_keep)
        if self.names:  # most stores name no track (names come from AIS)
            alive = set(self.cols["num"].tolist())
            self.names = {k: v for k, v in self.names.items() if k in alive}

    def index_of(self, nums: NDArray[np.int64]) -> NDArray[np.intp]:
        """Row indices of track numbers (-1 where absent)."""
        num = self.cols["num"]
        idx = np.searchsorted(num, nums)
        idx = np.minimum(idx, max(len(num) - 1, 0))
        found = (len(num) > 0) & (num[idx] == nums) if len(num) else np.zeros_like(nums, bool)
        return np.where(found, idx, -1).astype(np.intp)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: strings (arrays, see module doc), numbers and a list of names."""
        out: dict[str, Any] = {k: _encode(self.cols[k], dt) for k, (dt, _) in _COLUMNS.items()}
        # ``seen`` as bits, ``seen_t`` only where seen (it is 0 elsewhere): with ~50 sensors
        # a sector the two were over half of a busy checkpoint (issue 9, round 8)
        out["seen_bits"] = _encode(np.packbits(self.seen, axis=None), np.uint8)
        if self.seen_t[~self.seen].view(np.uint64).any():  # (not expected): all of it
            out["seen_t"] = _encode(self.seen_t, np.float64)
        else:
            out["seen_t_at_seen"] = _encode(self.seen_t[self.seen], np.float64)
        out["n_sensors"] = int(self.seen.shape[1])
        out["names"] = [[k, v] for k, v in sorted(self.names.items())]
        out["encoding"] = _ENCODING
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrackStore:
        """Reads ``to_dict``'s output and the older plain-list states."""
        enc = d.get("encoding")
        if enc not in (None, _ENCODING):
            raise ValueError(f"unknown track store encoding {enc!r}")
        n_sensors = int(d["n_sensors"])
        store = cls(n_sensors)
        for k, (dt, shape) in _COLUMNS.items():
            if k in _OPTIONAL and k not in d:  # older snapshots: no duplicate-test state
                store.cols[k] = np.full(len(store.cols["num"]), _OPTIONAL[k], dtype=dt)
                continue
            v = d.get(k, d["t"] if k == "last_opp" else None)  # older snapshots: no last_opp
            store.cols[k] = _decode(v, dt, (-1, *shape))
        # (rows, sensors) from the row count: reshape(-1, 0) is undefined for a sensorless store
        shape = (len(store), n_sensors)
        if "seen_bits" in d:
            bits = _decode(d["seen_bits"], np.uint8, (-1,))
            store.seen = np.unpackbits(bits, count=shape[0] * shape[1]).astype(bool).reshape(shape)
        else:  # before round 8: one byte a flag
            store.seen = _decode(d["seen"], bool, shape)
        if "seen_t_at_seen" in d:
            store.seen_t = np.zeros(shape)
            store.seen_t[store.seen] = _decode(d["seen_t_at_seen"], np.float64, (-1,))
        elif "seen_t" in d:
            store.seen_t = _decode(d["seen_t"], np.float64, store.seen.shape)
        else:  # older snapshots: every contribution dated at the track's last update
            store.seen_t = np.where(store.seen, store.cols["t"][:, None], 0.0)
        store.names = {int(k): str(v) for k, v in d["names"]}
        return store


def _column(name: str) -> property:
    def get(self: TrackStore) -> NDArray[Any]:
        return self.cols[name]

    return property(get, doc=f"column {name!r}")


for _name in _COLUMNS:
    setattr(TrackStore, _name, _column(_name))
