"""The gateway's on-disk spool: accepted readings wait here, in order, while Kafka is away.

Why a spool: a border post's uplink drops for minutes at a time; a reading the gateway has
acknowledged must still reach Kafka. Layout, under ``directory``:

- ``NNNNNNNNNNNN.seg`` — append-only segments. One record per line:
  ``<crc32 of the JSON, 8 hex> <JSON {"topic", "key", "value"}>\\n``. JSON is ASCII-escaped,
  so a record never contains a newline and the file stays greppable.
- ``cursor`` — ``{"segment": N, "offset": B}``: everything before it has been acked by
  Kafka. Written atomically (temp file, fsync, rename) after each drained batch.

Each :meth:`Spool.append` is one ``write`` plus one ``fsync``: the batch is durable when it
returns, and only then is it acknowledged to the sender. A crash mid-write leaves a torn tail
(a line without newline or with a bad CRC); :meth:`Spool.open` truncates it with a warning —
it was never acknowledged. Delivery is at-least-once: a crash between Kafka's ack and the
cursor write sends that batch again on restart.

A write or fsync that fails while running (a full disk: ``ENOSPC`` after part of the batch
was written) is undone (``sensors.durable.append_or_cut``: the segment is cut back to where
the batch began; if that fails too, writing moves on to a new segment) and the error goes to
the caller, which refuses the batch. Without that, the next batch would be appended to the
torn bytes, its first line would fail its CRC on reading, and readings already acknowledged
would be skipped.

Room: :class:`SpoolFull` (an ``OSError``, ``ENOSPC``) refuses a batch *before* writing when
the readings waiting would exceed ``max_bytes`` or the file system would keep less than
``min_free_bytes`` free. A long Kafka outage then makes the gateway answer 503 + Retry-After
(senders keep their readings) instead of filling the host's disk.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensors.durable import TornWrite, append_or_cut

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".seg"
CURSOR = "cursor"


class SpoolFull(OSError):
    """No room for a batch: refused before anything was written."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOSPC, message)


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record to be: topic (without prefix), key and JSON value."""

    topic: str
    key: str | None
    value: Any

    @property
    def weight(self) -> int:
        """Readings in this record (a gateway batch is a JSON array): what depth counts."""
        return len(self.value) if isinstance(self.value, list) else 1


@dataclass(frozen=True, slots=True)
class Position:
    segment: int
    offset: int


def encode(record: Record) -> bytes:
    body = json.dumps(
        {"topic": record.topic, "key": record.key, "value": record.value}, separators=(",", ":")
    ).encode("ascii")
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode(line: bytes) -> Record | None:
    """The record on one complete line, or None if its CRC or JSON is bad."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:].rstrip(b"\n")
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        doc = json.loads(body)
        return Record(doc["topic"], doc["key"], doc["value"])
    except (ValueError, KeyError, TypeError):
        return None


