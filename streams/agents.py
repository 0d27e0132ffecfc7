"""The Faust agents: thin drivers of the engine stages (decode → call the engine → send).

Every agent catches per record: a bad record goes to ``deadletter`` with its reason and
the agent carries on (a raising Faust agent is restarted and skips the records it died
on, per KAFKA-NOTES). Hops carry batches — one record per sector per batch — because
Faust's per-event cost, not Kafka, bounds throughput.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import faust
import lz4.frame

from fusion.types import Alert, Observation, TrackUpdate
from streams import metrics as M
from streams.app import AppHandle
from streams.deadletter import DeadLetter, dead_letter
from streams.engine import (
    AlertStage,
    Context,
    FusionStage,
    IngestStage,
    alert_sector,
    keep_newest,
    observation_dict,
)
from streams.jsonio import dumps, loads
from streams.rules_watch import RulesFile

log = logging.getLogger(__name__)


# a state-table value larger than this is compressed by the agent itself: the broker
# refuses records over 1 MB (after the producer's codec, which may be none)
PACK_AT_BYTES = 256 * 1024
# lz4 first (round 8: ~10x less CPU than zlib level 1, which was ~40 % of the fusion
# checkpoint under backlog; it compresses less); a value that lz4 leaves above this gets
# zlib too and the smaller is kept: a stored value is never above both this bound and what
# round 7's zlib-only packing made of it, so it stays under the 1 MB limit whenever that did
LZ4_MAX_BYTES = 768 * 1024
_PACKED = b"\x00z"  # zlib (JSON never starts with a NUL byte)
_PACKED_LZ4 = b"\x00l"  # an lz4 frame


def pack_state(data: bytes) -> bytes:
    """A table value as stored: small JSON as it is, large JSON compressed (marked)."""
    if len(data) <= PACK_AT_BYTES:
        return data
    packed = _PACKED_LZ4 + lz4.frame.compress(data)
    if len(packed) > LZ4_MAX_BYTES:
        packed = min(packed, _PACKED + zlib.compress(data, 1), key=len)
    return packed


def unpack_state(data: bytes) -> Any:
    """Parse a value written by :func:`pack_state`, by round 7's (zlib only) or plain JSON
    of older versions."""
    head = data[:2]
    if head == _PACKED_LZ4:
        return loads(lz4.frame.decompress(data[2:]))
    return loads(zlib.decompress(data[2:]) if head == _PACKED else data)


def load_context(handle: AppHandle) -> Context:
    return Context.from_settings(handle.settings)


# a state-table value may be this large: the producer's request limit (streams/app.py), and
# the changelog topic's own record limit, which Faust sets when it creates the topic (Apache
# Kafka refuses records over ~1 MB by default; a busy sector's state under a backlog is more,
# docs/streaming.md "Checkpoints"); a record must also fit in one log segment
STATE_MAX_BYTES = 16 * 1024 * 1024
STATE_TOPIC_CONFIG = {"max.message.bytes": str(STATE_MAX_BYTES),
                      "segment.bytes": str(2 * STATE_MAX_BYTES)}


class StateTable(faust.Table):  # type: ignore[misc]
    """A per-sector state table that keeps each write's changelog send, so a checkpoint can
    wait until the broker has the state before it lets the input offsets be committed
    (:meth:`stored`). A failed send was a log line only: a refused state (too large for the
    topic) let the offsets be committed past a state no restart could restore."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: dict[Any, Any] = {}

    def send_changelog(self, partition: int | None, key: Any, value: Any,
                       key_serializer: Any = None, value_serializer: Any = None) -> Any:
        fut = super().send_changelog(partition, key, value, key_serializer, value_serializer)
        self.sent[key] = fut
        return fut

    async def stored(self) -> dict[Any, BaseException]:
        """Wait for the writes since the last call; the keys whose write the broker refused."""
        sent, self.sent = self.sent, {}
        results = await asyncio.gather(*sent.values(), return_exceptions=True)
        return {k: r for k, r in zip(sent, results, strict=True) if isinstance(r, BaseException)}


def state_table(app: Any, name: str, partitions: int) -> StateTable:
    """A per-sector state table (raw JSON bytes by sector key). ``use_partitioner`` lets
    timers and the held-offset checkpoint write it outside stream iteration."""
    table = StateTable(app, name=name, beacon=app.tables.beacon, default=None,
                       partitions=partitions, key_type=bytes, value_type=bytes,
                       use_partitioner=True,
                       extra_topic_configs=STATE_TOPIC_CONFIG)
    return app.tables.add(table)  # type: ignore[no-any-return]


PIPELINE_ROLES = ("ingest", "fusion", "alerts")


