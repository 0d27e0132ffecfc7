"""Reading the archive back: segment listings, time windows, exports and window replays.

Windows select on event time (``t`` of a reading, ``t_last`` of an alert version), using
the manifests' first/last event time to skip whole segments. An export writes a scenario
directory (DESIGN §8) that ``borderfusion replay`` runs unchanged; a window replay is an
export followed by the offline pipeline (or ``replay --via-kafka`` for a paced run in its
own topic namespace), so it never touches live topics or live alert state.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fusion.types import Alert
from sensors.schemas import split_batch
from streams.archive.store import (
    SEG_SUFFIX,
    ArchiveRecord,
    archive_topics,
    iter_segment,
    read_chain,
    segment_seq,
)
from streams.topics import ACKS, ALERTS, READINGS


def parse_time(text: str | float) -> float:
    """ISO 8601 (``2024-06-01T03:30:00Z``; naive means UTC) or epoch seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    try:
        return float(text)
    except ValueError:
        pass
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def iso(t: float | None) -> str:
    if t is None or not math.isfinite(t):
        return "-"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class SegmentInfo:
    topic: str
    seq: int
    path: Path
    records: int
    t_first: float | None
    t_last: float | None
    ts_first: float | None
    ts_last: float | None
    bytes: int
    sha256: str | None  # None while open
    closed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "seq": self.seq,
            "path": str(self.path),
            "records": self.records,
            "t_first": self.t_first,
            "t_last": self.t_last,
            "ts_first": self.ts_first,
            "ts_last": self.ts_last,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "closed": self.closed,
        }


def list_segments(root: Path | str, topics: Iterable[str] | None = None) -> list[SegmentInfo]:
    """Closed segments (from the chain, minus retention deletions) and open ones (scanned)."""
    root = Path(root)
    out: list[SegmentInfo] = []
    for topic in topics or archive_topics(root):
        tdir = root / topic
        entries, _ = read_chain(tdir)
        deleted = {d["seq"] for e in entries if e.get("type") == "retention" for d in e["deleted"]}
        last = 0
        for e in entries:
            if e.get("type") != "segment":
                continue
            last = max(last, int(e["seq"]))
            if e["seq"] in deleted:
                continue
            out.append(
                SegmentInfo(
                    topic,
                    e["seq"],
                    tdir / e["path"],
                    e["records"],
                    e["t_first"],
                    e["t_last"],
                    e["ts_first"],
                    e["ts_last"],
                    e["bytes"],
                    e["sha256"],
                    True,
                )
            )
        for f in sorted(tdir.glob(f"*/*{SEG_SUFFIX}"), key=lambda p: segment_seq(p) or 0):
            if (segment_seq(f) or 0) <= last:
                continue
            recs = list(iter_segment(f, topic))
            ts = [r.t for r in recs if r.t is not None]
            kts = [r.ts for r in recs]
            out.append(
                SegmentInfo(
                    topic,
                    segment_seq(f) or 0,
                    f,
                    len(recs),
                    min(ts) if ts else None,
                    max(ts) if ts else None,
                    min(kts) if kts else None,
                    max(kts) if kts else None,
                    f.stat().st_size,
                    None,
                    False,
                )
            )
    return out


def iter_window(
    root: Path | str,
    topics: Iterable[str],
    t_from: float = -math.inf,
    t_to: float = math.inf,
    progress: Callable[[int], None] | None = None,
) -> Iterator[ArchiveRecord]:
    """Records of ``topics`` whose event time lies in [t_from, t_to], segment by segment."""
    for seg in list_segments(root, [t for t in topics if (Path(root) / t).is_dir()]):
        if (
            seg.t_first is not None
            and seg.t_last is not None
            and (seg.t_last < t_from or seg.t_first > t_to)
        ):
            continue
        if not seg.path.exists():
            continue
        for r in iter_segment(seg.path, seg.topic):
            if r.t is not None and t_from <= r.t <= t_to:
                yield r
        if progress:
            progress(seg.bytes)


