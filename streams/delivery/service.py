"""The ``delivery`` role: alerts (and optionally tracks) from Kafka to TAK and webhooks.

It reads ``alerts`` with its own aiokafka consumer in the group ``<app_id>-delivery``, so
delivery keeps its own offsets and never competes with the alert agent for records.
Offsets are committed only up to the oldest record whose webhook deliveries have all
finished (delivered or dead-lettered): a crash re-reads, it never skips. Re-read records
are caught by an in-process de-duplication on (alert_id, t_last, status, severity); across
a restart the webhook ``Idempotency-Key`` and the CoT ``uid`` make a repeat harmless.

Started from a Faust ``@app.task`` (``register``) so it runs in the worker's event loop,
or directly (``DeliveryService(...).run()``), which is what the tests do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict, defaultdict
from typing import Any

from fusion.types import SEVERITIES, Alert, TrackUpdate
from streams import metrics as M
from streams import redaction
from streams import topics as T
from streams.deadletter import dead_letter
from streams.delivery import cot
from streams.delivery.config import DeliveryConfig, load_config
from streams.delivery.tak import TakSender
from streams.delivery.webhooks import DeadLetterSink, WebhookDispatcher
from streams.kafka_security import client_options
from streams.settings import Settings

log = logging.getLogger(__name__)
OPEN_STATUSES = frozenset({"open", "acknowledged"})
DEDUP_CAPACITY = 100_000


def group_id(settings: Settings) -> str:
    return f"{settings.app_id}-delivery"


class OffsetTracker:
    """Per partition: the offsets still waiting on deliveries, and the newest seen.
    The committable offset is the oldest pending one (or one past the newest seen)."""

    def __init__(self) -> None:
        self._pending: dict[Any, dict[int, int]] = defaultdict(dict)
        self._seen: dict[Any, int] = {}

    def add(self, tp: Any, offset: int, waits: int) -> None:
        self._seen[tp] = max(offset, self._seen.get(tp, -1))
        if waits:
            self._bump(tp, offset, waits)

    def done(self, tp: Any, offset: int) -> None:
        self._bump(tp, offset, -1)

    def _bump(self, tp: Any, offset: int, delta: int) -> None:
        # a delivery may finish before its record's count is added: counts may go
        # negative for a moment, and zero means "nothing pending"
        left = self._pending[tp].get(offset, 0) + delta
        if left:
            self._pending[tp][offset] = left
        else:
            self._pending[tp].pop(offset, None)

    def committable(self) -> dict[Any, int]:
        return {
            tp: (min(self._pending[tp]) if self._pending.get(tp) else last + 1)
            for tp, last in self._seen.items()
        }


class DeliveryService:
    """Fans each new alert version out to the TAK senders and webhook dispatchers."""

    def __init__(
        self,
        settings: Settings,
        config: DeliveryConfig,
        *,
        dead_letter_sink: DeadLetterSink | None = None,
        start_from: str = "earliest",
    ) -> None:
        self.settings = settings
        self.config = config
        self.start_from = start_from
        self.tak = [TakSender(t) for t in config.tak]
        self._external_sink = dead_letter_sink
        self.hooks = [WebhookDispatcher(w, self._dead_letter) for w in config.webhooks]
        self._seen: OrderedDict[tuple[str, float, str, str], None] = OrderedDict()
        self._track_alerts: dict[str, dict[str, str]] = defaultdict(dict)
        self._track_sent: dict[str, tuple[float, str]] = {}
        self._track_ce: dict[str, float] = {}
        self._track_types: dict[str, str] = {}
        self._producer: Any = None
        self.offsets = OffsetTracker()
        self.counts: dict[str, int] = defaultdict(int)

    @property
    def has_targets(self) -> bool:
        return bool(self.tak or self.hooks)

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        for s in self.tak:
            await s.start()
        for h in self.hooks:
            await h.start()

    async def stop(self) -> None:
        for s in self.tak:
            await s.stop()
        for h in self.hooks:
            await h.stop()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _dead_letter(self, record: dict[str, Any]) -> None:
        """Webhook dead letters: to the caller's sink, or to the ``deadletter`` topic."""
        self.counts["deadletter"] += 1
        if self._external_sink is not None:
            await self._external_sink(record)
            return
        if self._producer is None:
            from aiokafka import AIOKafkaProducer

            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap,
                acks="all",
                **client_options(self.settings),
            )
            await self._producer.start()
        await self._producer.send_and_wait(
            self.settings.topic(T.DEADLETTER),
            key=str(record["source"]).encode(),
            value=json.dumps(record, separators=(",", ":")).encode(),
        )

    # -- the core: plain data in, deliveries out ----------------------------------------
    def is_new(self, alert: Alert) -> bool:
        """True the first time an alert version is seen (bounded LRU memory)."""
        key = (alert.alert_id, float(alert.t_last), alert.status, alert.severity)
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > DEDUP_CAPACITY:
            self._seen.popitem(last=False)
        return True

    def track_severity(self, track_id: str) -> str | None:
        """The highest severity among open alerts naming this track (for its affiliation)."""
        sevs = self._track_alerts.get(track_id)
        if not sevs:
            return None
        return max(sevs.values(), key=lambda s: SEVERITIES.index(s) if s in SEVERITIES else 0)

    async def handle_alert(self, alert: Alert, on_done: Any = None) -> int:
        """Deliver one alert version to every matching target; returns how many webhook
        deliveries were queued (``on_done`` is called once per finished one)."""
        if not self.is_new(alert):
            self.counts["duplicates"] += 1
            return 0
        self.counts["alerts"] += 1
        for tid in alert.track_ids:
            if alert.status in OPEN_STATUSES:
                self._track_alerts[tid][alert.alert_id] = alert.severity
            else:
                self._track_alerts[tid].pop(alert.alert_id, None)
        now = time.time()
        ce = min((self._track_ce[t] for t in alert.track_ids if t in self._track_ce), default=None)
        for sender in self.tak:
            t = sender.target
            if t.alerts and t.filters.matches(alert):
                sender.send(
                    cot.alert_to_cot(
                        alert, now, alarm=t.alarm, ce_m=ce, track_types=self._track_types
                    )
                )
        queued = 0
        for hook in self.hooks:
            if hook.wants(alert):
                await hook.submit(alert, on_done)
                queued += 1
        return queued

    def handle_tracks(self, updates: list[TrackUpdate]) -> int:
        """Send track updates to the TAK targets that want tracks, at most one per track
        per ``track_min_interval_s`` unless its status changed; returns events sent."""
        targets = [s for s in self.tak if s.target.tracks]
        now = time.time()
        sent = 0
        for u in updates:
            self._track_ce[u.track_id] = cot.circular_error_m(u.cov)
            sev = self.track_severity(u.track_id)
            self._track_types[u.track_id] = cot.track_type(u, sev)
            last = self._track_sent.get(u.track_id)
            if u.status == "deleted":
                for d in (self._track_sent, self._track_ce, self._track_types):
                    d.pop(u.track_id, None)
            elif (
                last is not None
                and last[1] == u.status
                and (u.t - last[0] < self.config.track_min_interval_s)
            ):
                continue
            else:
                self._track_sent[u.track_id] = (u.t, u.status)
            event = cot.track_to_cot(u, now, alert_severity=sev, stale_s=self.config.track_stale_s)
            for s in targets:
                s.send(event)
            sent += 1
        return sent

    # -- the Kafka driver ---------------------------------------------------------------
    async def _on_record(self, record: Any, tp: Any, alerts_topic: str) -> None:
        try:
            value = json.loads(record.value)
            if record.topic == alerts_topic:
                alert = Alert.from_dict(value)
                offset = record.offset
                self.offsets.add(tp, offset, 0)
                waits = await self.handle_alert(alert, lambda: self.offsets.done(tp, offset))
                self.offsets.add(tp, offset, waits)
            else:
                self.offsets.add(tp, record.offset, 0)
                items = value if isinstance(value, list) else [value]
                self.handle_tracks([TrackUpdate.from_dict(d) for d in items])
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop delivery
            log.exception("delivery could not handle a record")
            self.offsets.add(tp, record.offset, 0)
            src = T.ALERTS if record.topic == alerts_topic else T.TRACKS
            M.DEADLETTERS.labels(src, "malformed").inc()
            rec = dead_letter(src, "malformed", record.value, message=repr(exc)).to_dict()
            with contextlib.suppress(Exception):
                await self._dead_letter(rec)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Consume until cancelled. Without targets there is nothing to do: log and idle."""
        if not self.has_targets:
            log.info("delivery role has no targets (set BORDERFUSION_DELIVERY_FILE)")
            if ready is not None:
                ready.set()
            return
        from aiokafka import AIOKafkaConsumer

        s = self.settings
        alerts_topic = s.topic(T.ALERTS)
        topics = [alerts_topic] + ([s.topic(T.TRACKS)] if self.config.wants_tracks else [])
        await self.start()
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=s.kafka_bootstrap,
            group_id=group_id(s),
            enable_auto_commit=False,
            auto_offset_reset=self.start_from,
            session_timeout_ms=int(s.broker_session_timeout_s * 1000),
            heartbeat_interval_ms=int(s.broker_heartbeat_interval_s * 1000),
            **client_options(s),
        )
        await consumer.start()
        if ready is not None:
            ready.set()
        committed: dict[Any, int] = {}
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=300, max_records=500)
                for tp, records in batch.items():
                    for r in records:
                        await self._on_record(r, tp, alerts_topic)
                committed = await self._commit(consumer, committed)
        finally:
            with contextlib.suppress(Exception):
                for h in self.hooks:
                    await h.join(5.0)
                await self._commit(consumer, committed)
            await consumer.stop()
            await self.stop()

    async def _commit(self, consumer: Any, committed: dict[Any, int]) -> dict[Any, int]:
        offsets = self.offsets.committable()
        assigned = consumer.assignment()
        todo = {tp: o for tp, o in offsets.items() if tp in assigned and committed.get(tp) != o}
        if not todo:
            return committed
        try:
            await consumer.commit(todo)
        except Exception as exc:  # noqa: BLE001 - a rebalance: the next owner re-reads
            log.warning("delivery offset commit failed", extra={"error": repr(exc)})
            return committed
        return {**committed, **todo}


def register(handle: Any) -> None:
    """Add the delivery service to a Faust app as a task in the worker's event loop."""
    config = load_config(getattr(handle.settings, "delivery_file", None))
    redaction.register(*(w.secret for w in config.webhooks),
                       *(t.key_password for t in config.tak))
    service = DeliveryService(handle.settings, config)
    handle.state["delivery"] = service

    @handle.app.task
    async def delivery() -> None:
        await service.run()