class HeldCheckpoints:
    """Sector states written on a clock, with the input offsets held until they are.

    Writing a sector's whole state after every batch cost more than the batch itself at
    low rates (docs/performance.md). Instead every message an agent takes gets an extra
    reference (:meth:`hold`), so ``take_events``' acknowledgement is not the final one and
    Faust, which commits acknowledged offsets only, cannot commit past it; at most every
    ``interval_s`` :meth:`checkpoint` flushes the producer (what the state counts as sent
    is on the broker first), writes every dirty sector with ``write`` and acknowledges the
    held messages. ``lock`` orders batches, timers and checkpoints, so a checkpoint never
    sees half a batch. Proof and rebalance/stop handling: docs/streaming.md "Checkpoints".
    """

    def __init__(self, app: Any, write: Callable[[str], None], name: str,
                 interval_s: float, table: StateTable) -> None:
        if not interval_s > 0:
            raise ValueError(f"checkpoint interval must be > 0 s, not {interval_s!r}")
        self.app = app
        self.write = write
        self.name = name
        self.interval_s = interval_s
        self.table = table
        self.lock = asyncio.Lock()
        self.held: list[Any] = []  # Faust messages processed but not yet checkpointed
        self.dirty: set[str] = set()
        self.last = time.monotonic()
        self.task: asyncio.Task[None] | None = None

    def hold(self, message: Any) -> None:
        """Keep ``message`` unacknowledged until the next checkpoint."""
        message.incref()
        self.held.append(message)

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.interval_s

    async def checkpoint(self) -> None:
        """Write every dirty sector, wait until the broker has every write, then acknowledge
        the held messages (caller holds ``lock``). If a write fails, nothing is acknowledged
        (no commit passes it) and the sectors stay dirty: the checkpoint one interval later
        writes them again (not the next batch: a state that keeps failing must not be
        rewritten after every batch), and a restart redoes their input instead of losing
        their state."""
        self.last = time.monotonic()
        if self.dirty:
            await self.app.producer.flush()
            for sector in sorted(self.dirty):
                try:
                    self.write(sector)
                except Exception:  # noqa: BLE001 - keep the messages held: no commit
                    log.exception(f"{self.name} checkpoint failed", extra={"sector": sector})
                    return
            refused = await self.table.stored()
            if refused:
                for key, exc in refused.items():
                    log.error(f"{self.name} checkpoint not stored: {exc!r}",
                              extra={"sector": key.decode() if isinstance(key, bytes) else key})
                M.CHECKPOINTS_REFUSED.labels(self.name).inc(len(refused))
                return
            self.dirty.clear()
        for message in self.held:
            message.ack(self.app.consumer)
        self.held.clear()

    async def revoked(self, forget: Callable[[], None]) -> None:
        """On a rebalance: checkpoint what is held (the in-memory state is still current),
        then drop the in-memory state (a sector that comes back is restored from the table)."""
        async with self.lock:
            await self.checkpoint()
            forget()
            self.dirty.clear()
            self.held.clear()

    def start(self) -> None:
        """Start :meth:`loop` once (from the agent: it needs the running event loop)."""
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.loop())

    async def loop(self) -> None:
        """Checkpoint when input is slow or stopped. A plain asyncio task, not a Faust
        timer: Faust stops its timers before it waits for every taken message to be
        acknowledged (worker stop, rebalance), and this loop must run then."""
        while True:
            await asyncio.sleep(self.interval_s / 4)
            if self.held and self.due():
                async with self.lock:
                    try:
                        await self.checkpoint()
                    except Exception:  # noqa: BLE001 - the loop must survive
                        log.exception(f"{self.name} checkpoint failed")


class InputClock:
    """When an agent last saw all of its input: what makes a sector *quiet*.

    A sector is released early (``flush_idle_sectors``) when nothing came for it for
    ``fusion_quiet_flush_s``. Measured against the wall clock alone, a busy worker's own
    processing looked like quiet: a sector whose records waited in the queue behind others
    was "unseen", the flush released its buckets, and the records then took the tracker's
    late path (in round 7's profiles at 10 000/s the flush timer was a quarter of the
    worker's time). So quiet is measured up to :meth:`drained_until`, the moment the queue
    is known to have been empty: the last batch's take when the agent has just been busy,
    *now* − ``within_s`` once it has waited that long with nothing to take; and never while
    the agent is *behind* — its last batch came full, or its newest record had waited in
    Kafka longer than ``stale_s`` (more is queued) — unless nothing has come for
    ``fallback_s`` (the end of a backlog: its tail must not wait for new input forever)."""

    def __init__(self, batch_size: int, within_s: float, stale_s: float,
                 fallback_s: float) -> None:
        self.batch_size = batch_size
        self.within_s = within_s
        self.stale_s = stale_s
        self.fallback_s = fallback_s
        self.taken = 0.0  # wall time the last batch was handed to the agent
        self.done = 0.0  # ... and when the agent finished it
        self.behind = False  # ... and whether more was queued behind it

    def take(self, n_events: int, newest_record_s: float | None, now: float) -> None:
        """A batch of ``n_events`` handed over at ``now``; ``newest_record_s``: the Kafka
        timestamp of its newest record (``None``: unknown)."""
        stale = newest_record_s is not None and now - newest_record_s > self.stale_s
        self.taken, self.behind = now, n_events >= self.batch_size or stale

    def finish(self, now: float) -> None:
        self.done = now

    def drained_until(self, now: float) -> float | None:
        """Wall time up to which every record that arrived has been taken (``None``: the
        agent is working through a backlog, or a batch waits to run; nothing is quiet)."""
        if self.taken > self.done:
            return None
        idle = now - self.done
        if self.behind and idle < self.fallback_s:
            return None
        # idle for a batch window: whatever arrived before its start has been taken
        return now - self.within_s if idle >= self.within_s else self.taken


