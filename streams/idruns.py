"""The fusion checkpoint's recent-id set, encoded once per id instead of once per checkpoint.

``FusionStage.recent`` holds every observation id a sector released within the dedup
horizon (30 s of event time: ~19 000 ids per sector at 10 000 readings/s). Round 7 regrouped
and re-encoded all of them on every checkpoint (once a second per sector) and, with the rest
of the state above ``PACK_AT_BYTES``, compressed them again. :class:`RecentIds` keeps them
as runs of one time bucket each, appended as they are released and dropped from the front
as they expire, so a checkpoint re-encodes nothing but the one run an expiry cut; the same
object answers the dedup lookups (round 8 kept an ``OrderedDict`` beside the runs, in step
once a sector was checkpointed). Content-hash ids (16 lowercase hex digits,
``sensors.georef``) are written as base64 of their 8 bytes (~11 characters an id instead
of 17); any other id as text.

Checkpoint form, ``recent_runs``: ``[[t, "hex8", base64], [t, "text", "id id …"], …]`` in
release order, ``t`` the newest event time of the run (an id never expires earlier than its
own time would have it). The older forms (``recent_ids``: ``[[t, "id id …"], …]``;
``recent``: ``{id: t}``) are read by :func:`iter_recent`.
"""

from __future__ import annotations

import base64
import math
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

HEX8 = "hex8"
TEXT = "text"


def encode_run(t: float, ids: list[str]) -> list[Any]:
    """One run's checkpoint form: 8 bytes an id when every id is 16 lowercase hex digits
    (decoding gives back the very same strings), else the ids as text."""
    if ids and all(len(i) == 16 for i in ids):
        s = "".join(ids)
        try:
            raw = bytes.fromhex(s)
        except ValueError:
            raw = b""
        if len(raw) == 8 * len(ids) and raw.hex() == s:  # lowercase, no whitespace
            return [t, HEX8, base64.b64encode(raw).decode("ascii")]
    return [t, TEXT, " ".join(ids)]


def decode_run(run: list[Any]) -> list[str]:
    """The ids of one ``encode_run`` output, in order."""
    _, enc, data = run
    if enc == HEX8:
        h = base64.b64decode(data).hex()
        return [h[i : i + 16] for i in range(0, len(h), 16)]
    if enc == TEXT:
        return str(data).split()
    raise ValueError(f"unknown recent-id run encoding {enc!r}")


def iter_recent(state: Mapping[str, Any]) -> Iterator[tuple[str, float]]:
    """``(id, t)`` in release order from a checkpoint of any version: ``recent`` (before
    round 4), ``recent_ids`` (rounds 4–7), ``recent_runs`` (since round 8)."""
    for k, t in (state.get("recent") or {}).items():
        yield str(k), float(t)
    for t, ids in state.get("recent_ids") or []:
        for oid in ids.split():
            yield oid, float(t)
    for run in state.get("recent_runs") or []:
        t = float(run[0])
        for oid in decode_run(run):
            yield oid, t


class _Run:
    """Ids released in one time bucket (consecutive in release order), checkpoint form cached."""

    __slots__ = ("key", "ids", "times", "newest", "enc")

    def __init__(self, key: int, ids: list[str], times: list[float]) -> None:
        self.key, self.ids, self.times = key, ids, times
        self.newest = max(times) if times else -math.inf
        self.enc: list[Any] | None = None

    def encoded(self) -> list[Any]:
        if self.enc is None:
            self.enc = encode_run(float(self.newest), self.ids)
        return self.enc


class RecentIds(Mapping[str, float]):
    """A sector's released observation ids within the dedup horizon: ``id -> t`` in release
    order for dedup (``times``, a plain dict: ``in`` at C speed), held as runs of one time
    bucket (``bucket_s``) for expiry from the front and for the checkpoint form.

    Change it only through :meth:`release` and :meth:`expire`; they behave as round 8's
    ``OrderedDict`` did (``recent[id] = t`` per released id, popped from the front while
    the oldest one's time is behind the horizon), and :meth:`encoded` equals grouping the
    ids by bucket from scratch (same ids, same newest times) without re-encoding a run
    that did not change.
    """

    __slots__ = ("bucket_s", "times", "runs")

    def __init__(self, bucket_s: float) -> None:
        self.bucket_s = bucket_s
        self.times: dict[str, float] = {}
        self.runs: deque[_Run] = deque()

    def __getitem__(self, oid: str) -> float:
        return self.times[oid]

    def __contains__(self, oid: object) -> bool:
        return oid in self.times

    def __iter__(self) -> Iterator[str]:
        return iter(self.times)

    def __len__(self) -> int:
        return len(self.times)

    def __repr__(self) -> str:
        return f"RecentIds({len(self.times)} ids, {len(self.runs)} runs)"

    def release(self, ids: list[str], times: list[float]) -> None:
        """Remember released ids with their event times, after those released before."""
        d = self.times
        n0 = len(d)
        d.update(zip(ids, times, strict=True))
        if len(d) != n0 + len(ids):  # an id again (never from ``FusionStage``): its time
            self._regroup()  # changed where it stands, as an OrderedDict's would
            return
        runs, b = self.runs, self.bucket_s
        last = runs[-1] if runs else None
        for oid, t in zip(ids, times, strict=True):
            key = math.floor(t / b)
            if last is None or key != last.key:
                last = _Run(key, [], [])
                runs.append(last)
            last.ids.append(oid)
            last.times.append(t)
            if t > last.newest:
                last.newest = t
            last.enc = None

    def expire(self, horizon: float) -> None:
        """Forget ids from the oldest released on while their time is behind ``horizon``."""
        runs, d = self.runs, self.times
        while runs:
            run = runs[0]
            if run.newest < horizon:  # all of the run, as id by id would
                for oid in run.ids:
                    del d[oid]
                runs.popleft()
                continue
            ts, k = run.times, 0
            while ts[k] < horizon:  # stops inside the run: its newest is not behind
                k += 1
            if k:
                for oid in run.ids[:k]:
                    del d[oid]
                del run.ids[:k], run.times[:k]
                run.newest, run.enc = max(ts), None
            return

    def encoded(self) -> list[list[Any]]:
        """The checkpoint form, ``recent_runs`` (module doc)."""
        return [run.encoded() for run in self.runs]

    def _regroup(self) -> None:
        """Runs from ``times`` (vectorised: ~19 000 ids a sector)."""
        self.runs.clear()
        d, b = self.times, self.bucket_s
        if not d:
            return
        ids = list(d)
        times = np.fromiter(d.values(), float, len(ids))
        keys = np.floor(times / b)
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]).tolist()
        ends = [*starts[1:], len(ids)]
        tl = times.tolist()
        for a, e in zip(starts, ends, strict=True):
            self.runs.append(_Run(math.floor(tl[a] / b), ids[a:e], tl[a:e]))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, float]], bucket_s: float) -> RecentIds:
        """From ``(id, t)`` in release order (:func:`iter_recent`; an id given twice keeps
        its first place and its last time, as building a dict does)."""
        out = cls(bucket_s)
        out.times = dict(pairs)
        out._regroup()
        return out
