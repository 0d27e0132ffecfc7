"""Append-only, hash-chained archive segments on local disk (pure: no Kafka here).

Layout under ``root`` (one directory per unprefixed topic)::

    <topic>/chain.jsonl                                  the topic's hash chain (manifests)
    <topic>/<YYYY-MM-DD>/<HHMMSS>-<seq>.seg.jsonl.gz     segments, one per time bucket
    quarantine/<topic>/…                                 bytes cut off a torn segment

A segment is a concatenation of gzip members, one per flush; each member holds JSON lines
``{"p": partition, "o": offset, "ts": kafka_time_s, "k": key, "t": event_time, "v": raw}``
with the record's value kept byte-for-byte as text (``"vb"``: base64 if not UTF-8).
Appending whole members and fsyncing after each is what makes a crash cheap: at worst the
last member is partial, and recovery cuts it off (moving the bytes aside) and re-derives
the state from what is complete.

When a segment is closed (its time bucket is over, or it grew past the size cap) a
manifest is appended to ``chain.jsonl``: record count, first/last event time, first/last
Kafka offset per partition, SHA-256 of the segment bytes and the SHA-256 of the previous
manifest. Editing, removing or reordering a segment or a manifest breaks the chain and
:func:`verify_archive` names the first segment where it breaks. Retention deletes whole
segments and records that in the chain too (a ``retention`` entry), so a deliberate
deletion is distinguishable from a missing file. One chain per topic: topics are written
independently, so no writer waits on another.

Idempotence: each topic keeps the highest stored offset per partition (derived from the
manifests and the open segment on start, never from a separate state file that could
disagree); a redelivered record at or below it is skipped.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sensors.durable import TornWrite, append_or_cut
from streams.topics import ACKS, ALERTS, READINGS

log = logging.getLogger(__name__)

ARCHIVED_TOPICS: tuple[str, ...] = (*READINGS, ALERTS, ACKS)
GENESIS = "0" * 64
CHAIN = "chain.jsonl"
SEG_SUFFIX = ".seg.jsonl.gz"
_SEG_RE = re.compile(r"^(\d{6})-(\d{6,})\.seg\.jsonl\.gz$")


# ---------------------------------------------------------------- records


def event_time(topic: str, value: Any) -> float | None:
    """The event time a record is filed under: ``t`` of a reading (the earliest of a
    batch), ``t_last`` of an alert version, ``t`` of an ack."""
    key = "t_last" if topic == ALERTS else "t"
    items = value if isinstance(value, list) else [value]
    ts = [
        float(v[key])
        for v in items
        if isinstance(v, dict) and isinstance(v.get(key), (int, float)) and math.isfinite(v[key])
    ]
    return min(ts) if ts else None


@dataclass(frozen=True, slots=True)
class ArchiveRecord:
    """One Kafka record as archived. ``ts`` (Kafka timestamp, s) picks the segment;
    ``t`` (event time) is what windows and exports select on."""

    topic: str
    partition: int
    offset: int
    ts: float
    key: str | None
    value: str | bytes
    t: float | None = None

    @classmethod
    def from_kafka(
        cls,
        topic: str,
        partition: int,
        offset: int,
        timestamp_ms: float | None,
        key: bytes | str | None,
        value: bytes | str | None,
    ) -> ArchiveRecord:
        raw: str | bytes = value if value is not None else b""
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                pass
        try:
            t = event_time(topic, json.loads(raw)) if isinstance(raw, str) else None
        except ValueError:
            t = None
        k = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        ts = (timestamp_ms / 1000.0) if timestamp_ms and timestamp_ms > 0 else time.time()
        return cls(topic, partition, offset, ts, k, raw, t)

    def json(self) -> Any:
        """The value parsed as JSON (raises ``ValueError`` on a non-JSON value)."""
        if isinstance(self.value, bytes):
            raise ValueError("binary value")
        return json.loads(self.value)

    def to_line(self) -> bytes:
        d: dict[str, Any] = {
            "p": self.partition,
            "o": self.offset,
            "ts": self.ts,
            "k": self.key,
            "t": self.t,
        }
        if isinstance(self.value, bytes):
            d["vb"] = base64.b64encode(self.value).decode()
        else:
            d["v"] = self.value
        return (json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_line(cls, topic: str, line: bytes | str) -> ArchiveRecord:
        d = json.loads(line)
        value = base64.b64decode(d["vb"]) if "vb" in d else d["v"]
        return cls(topic, int(d["p"]), int(d["o"]), float(d["ts"]), d.get("k"), value, d.get("t"))


# ---------------------------------------------------------------- chain


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a chain entry without its own ``hash``."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_chain(topic_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The chain entries of one topic, and the problems reading them (unparseable lines)."""
    path = topic_dir / CHAIN
    if not path.exists():
        return [], []
    entries, problems = [], []
    for n, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            problems.append(f"{topic_dir.name}/{CHAIN} line {n} is not JSON")
    return entries, problems


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def scan_members(data: bytes | memoryview) -> tuple[list[bytes], int, str | None]:
    """Walk the gzip members of a segment: (payloads of complete members, byte length of
    that complete prefix, why the rest is unusable — ``torn``/``corrupt`` — or None)."""
    view = memoryview(data)
    payloads: list[bytes] = []
    pos = 0
    while pos < len(view):
        d = zlib.decompressobj(wbits=31)
        try:
            out = d.decompress(view[pos:])
        except zlib.error:
            return payloads, pos, "corrupt"
        if not d.eof:
            return payloads, pos, "torn"
        payloads.append(out)
        pos = len(view) - len(d.unused_data)
    return payloads, pos, None