class AlertRunner:
    """A worker's alert stage with its saved state per sector and its output.

    Driven by the alerts agent (reading ``tracks``) or, in a worker that also fuses
    (``alerts_inline``), by the fusion agent on each bucket it publishes: then the state
    is saved inside the fusion checkpoint, so the two cannot disagree after a crash.
    """

    def __init__(self, handle: AppHandle, ctx: Context, counts: Counter[str],
                 send_deadletters: Callable[[list[DeadLetter]], Any]) -> None:
        s = handle.settings
        self.alerts_topic = handle.topics.alerts
        self.sectors_topic = handle.topics.acks_by_sector
        self.stage = AlertStage(ctx)
        # messages for other sectors' alert state (hand-overs, forwarded acks) go to their
        # partition of the sector-keyed acks topic, where that sector's owner applies them
        self.outbox: list[tuple[str, dict[str, Any]]] = []
        self.stage.remote = lambda sector, message: self.outbox.append((sector, message))
        self.table = state_table(handle.app, "alert-state", s.partitions)
        handle.tables["alert-state"] = self.table
        handle.state["alerts"] = self.stage
        self.counts = counts
        self.send_deadletters = send_deadletters
        self.rules_file = RulesFile(s.rules_file)  # watched: an edit applies without a restart
        self.restored: set[str] = set()
        # per sector: newest track bucket applied (alerts agent), input offsets per source
        self.tracks_seq: dict[str, int] = defaultdict(int)
        self.offsets: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: {"tracks": {}, "acks": {}}
        )

    def ensure_restored(self, sector: str, saved: dict[str, Any] | None = None) -> None:
        """Restore ``sector`` once: from ``saved`` (the alert part of a fusion checkpoint)
        or else from the ``alert-state`` table (the alerts agent's, or a worker that ran
        the agent before ``alerts_inline``)."""
        if sector in self.restored:
            return
        self.restored.add(sector)
        if saved is None:
            value = self.table.get(sector.encode())
            if not value:
                return
            saved = unpack_state(value)
        if "engine" in saved:  # {engine, tracks_seq, offsets}; else an older bare snapshot
            self.tracks_seq[sector] = int(saved.get("tracks_seq") or 0)
            self.stage.seen[sector] = dict(saved.get("sensor_seen") or {})
            self.offsets[sector] = {"tracks": {}, "acks": {}, **(saved.get("offsets") or {})}
            saved = saved["engine"]
        self.stage.restore(sector, saved)

    def state(self, sector: str) -> dict[str, Any]:
        """The sector's alert engine (shared, serialise at once), newest bucket applied and
        input offsets."""
        return {"engine": self.stage.snapshot(sector, copy=False),
                "tracks_seq": self.tracks_seq[sector], "offsets": self.offsets[sector],
                "sensor_seen": self.stage.seen.get(sector, {})}

    def write(self, sector: str) -> None:
        self.table[sector.encode()] = pack_state(dumps(self.state(sector)))

    def forget(self) -> None:
        self.stage.forget()
        self.restored.clear()
        self.tracks_seq.clear()
        self.offsets.clear()

    def already_applied(self, sector: str, source: str, event: Any) -> bool:
        """True for a record this sector's saved state already includes (redelivery)."""
        part, offset = str(event.message.partition), int(event.message.offset)
        seen = self.offsets[sector][source]
        if offset <= seen.get(part, -1):
            return True
        seen[part] = offset
        return False

    async def send(self, alerts: list[Alert]) -> None:
        for a in alerts:
            self.counts["alerts"] += 1
            M.ALERTS.labels(a.rule, a.severity).inc()
            await self.alerts_topic.send(key=a.alert_id.encode(), value=dumps(a.to_dict()))
            M.observe_sensor_to_alert(a.rule, a.t_last)

    async def note_seen(self, sector: str, seen: dict[str, float], judge: bool,
                        dirty: set[str]) -> None:
        """The sector's sensors' newest reading times to the sensor-silence rule
        (``AlertStage.note_seen``); the sectors whose alert state changed become ``dirty``."""
        gaps = self.stage.note_seen(sector, seen, judge=judge)
        dirty.update({sector, *(alert_sector(a.alert_id) or sector for a in gaps)})
        await self.send(gaps)

    async def send_to_sectors(self) -> None:
        """Send the messages for other sectors that the last call left in ``outbox``."""
        while self.outbox:
            sector, message = self.outbox.pop(0)
            await self.sectors_topic.send(key=sector.encode(), value=dumps(message))

    async def apply(self, sector: str, updates: list[TrackUpdate], record: bytes,
                    departed: list[TrackUpdate] | None = None) -> None:
        """Apply one time bucket of ``sector`` (and its tracks that left the sector) to the
        rules and send what changed. A bucket the rules fail on goes to ``deadletter``
        (``record``: it as a ``tracks`` record)."""
        try:
            alerts = self.stage.process(sector, updates, departed)
        except Exception as exc:  # noqa: BLE001
            self.outbox.clear()
            log.exception("alert rules failed on a record")
            await self.send_deadletters(
                [dead_letter("tracks", "internal_error", record, message=repr(exc))]
            )
            return
        if alerts:
            await self.send(alerts)
        await self.send_to_sectors()


