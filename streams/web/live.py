"""The web process's live picture: every alert and every track, not a partition share.

A Faust agent in the shared consumer group would see only the partitions it was assigned,
so each web process reads ``alerts`` and ``tracks`` itself with an aiokafka consumer that
``assign()``s all partitions from the beginning (no group, no commits). It reduces them to

- the current alerts, by ``alert_id`` (the last version wins: the alert agent republishes an
  alert on every change, acks included);
- the latest state of each live track plus a short trail (bounded: old and deleted tracks are
  evicted, trails are capped);
- the last time each sensor contributed to a track (sensor health for the map).

Changes go into an :class:`EventLog` (numbered events in a bounded ring buffer) that the
SSE endpoint replays to a reconnecting browser, and to every subscriber's queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from fusion.types import SEVERITIES
from streams.kafka_security import client_options

log = logging.getLogger(__name__)

CLOSED = ("dismissed", "resolved")


# ------------------------------------------------------------------ reduction


@dataclass
class TrackState:
    latest: dict[str, Any]
    trail: deque[tuple[float, float, float]]  # (t, lat, lon)

    def to_dict(self) -> dict[str, Any]:
        return {**self.latest, "trail": [list(p) for p in self.trail]}


@dataclass
class LiveState:
    """Pure reduction of alert and track records; no I/O, so it is unit-testable."""

    trail_len: int = 30
    track_ttl_s: float = 120.0
    max_tracks: int = 5000
    max_closed_alerts: int = 2000
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracks: OrderedDict[str, TrackState] = field(default_factory=OrderedDict)
    sensor_seen: dict[str, float] = field(default_factory=dict)
    t_latest: float = 0.0  # newest event time seen (the picture's clock)

    def apply_alert(self, alert: dict[str, Any]) -> dict[str, Any] | None:
        """Store an alert version; return it if it changed anything, else None."""
        aid = str(alert.get("alert_id") or "")
        if not aid:
            raise ValueError("alert without alert_id")
        clean = {k: v for k, v in alert.items() if not k.startswith("_")}
        if self.alerts.get(aid) == clean:
            return None
        self.alerts.pop(aid, None)
        self.alerts[aid] = clean  # re-insert: dict order = last change
        self.t_latest = max(self.t_latest, float(clean.get("t_last") or 0.0))
        self._trim_closed()
        return clean

    def _trim_closed(self) -> None:
        closed = [a for a, v in self.alerts.items() if v.get("status") in CLOSED]
        for aid in closed[: max(0, len(closed) - self.max_closed_alerts)]:
            del self.alerts[aid]

    def apply_tracks(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fold a batch of track updates; return the changed tracks (deleted ones marked)."""
        changed: dict[str, dict[str, Any]] = {}
        for u in updates:
            tid = str(u["track_id"])
            t = float(u["t"])
            self.t_latest = max(self.t_latest, t)
            for sid in u.get("sources") or []:
                if t > self.sensor_seen.get(sid, float("-inf")):
                    self.sensor_seen[sid] = t
            if u.get("status") == "deleted":
                if self.tracks.pop(tid, None) is not None:
                    changed[tid] = {"track_id": tid, "status": "deleted", "t": t}
                continue
            st = self.tracks.get(tid)
            if st is None:
                st = TrackState(latest=u, trail=deque(maxlen=self.trail_len))
                self.tracks[tid] = st
            elif t < float(st.latest["t"]):
                continue  # an older update arriving late changes nothing
            st.latest = u
            st.trail.append((t, float(u["lat"]), float(u["lon"])))
            self.tracks.move_to_end(tid)
            changed[tid] = st.to_dict()
        for tid in self.evict():
            changed[tid] = {"track_id": tid, "status": "deleted", "t": self.t_latest}
        return list(changed.values())

    def evict(self) -> list[str]:
        """Drop tracks not updated for ``track_ttl_s`` (event time) and the oldest beyond
        ``max_tracks``; the OrderedDict keeps tracks in order of their last update."""
        gone: list[str] = []
        horizon = self.t_latest - self.track_ttl_s
        while self.tracks:
            tid, st = next(iter(self.tracks.items()))
            if float(st.latest["t"]) >= horizon and len(self.tracks) <= self.max_tracks:
                break
            del self.tracks[tid]
            gone.append(tid)
        return gone

    def alert_list(
        self,
        *,
        status: set[str] | None = None,
        rule: set[str] | None = None,
        severity: set[str] | None = None,
        sector: set[str] | None = None,
        since: float | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts matching every given filter, most severe first, then newest first."""
        out = [
            a
            for a in self.alerts.values()
            if (not status or a.get("status") in status)
            and (not rule or a.get("rule") in rule)
            and (not severity or a.get("severity") in severity)
            and (not sector or a.get("sector") in sector)
            and (since is None or float(a.get("t_last") or 0) >= since)
        ]
        return sorted(out, key=alert_sort_key)

    def track_list(
        self, bbox: tuple[float, float, float, float] | None = None
    ) -> list[dict[str, Any]]:
        out = [st.to_dict() for st in self.tracks.values()]
        if bbox is None:
            return out
        lon0, lat0, lon1, lat1 = bbox
        return [t for t in out if lon0 <= t["lon"] <= lon1 and lat0 <= t["lat"] <= lat1]

    def snapshot(self) -> dict[str, Any]:
        return {
            "alerts": self.alert_list(),
            "tracks": self.track_list(),
            "sensor_seen": dict(self.sensor_seen),
            "t_latest": self.t_latest,
        }


def alert_sort_key(a: dict[str, Any]) -> tuple[int, float, str]:
    sev = SEVERITIES.index(a["severity"]) if a.get("severity") in SEVERITIES else -1
    return (-sev, -float(a.get("t_last") or 0.0), str(a.get("alert_id")))


# ------------------------------------------------------------------ event log


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str  # alert | tracks | snapshot
    data: Any

    def event_id(self, epoch: str) -> str:
        return f"{epoch}.{self.seq}"


class EventLog:
    """Numbered change events, the newest ``capacity`` kept, fanned out to subscribers.

    Ids are ``<epoch>.<seq>``: the epoch is random per process, so an id from before a
    restart (or from another replica) is recognised and answered with a full snapshot.
    """

    def __init__(self, capacity: int = 5000, queue_size: int = 2000) -> None:
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.ring: deque[Event] = deque(maxlen=capacity)
        self.queue_size = queue_size
        self.subscribers: set[asyncio.Queue[Event | None]] = set()

    @property
    def head_id(self) -> str:
        return f"{self.epoch}.{self.seq}"

    def append(self, kind: str, data: Any) -> Event:
        self.seq += 1
        ev = Event(self.seq, kind, data)
        self.ring.append(ev)
        for q in list(self.subscribers):
            try:
                q.put_nowait(ev)
            except asyncio.QueueFull:
                # a stuck browser: end its stream; it reconnects and resumes from the ring
                self.subscribers.discard(q)
                q.get_nowait()
                q.put_nowait(None)
        return ev

    def resume(self, last_event_id: str | None) -> list[Event] | None:
        """Events after ``last_event_id``, or None when only a snapshot can fill the gap
        (no id, another epoch, or events already pushed out of the ring)."""
        if not last_event_id:
            return None
        epoch, _, seq_text = last_event_id.partition(".")
        try:
            seq = int(seq_text)
        except ValueError:
            return None
        if epoch != self.epoch or seq > self.seq:
            return None
        if seq == self.seq:
            return []
        if not self.ring or self.ring[0].seq > seq + 1:
            return None
        return [ev for ev in self.ring if ev.seq > seq]

    def subscribe(self) -> asyncio.Queue[Event | None]:
        q: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=self.queue_size)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event | None]) -> None:
        self.subscribers.discard(q)


def sse_frame(event_id: str | None, kind: str, data: Any) -> bytes:
    """One Server-Sent Events frame (JSON data on one line)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


# ------------------------------------------------------------------ the Kafka side


class LiveService:
    """Reads ``alerts`` and ``tracks`` (all partitions, from the start) into a LiveState."""

    def __init__(
        self,
        settings: Any,
        state: LiveState | None = None,
        events: EventLog | None = None,
        track_flush_s: float = 0.5,
    ) -> None:
        self.settings = settings
        self.state = state or LiveState()
        self.events = events or EventLog()
        self.track_flush_s = track_flush_s
        self.caught_up = asyncio.Event()
        self.records = 0
        self._pending_tracks: dict[str, dict[str, Any]] = {}
        self._last_flush = 0.0

    def handle_record(self, topic: str, value: bytes) -> None:
        """Apply one record of ``alerts`` or ``tracks`` (topic without the prefix)."""
        self.records += 1
        doc = json.loads(value)
        if topic == "alerts":
            changed = self.state.apply_alert(doc)
            if changed is not None:
                self.events.append("alert", changed)
        elif topic == "tracks":
            for tr in self.state.apply_tracks(doc if isinstance(doc, list) else [doc]):
                self._pending_tracks[tr["track_id"]] = tr

    def flush_tracks(self, force: bool = False) -> None:
        """Coalesce track changes: one ``tracks`` event per ``track_flush_s``."""
        now = time.monotonic()
        if self._pending_tracks and (force or now - self._last_flush >= self.track_flush_s):
            self.events.append("tracks", list(self._pending_tracks.values()))
            self._pending_tracks = {}
            self._last_flush = now

    async def run(self) -> None:
        from aiokafka import AIOKafkaConsumer

        s = self.settings
        names = {s.topic("alerts"): "alerts", s.topic("tracks"): "tracks"}
        # subscribing without a group assigns every partition of both topics to this
        # process (no coordinator, no commits); metadata for them is kept fresh
        consumer = AIOKafkaConsumer(
            *names,
            bootstrap_servers=s.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{s.app_id}-web-live",
            **client_options(s),
        )
        await consumer.start()
        try:
            tps: list[Any] = []
            while True:
                await consumer.getmany(timeout_ms=0)  # drives the metadata refresh
                tps = sorted(consumer.assignment())
                if {tp.topic for tp in tps} == set(names):
                    break
                log.info("waiting for the alerts/tracks topics")
                await asyncio.sleep(0.5)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            log.info("live state reading", extra={"partitions": len(tps)})
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                for tp, records in batch.items():
                    for rec in records:
                        try:
                            self.handle_record(names[tp.topic], rec.value)
                        except (ValueError, KeyError, TypeError):
                            log.warning(
                                "unreadable %s record at offset %s skipped", tp.topic, rec.offset
                            )
                self.flush_tracks(force=not batch)
                if not self.caught_up.is_set() and all(await _positions_reached(consumer, ends)):
                    self.caught_up.set()
                    log.info(
                        "live state caught up",
                        extra={"alerts": len(self.state.alerts), "tracks": len(self.state.tracks)},
                    )
        finally:
            await consumer.stop()


async def _positions_reached(consumer: Any, ends: dict[Any, int]) -> list[bool]:
    return [await consumer.position(tp) >= end for tp, end in ends.items()]