def segment_seq(path: Path) -> int | None:
    m = _SEG_RE.match(path.name)
    return int(m.group(2)) if m else None


# ---------------------------------------------------------------- writer state


def _append_durably(path: Path, data: bytes, fsync: bool) -> None:
    """Append ``data`` to ``path`` and fsync, or not at all (``sensors.durable``): start-up
    recovery only repairs a torn *tail*, so a member or manifest line that failed part-way
    (a full disk) must not stay behind the next one."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        append_or_cut(fd, data, fsync)
    except TornWrite:
        log.exception("archive: could not cut a failed write back", extra={"path": str(path)})
        raise
    finally:
        os.close(fd)


@dataclass
class _Stats:
    """What a manifest says about a segment, accumulated while it is open."""

    records: int = 0
    t_first: float | None = None
    t_last: float | None = None
    ts_first: float | None = None
    ts_last: float | None = None
    offsets: dict[int, list[int]] = field(default_factory=dict)

    def add(self, r: ArchiveRecord) -> None:
        self.records += 1
        if r.t is not None:
            self.t_first = r.t if self.t_first is None else min(self.t_first, r.t)
            self.t_last = r.t if self.t_last is None else max(self.t_last, r.t)
        self.ts_first = r.ts if self.ts_first is None else min(self.ts_first, r.ts)
        self.ts_last = r.ts if self.ts_last is None else max(self.ts_last, r.ts)
        span = self.offsets.get(r.partition)
        if span is None:
            self.offsets[r.partition] = [r.offset, r.offset]
        else:
            span[0], span[1] = min(span[0], r.offset), max(span[1], r.offset)


@dataclass
class _OpenSegment:
    path: Path
    seq: int
    bucket: float
    size: int = 0
    stats: _Stats = field(default_factory=_Stats)


@dataclass
class _Topic:
    name: str
    dir: Path
    n: int = 0  # chain entries so far
    seq: int = 0  # last closed segment seq
    head: str = GENESIS
    hwm: dict[int, int] = field(default_factory=dict)
    open: _OpenSegment | None = None
    durable_ts: float | None = None


@dataclass
class RepairReport:
    """What start-up recovery found and did; empty lists mean a clean shutdown."""

    truncated: list[str] = field(default_factory=list)  # "path: cut N bytes (torn|corrupt)"
    quarantined: list[str] = field(default_factory=list)  # where cut-off bytes were moved
    closed: list[str] = field(default_factory=list)  # unclosed older segments now chained
    chain_repaired: list[str] = field(default_factory=list)
    removed_empty: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.truncated
            or self.quarantined
            or self.closed
            or self.chain_repaired
            or self.removed_empty
        )


class ArchiveStore:
    """Writer of one archive root. One writer per root (an ``flock`` enforces it).

    ``segment_s`` is the time bucket of a segment (default an hour, by Kafka timestamp);
    records are appended in arrival order and never moved back into a closed bucket.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        segment_s: float = 3600.0,
        max_segment_bytes: int = 256 << 20,
        fsync: bool = True,
        topics: Iterable[str] = ARCHIVED_TOPICS,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.segment_s = float(segment_s)
        self.max_segment_bytes = max_segment_bytes
        self.fsync = fsync
        self._lock = open(self.root / ".lock", "a+")  # noqa: SIM115 - held for our lifetime
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock.close()
            raise RuntimeError(f"archive {self.root} is already open by another writer") from exc
        self.topics: dict[str, _Topic] = {}
        self.repair = RepairReport()
        for name in topics:
            self.topics[name] = self._recover(name)
        if not self.repair.clean:
            log.warning("archive repaired on start", extra={"repair": vars(self.repair)})

    # ---------------------------------------------------------------- public API

    def next_offset(self, topic: str, partition: int) -> int | None:
        """The offset to resume ``topic``/``partition`` from (None: nothing stored yet)."""
        hwm = self.topics[topic].hwm.get(partition)
        return None if hwm is None else hwm + 1

    def durable_ts(self, topic: str) -> float | None:
        """Kafka timestamp of the newest durable record of ``topic`` (for ARCHIVE_LAG)."""
        return self.topics[topic].durable_ts

    def append(self, records: Iterable[ArchiveRecord]) -> int:
        """Store records durably (fsync before returning); return how many were new.

        A record at or below its partition's high-water offset is a redelivery and skipped.
        """
        by_topic: dict[str, list[ArchiveRecord]] = {}
        for r in records:
            by_topic.setdefault(r.topic, []).append(r)
        stored = 0
        for name, recs in by_topic.items():
            tp = self.topics.get(name)
            if tp is None:
                raise KeyError(f"topic {name!r} is not archived")
            stored += self._append_topic(tp, recs)
        return stored

    def close_due(self, now: float | None = None, grace_s: float = 60.0) -> list[dict[str, Any]]:
        """Close open segments whose bucket ended more than ``grace_s`` ago."""
        now = time.time() if now is None else now
        out = []
        for tp in self.topics.values():
            if tp.open and tp.open.bucket + self.segment_s + grace_s <= now:
                out.append(self._close(tp))
        return out

    def seal(self) -> list[dict[str, Any]]:
        """Close every open segment now (e.g. before handing the archive over)."""
        return [self._close(tp) for tp in self.topics.values() if tp.open]

    def apply_retention(
        self, days: float | Mapping[str, float], now: float | None = None
    ) -> list[dict[str, Any]]:
        """Delete closed segments whose newest record (Kafka time) is older than the
        topic's retention; each deletion is recorded in the chain first."""
        now = time.time() if now is None else now
        out = []
        for tp in self.topics.values():
            d = days.get(tp.name) if isinstance(days, Mapping) else days
            if d is None or d <= 0:
                continue
            cutoff = now - d * 86400.0
            entries, _ = read_chain(tp.dir)
            gone = {s["seq"] for e in entries if e.get("type") == "retention" for s in e["deleted"]}
            old = [
                e
                for e in entries
                if e.get("type") == "segment"
                and e["seq"] not in gone
                and (e.get("ts_last") or 0) < cutoff
            ]
            if not old:
                continue
            entry = self._chain_append(
                tp,
                {
                    "type": "retention",
                    "at": now,
                    "retention_days": d,
                    "deleted": [
                        {"seq": e["seq"], "path": e["path"], "sha256": e["sha256"]} for e in old
                    ],
                },
            )
            for e in old:
                (tp.dir / e["path"]).unlink(missing_ok=True)
            out.append(entry)
        return out

    def close(self) -> None:
        """Release the lock; open segments stay open and are resumed by the next writer."""
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    def __enter__(self) -> ArchiveStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- writing

    def _append_topic(self, tp: _Topic, recs: list[ArchiveRecord]) -> int:
        pending: list[ArchiveRecord] = []
        stored = 0
        seen = dict(tp.hwm)  # this call's view; ``tp.hwm`` moves only once a write is durable
        for r in recs:
            hwm = seen.get(r.partition)
            if hwm is not None and r.offset <= hwm:
                continue
            seen[r.partition] = r.offset
            bucket = math.floor(r.ts / self.segment_s) * self.segment_s
            seg = tp.open
            if seg is not None and (bucket > seg.bucket or seg.size >= self.max_segment_bytes):
                self._write(tp, pending)
                pending = []
                self._close(tp)
                seg = None
            if seg is None:
                self._open(tp, bucket)
            pending.append(r)
            stored += 1
        self._write(tp, pending)
        return stored

    def _open(self, tp: _Topic, bucket: float) -> None:
        when = datetime.fromtimestamp(bucket, UTC)
        rel = (
            Path(when.strftime("%Y-%m-%d"))
            / f"{when.strftime('%H%M%S')}-{tp.seq + 1:06d}{SEG_SUFFIX}"
        )
        path = tp.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tp.open = _OpenSegment(path, tp.seq + 1, bucket)

    def _write(self, tp: _Topic, recs: list[ArchiveRecord]) -> None:
        if not recs:
            return
        seg = tp.open
        assert seg is not None
        import gzip

        member = gzip.compress(b"".join(r.to_line() for r in recs), compresslevel=6, mtime=0)
        new = not seg.path.exists()
        _append_durably(seg.path, member, self.fsync)
        if new and self.fsync:
            _fsync_dir(seg.path.parent)
        seg.size += len(member)
        for r in recs:
            seg.stats.add(r)
            if r.offset > tp.hwm.get(r.partition, -1):
                tp.hwm[r.partition] = r.offset
        tp.durable_ts = max(tp.durable_ts or 0.0, max(r.ts for r in recs))

    def _close(self, tp: _Topic) -> dict[str, Any]:
        seg = tp.open
        assert seg is not None
        st = seg.stats
        entry = self._chain_append(
            tp,
            {
                "type": "segment",
                "seq": seg.seq,
                "path": str(seg.path.relative_to(tp.dir)),
                "bucket": seg.bucket,
                "records": st.records,
                "bytes": seg.path.stat().st_size,
                "sha256": file_sha256(seg.path),
                "t_first": st.t_first,
                "t_last": st.t_last,
                "ts_first": st.ts_first,
                "ts_last": st.ts_last,
                "offsets": {str(p): span for p, span in sorted(st.offsets.items())},
                "closed_at": time.time(),
            },
        )
        tp.seq = seg.seq
        tp.open = None
        return entry

    def _chain_append(self, tp: _Topic, body: dict[str, Any]) -> dict[str, Any]:
        entry = {"n": tp.n + 1, **body, "prev": tp.head}
        entry["hash"] = entry_hash(entry)
        tp.dir.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        _append_durably(tp.dir / CHAIN, line, self.fsync)
        tp.n, tp.head = entry["n"], entry["hash"]
        return entry

    # ---------------------------------------------------------------- recovery

    def _recover(self, name: str) -> _Topic:
        tdir = self.root / name
        tp = _Topic(name, tdir)
        self._repair_chain_tail(tdir)
        entries, _ = read_chain(tdir)
        for e in entries:
            tp.n, tp.head = int(e.get("n", tp.n + 1)), e["hash"]
            if e.get("type") == "segment":
                tp.seq = max(tp.seq, int(e["seq"]))
                for p, (_first, last) in e.get("offsets", {}).items():
                    tp.hwm[int(p)] = max(tp.hwm.get(int(p), -1), int(last))
                if e.get("ts_last") is not None:
                    tp.durable_ts = max(tp.durable_ts or 0.0, float(e["ts_last"]))
        unclosed = sorted(
            (p for p in tdir.glob(f"*/*{SEG_SUFFIX}") if (segment_seq(p) or 0) > tp.seq),
            key=lambda p: segment_seq(p) or 0,
        )
        for path in unclosed:
            seg = self._recover_segment(tp, path)
            if seg is None:
                continue
            if tp.open is not None:  # an older unclosed segment: chain it now
                self.repair.closed.append(str(tp.open.path))
                self._close(tp)
            tp.open = seg
        return tp

    def _repair_chain_tail(self, tdir: Path) -> None:
        path = tdir / CHAIN
        if not path.exists():
            return
        data = path.read_bytes()
        keep = len(data)
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
        else:
            last = data[:-1].rfind(b"\n") + 1 if data else 0
            try:
                if data:
                    json.loads(data[last:])
            except ValueError:
                keep = last
        if keep < len(data):
            with open(path, "r+b") as fh:
                fh.truncate(keep)
                os.fsync(fh.fileno())
            self.repair.chain_repaired.append(
                f"{path}: dropped a torn last line ({len(data) - keep} bytes)"
            )

    def _recover_segment(self, tp: _Topic, path: Path) -> _OpenSegment | None:
        data = path.read_bytes()
        payloads, good, why = scan_members(data)
        seg = _OpenSegment(path, segment_seq(path) or tp.seq + 1, 0.0)
        recs: list[ArchiveRecord] = []
        for i, payload in enumerate(payloads):
            try:
                member = [
                    ArchiveRecord.from_line(tp.name, ln)
                    for ln in payload.splitlines()
                    if ln.strip()
                ]
            except (ValueError, KeyError):
                good = _member_prefix_len(data, i)
                why = "corrupt"
                break
            recs.extend(member)
        if why is not None:
            qdir = self.root / "quarantine" / tp.name
            qdir.mkdir(parents=True, exist_ok=True)
            qpath = qdir / f"{path.name}.{good}.{why}"
            qpath.write_bytes(data[good:])
            with open(path, "r+b") as fh:
                fh.truncate(good)
                os.fsync(fh.fileno())
            self.repair.truncated.append(f"{path}: cut {len(data) - good} bytes ({why})")
            self.repair.quarantined.append(str(qpath))
        if good == 0:
            path.unlink()
            self.repair.removed_empty.append(str(path))
            return None
        m = _SEG_RE.match(path.name)
        day = path.parent.name
        if m:
            seg.bucket = (
                datetime.strptime(f"{day} {m.group(1)}", "%Y-%m-%d %H%M%S")
                .replace(tzinfo=UTC)
                .timestamp()
            )
        seg.size = good
        for r in recs:
            seg.stats.add(r)
            tp.hwm[r.partition] = max(tp.hwm.get(r.partition, -1), r.offset)
            tp.durable_ts = max(tp.durable_ts or 0.0, r.ts)
        return seg