def window_readings(
    root: Path | str, t_from: float, t_to: float, progress: Callable[[int], None] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The window's readings as (topic, reading), batches split, sorted by event time."""
    out: list[tuple[float, str, int, str, dict[str, Any]]] = []
    for r in iter_window(root, READINGS, t_from - 0.0, t_to, progress):
        try:
            value = r.json()
        except ValueError:
            continue
        for reading in split_batch(value):
            if not isinstance(reading, dict):
                continue
            t = reading.get("t")
            if isinstance(t, (int, float)) and t_from <= t <= t_to:
                out.append((float(t), r.topic, len(out), str(reading.get("sensor_id")), reading))
    out.sort(key=lambda x: (x[0], x[3], x[1], x[2]))
    return [(topic, reading) for _, topic, _, _, reading in out]


@dataclass
class AlertHistory:
    """Every archived version of each alert (oldest first) and the acks given to it."""

    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    acks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def latest(self) -> dict[str, Alert]:
        return {aid: Alert.from_dict(v[-1]) for aid, v in self.versions.items()}


def alert_history(
    root: Path | str,
    t_from: float = -math.inf,
    t_to: float = math.inf,
    alert_ids: set[str] | None = None,
) -> AlertHistory:
    """Alert versions whose ``t_last`` is in the window (all, for ``alert_ids``), and every
    ack for those alerts whenever it was given (acks are few; all are scanned)."""
    hist = AlertHistory()
    lo, hi = (-math.inf, math.inf) if alert_ids else (t_from, t_to)
    for r in iter_window(root, [ALERTS], lo, hi):
        try:
            a = r.json()
        except ValueError:
            continue
        aid = a.get("alert_id") if isinstance(a, dict) else None
        if aid is None or (alert_ids is not None and aid not in alert_ids):
            continue
        hist.versions.setdefault(aid, []).append({**a, "_ts": r.ts, "_offset": r.offset})
    for versions in hist.versions.values():
        versions.sort(key=lambda v: (v["_ts"], v["t_last"], v["_offset"]))
    for r in iter_window(root, [ACKS]):
        try:
            ack = r.json()
        except ValueError:
            continue
        aid = ack.get("alert_id") if isinstance(ack, dict) else None
        if aid in hist.versions:
            hist.acks.setdefault(aid, []).append(ack)
    for acks in hist.acks.values():
        acks.sort(key=lambda a: a.get("t") or 0)
    return hist


@dataclass
class ExportResult:
    out_dir: Path
    readings: int
    t_first: float | None
    t_last: float | None


def export_window(
    root: Path | str,
    out_dir: Path | str,
    t_from: float,
    t_to: float,
    *,
    sensors_file: Path,
    zones_file: Path | None = None,
    rules_file: Path | None = None,
    sector: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the window's readings as a replayable scenario directory (DESIGN §8).

    ``sector``/``bbox`` keep a reading if one of its observations (geo-referenced with
    the configured sensors) falls inside; a reading that yields no observation (an AIS
    static message or fragment, a waveform frame) is kept if its sensor is inside.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    readings = window_readings(root, t_from, t_to, progress)
    if sector or bbox:
        readings = _spatial_filter(readings, sensors_file, zones_file, sector, bbox)
    with open(out / "readings.jsonl", "w") as fh:
        for topic, reading in readings:
            fh.write(json.dumps({"topic": topic, "value": reading}) + "\n")
    shutil.copyfile(sensors_file, out / "sensors.yaml")
    if zones_file:
        shutil.copyfile(zones_file, out / "zones.geojson")
    if rules_file:
        shutil.copyfile(rules_file, out / "rules.yaml")
    ts = [r["t"] for _, r in readings]
    return ExportResult(out, len(readings), min(ts) if ts else None, max(ts) if ts else None)


def _spatial_filter(
    readings: list[tuple[str, dict[str, Any]]],
    sensors_file: Path,
    zones_file: Path | None,
    sector: str | None,
    bbox: tuple[float, float, float, float] | None,
) -> list[tuple[str, dict[str, Any]]]:
    from streams.engine import Context, IngestStage

    ctx = Context.from_files(sensors_file, zones_file, max_reading_age_s=0)
    ingest = IngestStage(ctx, now=lambda: math.nan)

    def inside(lat: float, lon: float, sec: str | None) -> bool:
        if bbox and not (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
            return False
        return not sector or sec == sector

    kept = []
    for topic, reading in readings:
        res = ingest.ingest(topic, reading)
        if res.observations:
            ok = any(inside(o.lat, o.lon, o.sector) for o in res.observations)
        else:
            s = ctx.registry.get(str(reading.get("sensor_id")))
            home = ctx.sectorizer.home(np.array([s.lat]), np.array([s.lon]))[0] if s else None
            ok = s is not None and inside(s.lat, s.lon, home)
        if ok:
            kept.append((topic, reading))
    return kept
