"""The fusion checkpoint's recent-id set, encoded once per id instead of once per checkpoint.

``FusionStage.recent`` holds every observation id a sector released within the dedup
horizon (30 s of event time: ~19 000 ids per sector at 10 000 readings/s). Round 7 regrouped
and re-encoded all of them on every checkpoint (once a second per sector) and, with the rest
of the state above ``PACK_AT_BYTES``, compressed them again. :class:`IdRunLog` keeps the
same ids in the same order as runs of one time bucket each, appended as they are released
and dropped from the front as they expire, so a checkpoint re-encodes nothing but the one
run an expiry cut. Content-hash ids (16 lowercase hex digits, ``sensors.georef``) are
written as base64 of their 8 bytes (~11 characters an id instead of 17); any other id as
text.

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
    """Ids released in one time bucket (consecutive in ``recent``), checkpoint form cached."""

    __slots__ = ("key", "ids", "times", "enc")

    def __init__(self, key: int, ids: list[str], times: list[float]) -> None:
        self.key, self.ids, self.times = key, ids, times
        self.enc: list[Any] | None = None

    def encoded(self) -> list[Any]:
        if self.enc is None:
            self.enc = encode_run(float(max(self.times)), self.ids)
        return self.enc


class IdRunLog:
    """``recent``'s ids in insertion order as runs of one time bucket (``bucket_s``).

    Kept in step by its owner: :meth:`append` what is added to ``recent`` (only new ids),
    :meth:`drop` as many as expire from its front. :meth:`encoded` equals the runs that
    grouping the whole of ``recent`` by bucket would give (same ids, same newest times).
    """

    def __init__(self, bucket_s: float) -> None:
        self.bucket_s = bucket_s
        self.runs: deque[_Run] = deque()
        self.n = 0  # ids held

    def append(self, ids: Iterable[str], times: Iterable[float]) -> None:
        runs, b = self.runs, self.bucket_s
        last = runs[-1] if runs else None
        for oid, t in zip(ids, times, strict=True):
            key = math.floor(t / b)
            if last is None or key != last.key:
                last = _Run(key, [], [])
                runs.append(last)
            last.ids.append(oid)
            last.times.append(t)
            last.enc = None
            self.n += 1

    def drop(self, n: int) -> None:
        """Forget the ``n`` oldest ids (expired from the front of ``recent``)."""
        runs = self.runs
        while n > 0 and runs:
            run = runs[0]
            if len(run.ids) <= n:
                runs.popleft()
                n -= len(run.ids)
                self.n -= len(run.ids)
            else:
                del run.ids[:n], run.times[:n]
                run.enc = None
                self.n -= n
                n = 0

    def encoded(self) -> list[list[Any]]:
        return [run.encoded() for run in self.runs]

    @classmethod
    def from_recent(cls, recent: Mapping[str, float], bucket_s: float) -> IdRunLog:
        """The log of an existing ``recent`` (vectorised: ~19 000 ids per sector)."""
        log = cls(bucket_s)
        if not recent:
            return log
        ids = list(recent)
        times = np.fromiter(recent.values(), float, len(ids))
        keys = np.floor(times / bucket_s)
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]).tolist()
        ends = [*starts[1:], len(ids)]
        tl = times.tolist()
        for a, b in zip(starts, ends, strict=True):
            log.runs.append(_Run(math.floor(tl[a] / bucket_s), ids[a:b], tl[a:b]))
        log.n = len(ids)
        return log