def _member_prefix_len(data: bytes, members: int) -> int:
    """Byte length of the first ``members`` gzip members of ``data``."""
    view = memoryview(data)
    pos = 0
    for _ in range(members):
        d = zlib.decompressobj(wbits=31)
        d.decompress(view[pos:])
        pos = len(view) - len(d.unused_data)
    return pos


# ---------------------------------------------------------------- reading and verifying


def iter_segment(path: Path, topic: str) -> Iterator[ArchiveRecord]:
    """Records of one segment file; stops quietly at a partial last member (a segment
    being written right now)."""
    payloads, _, _ = scan_members(path.read_bytes())
    for payload in payloads:
        for line in payload.splitlines():
            if line.strip():
                yield ArchiveRecord.from_line(topic, line)


@dataclass
class Problem:
    topic: str
    kind: str  # altered | missing | chain_broken | manifest_altered | unreadable
    path: str | None
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = f"{self.topic}/{self.path}" if self.path else self.topic
        return (
            f"{self.kind}: {where}"
            + (f" (seq {self.seq})" if self.seq else "")
            + f" — {self.detail}"
        )


@dataclass
class VerifyReport:
    ok: bool
    problems: list[Problem]
    segments: int
    bytes: int
    seconds: float
    heads: dict[str, str]
    open_segments: list[str]

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None