def quiet_wait(next_quiet: float | None, now: float, quiet_s: float) -> float:
    """Seconds until the quiet-sector flush should look again: when the next sector turns
    quiet (``next_quiet``, wall time), but at least 2 ms (no spinning) and at most half the
    quiet time (a sector that receives data meanwhile is due no sooner than ``quiet_s``
    after it, so a check halfway catches it in time)."""
    if next_quiet is None:
        return quiet_s / 2
    return min(max(next_quiet - now + 0.001, 0.002), quiet_s / 2)


def register(handle: AppHandle) -> None:
    app, s, tp = handle.app, handle.settings, handle.topics
    counts: Counter[str] = Counter()
    handle.state.update(counts=counts, started=time.time())
    if not set(handle.roles) & set(PIPELINE_ROLES) and s.sensors_file is None:
        return  # web/delivery/archive-only workers need no sensor registry
    ctx = load_context(handle)
    handle.state["ctx"] = ctx

    async def send_deadletters(items: list[DeadLetter]) -> None:
        for dl in items:
            M.DEADLETTERS.labels(dl.source, dl.reason).inc()
            counts["deadletter"] += 1
            await tp.deadletter.send(key=dl.source.encode(), value=dumps(dl.to_dict()))

    handle.state["send_deadletters"] = send_deadletters

    if "ingest" in handle.roles:
        ingest = IngestStage(ctx)
        seen_sent: dict[str, float] = {}  # sensor -> newest reading time passed on

        def seen_by_home(results: list[Any]) -> dict[str, dict[str, float]]:
            """Per home sector, the sensors whose newest reading moved ``SEEN_EVERY_S``
            past what was passed on (a sensor's readings come to one ingest partition)."""
            newest: dict[str, float] = {}
            for result in results:
                for sid, t in result.seen.items():
                    keep_newest(newest, sid, t)
            due = {sid: t for sid, t in newest.items()
                   if t - seen_sent.get(sid, -math.inf) >= SEEN_EVERY_S}
            out = ctx.seen_by_home(due)
            for times in out.values():
                seen_sent.update(times)
            return out

        @app.agent(tp.readings, name="ingest")
        async def ingest_agent(stream: Any) -> None:
            async for events in stream.take_events(s.batch_size, within=s.batch_within_s):
                records, sources = [], []
                arrived = min((e.message.timestamp for e in events if e.message.timestamp),
                              default=None)
                backlog = arrived is not None and time.time() - arrived > BACKLOG_S
                for event in events:
                    msg = event.message
                    topic = msg.topic
                    if s.topic_prefix and topic.startswith(s.topic_prefix):
                        topic = topic[len(s.topic_prefix) :]
                    records.append((topic, event.value))
                    # each observation names its reading's position: fusion drops a reading
                    # re-ingested after a restart exactly (docs/streaming.md "Restart")
                    sources.append([topic, int(msg.partition), int(msg.offset)])
                # one call per Kafka batch: one vectorised sector assignment for all records
                results = ingest.ingest_many(records, contain=True, sources=sources)
                by_sector: dict[str, list[dict[str, Any]]] = defaultdict(list)
                dead: list[DeadLetter] = []
                per_obs: Counter[tuple[str, str]] = Counter()
                for (topic, _), result in zip(records, results, strict=True):
                    kind = topic.rsplit(".", 1)[-1]
                    counts["readings"] += result.accepted
                    for obs in result.observations:
                        by_sector[obs.sector].append(observation_dict(obs))
                        per_obs[obs.sector, obs.kind] += 1
                    if result.accepted:
                        sid = _first_sensor(result.observations)
                        M.READINGS_ACCEPTED.labels(sid, kind).inc(result.accepted)
                    for dl in result.deadletters:
                        M.READINGS_REJECTED.labels(
                            M.sensor_label(dl.sensor_id, ctx.registry), kind, dl.reason
                        ).inc()
                    dead.extend(result.deadletters)
                for (sector, okind), n in per_obs.items():
                    M.OBSERVATIONS.labels(sector, okind).inc(n)
                seen = seen_by_home(results)
                for sector, batch in by_sector.items():
                    counts["observations"] += len(batch)
                    await tp.observations.send(
                        key=sector.encode(), value=dumps(batch),
                        headers=seen_header(seen.pop(sector, None), backlog))
                for sector, times in seen.items():  # sectors with no observation this batch
                    await tp.observations.send(key=sector.encode(), value=b"[]",
                                               headers=seen_header(times, backlog))
                await send_deadletters(dead)

    runner = AlertRunner(handle, ctx, counts, send_deadletters) if "alerts" in handle.roles else None
    # a worker that fuses and alerts applies the rules in the fusion agent (one hop fewer)
    inline = runner if runner is not None and "fusion" in handle.roles and s.alerts_inline else None

    if "fusion" in handle.roles:
        fusion = FusionStage(ctx, now=time.time)
        tracker_table = state_table(app, "tracker-state", s.partitions)
        handle.tables["tracker-state"] = tracker_table
        handle.state["fusion"] = fusion
        restored: set[str] = set()
        seen_at: dict[str, float] = {}  # sector -> when its last record was taken
        fusion_input = InputClock(s.batch_size, s.batch_within_s,
                                  stale_s=s.fusion_quiet_flush_s or s.reorder_window_s,
                                  fallback_s=s.reorder_window_s)
        obs_offsets: dict[str, dict[str, int]] = defaultdict(dict)  # sector -> partition -> off
        # Checkpointing (docs/streaming.md "Checkpoints"): every `observations` message the
        # agent takes is held unacknowledged until the state of every sector it touched has
        # been written to the table (HeldCheckpoints).

        def ensure_restored(sector: str) -> None:
            if sector in restored:
                return
            restored.add(sector)
            saved = tracker_table.get(sector.encode())
            state = unpack_state(saved) if saved else {}
            if state:
                fusion.restore(sector, state)
                obs_offsets[sector] = dict(state.get("source_offsets") or {})
                log.info("tracker state restored", extra={"sector": sector})
            if inline is not None:
                inline.ensure_restored(sector, state.get("alerts"))

        def checkpoint(sector: str) -> None:
            """Save the sector's tracker, reorder buffer, watermark and input offsets (and,
            inline, its alert state: one value, so they are saved together)."""
            state = fusion.snapshot(sector)
            state["source_offsets"] = obs_offsets[sector]
            if inline is not None:
                state["alerts"] = inline.state(sector)
            tracker_table[sector.encode()] = pack_state(dumps(state))

        fusion_ckpt = HeldCheckpoints(app, checkpoint, "fusion",
                                      s.checkpoint_interval_s, tracker_table)
        handle.state["fusion_checkpoints"] = fusion_ckpt
        dirty = fusion_ckpt.dirty

        def forget_fusion() -> None:
            fusion.forget()
            restored.clear()
            obs_offsets.clear()
            if inline is not None:
                inline.forget()

        @app.on_partitions_revoked.connect
        async def forget_fusion_state(sender: Any, revoked: Any = None, **_: Any) -> None:
            """A revoked sector may come back later: never resume it from memory."""
            await fusion_ckpt.revoked(forget_fusion)

        async def send_late(late: list[Observation]) -> None:
            await send_deadletters(
                [
                    dead_letter(
                        "observations",
                        "out_of_sequence",
                        dumps(observation_dict(o)),
                        message="arrived behind the sector's reorder window",
                        sensor_id=o.sensor_id,
                    )
                    for o in late
                ]
            )

        async def publish(sector: str, flush: bool) -> None:
            t0 = time.perf_counter()
            seq0, absorbed0 = fusion.emitted[sector], fusion.absorbed[sector]
            buckets, late = fusion.advance(sector, flush=flush)
            M.FUSION_LATENCY.labels(sector).observe(time.perf_counter() - t0)
            if fusion.absorbed[sector] > absorbed0:
                M.OBSERVATIONS_ABSORBED.labels(sector).inc(fusion.absorbed[sector] - absorbed0)
            dirty.add(sector)
            departures = fusion.departures[sector]  # one list per bucket (set by advance)
            for i, (updates, departed) in enumerate(zip(buckets, departures, strict=True),
                                                    start=1):  # one record per time bucket
                counts["track_updates"] += len(updates)
                # the bucket's sequence number lets the alerts agent drop a bucket that a
                # restarted fusion worker publishes a second time
                value = dumps([track_update_dict(u) for u in updates])
                headers = {SEQ_HEADER: str(seq0 + i).encode()}
                if departed and inline is None:  # for the alerts agent's sector hand-over
                    headers[DEPARTED_HEADER] = dumps([track_update_dict(u) for u in departed])
                await tp.tracks.send(key=sector.encode(), value=value, headers=headers)
                if inline is not None and updates:
                    await inline.apply(sector, updates, value, departed)
            if buckets:
                M.ACTIVE_TRACKS.labels(sector).set(fusion.confirmed_count(sector))
            if late:
                await send_late(late)

        async def take(event: Any, touched: set[str]) -> None:
            part, offset = str(event.message.partition), int(event.message.offset)
            key_sector = event.key.decode() if event.key else None
            if key_sector is not None:
                ensure_restored(key_sector)
                if offset <= obs_offsets[key_sector].get(part, -1):
                    counts["redelivered"] += 1
                    return
            batch = loads(event.value)
            seen = parse_seen(event)  # the ingest's proof of life of the sector's sensors
            backlog = from_backlog(event)  # its readings had waited in Kafka: catching up
            if seen and key_sector is not None:
                if inline is not None:
                    judge = not (fusion_input.behind or backlog)
                    await inline.note_seen(key_sector, seen, judge, dirty)
                else:  # for the alerts agent, in order with the sector's track buckets
                    await tp.tracks.send(key=key_sector.encode(), value=b"[]",
                                         headers=seen_header(seen, backlog))
            raw = batch if isinstance(batch, list) else [batch]
            if not raw and key_sector is not None:  # a record of sensors' times only
                obs_offsets[key_sector][part] = offset
                dirty.add(key_sector)
                return
            obs = [Observation.from_dict(o) for o in raw]
            sector = key_sector or obs[0].sector
            ensure_restored(sector)
            dup0, re0 = fusion.duplicates[sector], fusion.redelivered[sector]
            too_late = fusion.add(sector, obs, raw=raw, backlog=backlog)
            counts["duplicates"] += fusion.duplicates[sector] - dup0
            # of which re-ingested readings recognised by source offset (after a restart)
            counts["reingested"] += fusion.redelivered[sector] - re0
            obs_offsets[sector][part] = offset
            dirty.add(sector)
            if too_late:
                await send_late(too_late)
            seen_at[sector] = fusion_input.taken
            touched.add(sector)

        @app.agent(tp.observations, name="fusion")
        async def fusion_agent(stream: Any) -> None:
            fusion_ckpt.start()
            start_flush_loop()
            async for events in stream.take_events(s.batch_size, within=s.batch_within_s):
                stamps = [e.message.timestamp for e in events if e.message.timestamp]
                fusion_input.take(len(events), max(stamps, default=None), time.time())
                async with fusion_ckpt.lock:
                    touched: set[str] = set()
                    re0 = counts["reingested"]
                    for event in events:
                        # hold the message past take_events' own ack until a checkpoint
                        fusion_ckpt.hold(event.message)
                        try:
                            await take(event, touched)
                        except Exception as exc:  # noqa: BLE001
                            log.exception("fusion could not take a record")
                            await send_deadletters(
                                [
                                    dead_letter(
                                        "observations",
                                        "malformed",
                                        event.value,
                                        message=repr(exc),
                                    )
                                ]
                            )
                    if counts["reingested"] > re0:  # only after a restart or rebalance
                        log.info("fusion dropped re-ingested observations",
                                 extra={"count": counts["reingested"] - re0})
                    for sector in sorted(touched):
                        try:
                            await publish(sector, flush=False)
                        except Exception:  # noqa: BLE001
                            log.exception("fusion failed", extra={"sector": sector})
                    if fusion_ckpt.due():
                        await fusion_ckpt.checkpoint()
                    fusion_input.finish(time.time())

        quiet_s = s.fusion_quiet_flush_s or s.reorder_window_s

        async def flush_idle_sectors() -> float:
            """Release buffered observations of sectors whose input went quiet (wall clock,
            up to when the agent's queue was last empty: ``InputClock``): the watermark only
            moves with new data, so the tail of a burst would wait. What arrives after such
            a release is placed by the tracker per track (out of sequence). Returns how long
            to wait before the next check (``quiet_wait``)."""
            async with fusion_ckpt.lock:
                drained = fusion_input.drained_until(time.time())
                if drained is None:
                    return quiet_s / 2  # busy: nothing is quiet
                waiting = []  # when each sector still holding observations turns quiet
                for sector in list(fusion.buffers):
                    if not fusion.buffers[sector]:
                        continue
                    seen = seen_at.get(sector, drained)
                    if drained - seen <= quiet_s:
                        waiting.append(seen + quiet_s + fusion_input.within_s)
                        continue
                    try:
                        await publish(sector, flush=True)
                    except Exception:  # noqa: BLE001 - the loop must survive
                        log.exception("fusion flush failed", extra={"sector": sector})
                return quiet_wait(min(waiting, default=None), time.time(), quiet_s)

        async def flush_loop() -> None:
            """``flush_idle_sectors`` at the moment the next sector turns quiet, not on a
            fixed tick (a 50 ms tick added 25 ms on average to the quiet time, the largest
            wait at low load). A plain task like ``HeldCheckpoints.loop``."""
            while True:
                try:
                    wait = await flush_idle_sectors()
                except Exception:  # noqa: BLE001 - the loop must survive
                    log.exception("fusion flush failed")
                    wait = quiet_s / 2
                await asyncio.sleep(wait)

        flush_task: list[asyncio.Task[None]] = []

        def start_flush_loop() -> None:
            if not flush_task:
                flush_task.append(asyncio.get_running_loop().create_task(flush_loop()))

    if runner is not None:
        # the lock, restore and checkpoint that the alert state lives under
        if inline is not None:
            alerts_ckpt, restore_alerts = fusion_ckpt, ensure_restored
        else:
            alerts_ckpt = HeldCheckpoints(app, runner.write, "alerts",
                                          s.checkpoint_interval_s, runner.table)
            restore_alerts = runner.ensure_restored
        handle.state["alerts_checkpoints"] = alerts_ckpt

        @app.timer(interval=runner.rules_file.check_s)
        async def reload_edited_rules() -> None:
            """An edited rules file applies from the next time bucket (streams/rules_watch.py)."""
            edited = runner.rules_file.poll(time.monotonic())
            if edited is not None:
                async with alerts_ckpt.lock:  # between two buckets, never inside one
                    runner.stage.reload_rules(edited)

    if runner is not None and inline is None:

        @app.on_partitions_revoked.connect
        async def forget_alert_state(sender: Any, revoked: Any = None, **_: Any) -> None:
            await alerts_ckpt.revoked(runner.forget)

        # like fusion: `tracks` messages held until the sectors they touched are written
        # (the whole engine state used to be serialised after every batch of a sector)
        @app.agent(tp.tracks, name="alerts")
        async def alerts_agent(stream: Any) -> None:
            alerts_ckpt.start()
            async for events in stream.take_events(s.batch_size, within=s.batch_within_s):
                async with alerts_ckpt.lock:
                    for event in events:
                        alerts_ckpt.hold(event.message)
                        await alerts_take(event)
                    if alerts_ckpt.due():
                        await alerts_ckpt.checkpoint()

        async def alerts_take(event: Any) -> None:
            """Apply one `tracks` record (a time bucket of one sector) to the rules."""
            try:
                batch = loads(event.value)
                seen = parse_seen(event)
                if seen and event.key:
                    sector = event.key.decode()
                    runner.ensure_restored(sector)
                    if not runner.already_applied(sector, "tracks", event):
                        # a record that waited in Kafka, or whose readings had: catching
                        # up, silence not judged
                        fresh = (time.time() - (event.message.timestamp or 0.0) < BACKLOG_S
                                 and not from_backlog(event))
                        await runner.note_seen(sector, seen, fresh, alerts_ckpt.dirty)
                    return
                updates = [
                    TrackUpdate.from_dict(u)
                    for u in (batch if isinstance(batch, list) else [batch])
                ]
                sector = event.key.decode() if event.key else updates[0].sector
                runner.ensure_restored(sector)
                if runner.already_applied(sector, "tracks", event):
                    counts["redelivered"] += 1
                    return
                departed = [TrackUpdate.from_dict(u) for u in parse_departed(event)]
                seq = _seq(event)
                if seq is not None:
                    if seq <= runner.tracks_seq[sector]:
                        counts["duplicates"] += 1  # a bucket fusion published twice
                        return
                    runner.tracks_seq[sector] = seq
            except Exception as exc:  # noqa: BLE001
                log.exception("alert rules could not take a record")
                await send_deadletters(
                    [dead_letter("tracks", "internal_error", event.value, message=repr(exc))]
                )
                return
            # written at the next checkpoint, alerts or not: rule state moves
            alerts_ckpt.dirty.add(sector)
            await runner.apply(sector, updates, event.value, departed)

    if runner is not None:

        @app.agent(tp.acks, name="acks-router")
        async def acks_router(stream: Any) -> None:
            async for event in stream.events():
                try:
                    ack = json.loads(event.value)
                    sector = alert_sector(str(ack["alert_id"]))
                    if sector is None:
                        raise ValueError(f"alert id {ack['alert_id']!r} names no sector")
                    await tp.acks_by_sector.send(key=sector.encode(), value=event.value)
                except Exception as exc:  # noqa: BLE001
                    await send_deadletters(
                        [dead_letter("alerts.acks", "malformed", event.value, message=repr(exc))]
                    )

        @app.agent(tp.acks_by_sector, name="acks")
        async def acks_agent(stream: Any) -> None:
            async for event in stream.events():
                try:
                    ack = json.loads(event.value)
                    sector = event.key.decode()
                    async with alerts_ckpt.lock:
                        restore_alerts(sector)
                        if runner.already_applied(sector, "acks", event):
                            continue
                        if "alert_id" in ack:  # a coordinator's ack (via acks-router)
                            changed = runner.stage.apply_ack(sector, ack)
                            await runner.send([changed] if changed is not None else [])
                        else:  # from another sector: a hand-over or a forwarded ack
                            await runner.send(runner.stage.receive(sector, ack))
                        await runner.send_to_sectors()
                        # at once (acks are rare): Faust acknowledges this message when the
                        # next one is taken, so the state must include it by then
                        alerts_ckpt.dirty.add(sector)
                        await alerts_ckpt.checkpoint()
                except Exception as exc:  # noqa: BLE001
                    await send_deadletters(
                        [
                            dead_letter(
                                "alerts.acks", "internal_error", event.value, message=repr(exc)
                            )
                        ]
                    )