class Spool:
    """Append-only, fsynced, crash-safe FIFO of :class:`Record`. Thread-safe."""

    def __init__(
        self,
        directory: str | Path,
        segment_bytes: int = 64 * 1024 * 1024,
        fsync: bool = True,
        max_bytes: int = 0,
        min_free_bytes: int = 0,
    ) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.max_bytes = max_bytes  # 0: no cap on what waits (the disk's reserve still holds)
        self.min_free_bytes = min_free_bytes  # keep this much of the file system free
        self._bytes = 0  # bytes of the records waiting (from the cursor on)
        self._lock = threading.Lock()
        self._depth = 0
        self._cursor = Position(0, 0)
        self._active = 0
        self._active_size = 0
        self._fd: int | None = None
        self._closed = False
        self.dropped_torn = 0
        self.skipped_corrupt = 0

    # -- opening and recovery -----------------------------------------------------------
    @classmethod
    def open(cls, directory: str | Path, **kwargs: Any) -> Spool:
        spool = cls(directory, **kwargs)
        spool._recover()
        return spool

    def _segments(self) -> list[int]:
        out = []
        for p in self.directory.glob("*" + SEGMENT_SUFFIX):
            try:
                out.append(int(p.stem))
            except ValueError:
                continue
        return sorted(out)

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}{SEGMENT_SUFFIX}"

    def _recover(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        segments = self._segments()
        cursor = self._read_cursor()
        if cursor is None or (segments and cursor.segment < segments[0]):
            cursor = Position(segments[0] if segments else 0, 0)
        for seg in segments:
            if seg < cursor.segment:  # fully acked, deletion was interrupted
                self._path(seg).unlink(missing_ok=True)
        segments = [s for s in segments if s >= cursor.segment]
        if segments and cursor.segment not in segments:
            cursor = Position(segments[0], 0)
        depth = 0
        for i, seg in enumerate(segments):
            start = cursor.offset if seg == cursor.segment else 0
            depth += self._scan(seg, start, is_last=i == len(segments) - 1)
        self._cursor = cursor
        self._depth = depth
        self._bytes = self._waiting_bytes(cursor)
        # always write into a fresh segment: recovered ones are read-only from now on
        self._active = (segments[-1] + 1) if segments else max(cursor.segment, 0) + 1
        if not segments:
            self._cursor = Position(self._active, 0)
        self._open_active()
        if depth:
            log.info(
                "spool recovered",
                extra={"spool_dir": str(self.directory), "depth": depth, "segments": len(segments)},
            )

    def _scan(self, seg: int, start: int, is_last: bool) -> int:
        """Count good records from ``start``; truncate a torn tail on the last segment."""
        path = self._path(seg)
        data = path.read_bytes()
        count, pos, good_end = 0, start, start
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:
                break  # no newline: torn
            rec = decode(data[pos : nl + 1])
            if rec is None and is_last and data.find(b"\n", nl + 1) < 0:
                break  # bad CRC on the final line: torn
            if rec is None:
                self.skipped_corrupt += 1
                log.error(
                    "spool record failed its CRC; skipped",
                    extra={"segment": path.name, "offset": pos},
                )
            else:
                count += rec.weight
            pos = nl + 1
            good_end = pos
        if good_end < len(data):
            self.dropped_torn += 1
            log.warning(
                "spool: dropped a torn tail record (never acknowledged to its sender)",
                extra={"segment": path.name, "offset": good_end, "bytes": len(data) - good_end},
            )
            with open(path, "r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())
        return count

    def _waiting_bytes(self, cursor: Position) -> int:
        """Bytes on disk from ``cursor`` on (segments before it are acked, being deleted)."""
        total = 0
        for seg in self._segments():
            if seg >= cursor.segment:
                try:
                    total += self._path(seg).stat().st_size
                except FileNotFoundError:
                    continue
                if seg == cursor.segment:
                    total -= cursor.offset
        return max(total, 0)

    def _read_cursor(self) -> Position | None:
        try:
            doc = json.loads((self.directory / CURSOR).read_text())
            return Position(int(doc["segment"]), int(doc["offset"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            log.error(
                "spool cursor unreadable; replaying from the oldest segment (duplicates possible)",
                extra={"spool_dir": str(self.directory)},
            )
            return None

    def _write_cursor(self, pos: Position) -> None:
        tmp = self.directory / (CURSOR + ".tmp")
        with open(tmp, "w") as fh:
            json.dump({"segment": pos.segment, "offset": pos.offset}, fh)
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, self.directory / CURSOR)

    def _open_active(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None  # a failed open below must not leave a closed descriptor here
        path = self._path(self._active)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._active_size = os.fstat(self._fd).st_size
        if self.fsync:
            self._fsync_dir()

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- writing ------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Readings (and dead letters) waiting to be acked by Kafka."""
        return self._depth

    @property
    def waiting_bytes(self) -> int:
        """Bytes on disk of the records waiting (what ``max_bytes`` bounds)."""
        return self._bytes

    def append(self, records: list[Record]) -> None:
        """Write ``records`` and fsync: when this returns they survive a crash."""
        if records:
            with self._lock:
                self._append_locked(records)

    def append_if_nonempty(self, records: list[Record]) -> bool:
        """Append only if records are already waiting (so new ones queue behind them).

        Atomic with respect to :meth:`commit`: the caller either queues behind the spool or
        learns it is empty and may send directly, never in between.
        """
        with self._lock:
            if self._depth == 0:
                return False
            self._append_locked(records)
            return True

    def _append_locked(self, records: list[Record]) -> None:
        if self._closed:
            raise RuntimeError("spool is closed")
        if self._fd is None:  # a rotation after a failed write could not open: again
            self._open_active()
        if self._active_size >= self.segment_bytes:
            self._active += 1
            self._open_active()
        data = b"".join(encode(r) for r in records)
        self._check_room(len(data))
        assert self._fd is not None  # opened above
        try:
            append_or_cut(self._fd, data, self.fsync)
        except TornWrite:
            # the torn bytes end this segment, where reading stops: write on in a new one
            log.exception("spool: could not cut a failed write back; starting a new segment")
            self._active += 1
            self._open_active()
            raise
        self._active_size += len(data)
        self._bytes += len(data)
        self._depth += sum(r.weight for r in records)

    def _check_room(self, n: int) -> None:
        """Raise :class:`SpoolFull` if ``n`` more bytes would pass ``max_bytes`` or eat
        into the file system's ``min_free_bytes``."""
        if self.max_bytes and self._bytes + n > self.max_bytes:
            raise SpoolFull(
                f"spool full: {self._bytes} bytes of readings waiting for Kafka "
                f"(cap {self.max_bytes})"
            )
        if self.min_free_bytes:
            st = os.statvfs(self.directory)
            free = st.f_bavail * st.f_frsize
            if free - n < self.min_free_bytes:
                raise SpoolFull(
                    f"disk nearly full: {free} bytes free under {self.directory}, "
                    f"{self.min_free_bytes} kept in reserve"
                )

    # -- draining -----------------------------------------------------------------------
    def peek(self, max_records: int) -> list[tuple[Record, Position]]:
        """Up to ``max_records`` oldest records, each with the position just after it."""
        with self._lock:
            out: list[tuple[Record, Position]] = []
            pos = self._cursor
            weight = 0
            while len(out) < max_records and self._depth > weight:
                path = self._path(pos.segment)
                try:
                    with open(path, "rb") as fh:
                        fh.seek(pos.offset)
                        while len(out) < max_records:
                            line = fh.readline()
                            if not line.endswith(b"\n"):
                                break
                            rec = decode(line)
                            pos = Position(pos.segment, pos.offset + len(line))
                            if rec is None:
                                log.error(
                                    "spool record failed its CRC; skipped",
                                    extra={"segment": path.name},
                                )
                                continue
                            out.append((rec, pos))
                            weight += rec.weight
                except FileNotFoundError:
                    pass
                if len(out) >= max_records or pos.segment >= self._active:
                    break
                pos = Position(pos.segment + 1, 0)
            return out

    def commit(self, pos: Position, count: int) -> None:
        """Kafka acked records of total weight ``count`` up to ``pos``: advance the cursor,
        free segments."""
        with self._lock:
            self._depth = max(0, self._depth - count)
            self._bytes = 0
            if self._depth == 0:
                # empty: drop every segment and start a fresh one, reclaiming the disk
                for seg in self._segments():
                    if seg != self._active:
                        self._path(seg).unlink(missing_ok=True)
                self._active += 1
                old = self._path(self._active - 1)
                self._open_active()
                old.unlink(missing_ok=True)
                pos = Position(self._active, 0)
            self._write_cursor(pos)
            self._cursor = pos
            for seg in self._segments():
                if seg < pos.segment:
                    self._path(seg).unlink(missing_ok=True)
            if self._depth:
                self._bytes = self._waiting_bytes(pos)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