def archive_topics(root: Path) -> list[str]:
    """Topic directories present under ``root`` (those with a chain or segments)."""
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir()
        and p.name != "quarantine"
        and ((p / CHAIN).exists() or any(p.glob(f"*/*{SEG_SUFFIX}")))
    )


def verify_archive(root: Path | str, progress: Any = None) -> VerifyReport:
    """Recompute every manifest hash, chain link and segment SHA-256.

    Problems are listed in chain order per topic; a retention entry's deletions are
    expected absences, anything else absent is ``missing``.
    """
    root = Path(root)
    t0 = time.perf_counter()
    problems: list[Problem] = []
    heads: dict[str, str] = {}
    open_segments: list[str] = []
    n_seg = n_bytes = 0
    for topic in archive_topics(root):
        tdir = root / topic
        entries, unreadable = read_chain(tdir)
        problems += [Problem(topic, "unreadable", CHAIN, None, u) for u in unreadable]
        prev, last_seq, deleted = GENESIS, 0, set()
        listed: set[str] = set()
        for e in entries:
            path, seq = e.get("path"), e.get("seq")
            if e.get("prev") != prev:
                problems.append(
                    Problem(
                        topic,
                        "chain_broken",
                        path,
                        seq,
                        f"chain entry {e.get('n')} does not follow the one "
                        "before it: an entry was removed, inserted or reordered",
                    )
                )
            if entry_hash(e) != e.get("hash"):
                problems.append(
                    Problem(
                        topic, "manifest_altered", path, seq, f"chain entry {e.get('n')} was edited"
                    )
                )
            prev = e.get("hash", "")
            if e.get("type") == "retention":
                deleted |= {d["seq"] for d in e.get("deleted", [])}
                continue
            for missing in range(last_seq + 1, int(seq or 0)):
                problems.append(
                    Problem(topic, "missing", None, missing, "segment absent from the chain")
                )
            last_seq = max(last_seq, int(seq or 0))
            listed.add(str(path))
        heads[topic] = prev
        for e in entries:
            if e.get("type") != "segment" or e["seq"] in deleted:
                continue
            f = tdir / e["path"]
            if not f.exists():
                problems.append(
                    Problem(
                        topic,
                        "missing",
                        e["path"],
                        e["seq"],
                        "segment file is gone (not by retention)",
                    )
                )
                continue
            n_seg += 1
            n_bytes += f.stat().st_size
            if file_sha256(f) != e["sha256"]:
                problems.append(
                    Problem(
                        topic,
                        "altered",
                        e["path"],
                        e["seq"],
                        "SHA-256 of the segment differs from its manifest",
                    )
                )
            if progress:
                progress(f.stat().st_size)
        for f in sorted(tdir.glob(f"*/*{SEG_SUFFIX}")):
            rel = str(f.relative_to(tdir))
            if rel not in listed and (segment_seq(f) or 0) > last_seq:
                open_segments.append(f"{topic}/{rel}")
    problems.sort(key=lambda p: (p.topic, p.seq or 0))
    return VerifyReport(
        not problems, problems, n_seg, n_bytes, time.perf_counter() - t0, heads, open_segments
    )