SEQ_HEADER = "bf-bucket-seq"
# header of an `observations` record (and, for a separate alerts agent, of an empty `tracks`
# record): JSON {sensor: newest reading t} of sensors homed in the key's sector, the sensor-
# silence rule's proof of life; a header, so the records' values keep their contract
SEEN_HEADER = "bf-sensor-seen"
SEEN_EVERY_S = 1.0  # a sensor's reading time is passed on once it moved this far (event time)
# header of an `observations` record (and beside `bf-sensor-seen` on a `tracks` one) when
# its readings came from a backlog (one had waited in Kafka longer than BACKLOG_S: a
# restarted ingest reads its topics back at different speeds, seconds of event time apart):
# fusion then waits for lagging radars (``FusionStage.radar_hold``) and silence is not judged
BACKLOG_HEADER = "bf-backlog"
BACKLOG_S = 5.0
# header of a `tracks` record for a separate alerts agent: JSON list of the track updates of
# tracks that left the sector since the last record (``FusionStage.departures``), whose
# alerts the alert stage hands over to the sector they entered
DEPARTED_HEADER = "bf-departed"


def seen_header(seen: dict[str, float] | None,
                backlog: bool = False) -> dict[str, bytes] | None:
    """The headers of a record carrying ``seen`` times (and the backlog mark), or None."""
    headers = {SEEN_HEADER: dumps(seen)} if seen else {}
    if backlog:
        headers[BACKLOG_HEADER] = b"1"
    return headers or None


def from_backlog(event: Any) -> bool:
    """Whether a record's observations and ``bf-sensor-seen`` times came from readings
    read as a backlog."""
    return _header(event, BACKLOG_HEADER) is not None


def parse_seen(event: Any) -> dict[str, float]:
    """The sensor → time map of a record's ``bf-sensor-seen`` header ({} without one);
    ValueError when the header is not such a map."""
    raw = _header(event, SEEN_HEADER)
    if raw is None:
        return {}
    seen = loads(raw)
    if not isinstance(seen, dict):
        raise ValueError(f"{SEEN_HEADER} must map sensor ids to times")
    out = {str(k): float(v) for k, v in seen.items()}
    if not all(math.isfinite(t) for t in out.values()):
        raise ValueError(f"{SEEN_HEADER} times must be finite")
    return out


def parse_departed(event: Any) -> list[dict[str, Any]]:
    """The track updates of a ``tracks`` record's ``bf-departed`` header ([] without one)."""
    raw = _header(event, DEPARTED_HEADER)
    if raw is None:
        return []
    departed = loads(raw)
    if not isinstance(departed, list):
        raise ValueError(f"{DEPARTED_HEADER} must be a list of track updates")
    return departed


_TRACK_FIELDS = tuple(TrackUpdate.__dataclass_fields__)


def track_update_dict(u: TrackUpdate) -> dict[str, Any]:
    """``TrackUpdate.to_dict`` without ``dataclasses.asdict``'s recursive deep copy, which
    was 15 % of a busy worker: the dict shares the lists and is serialised right away."""
    d = {name: getattr(u, name) for name in _TRACK_FIELDS}
    if d["friendly"] is None:  # optional: absent, as in ``to_dict``
        del d["friendly"]
    return d


def _header(event: Any, name: str) -> bytes | str | None:
    headers = event.message.headers or ()
    items = headers.items() if isinstance(headers, dict) else headers
    for k, v in items:
        if k == name:
            return v  # type: ignore[no-any-return]
    return None


def _seq(event: Any) -> int | None:
    """The fusion bucket sequence number of a ``tracks`` record (None if absent)."""
    v = _header(event, SEQ_HEADER)
    if v is None:
        return None
    return int(v.decode() if isinstance(v, bytes) else v)


def _first_sensor(observations: list[Observation]) -> str:
    return observations[0].sensor_id if observations else ""
