"""The ingest core every transport shares: validate a batch, forward the good, explain the bad.

Per record, in this order: the reading schema (:func:`sensors.schemas.validate_reading`),
the credential's right to report for that sensor, the sensor's presence in the registry,
that the sensor's type matches the topic (a thermal camera's reading on ``readings.radar``
would be geo-referenced as a radar plot), and last the sensor's own reading budget
(:class:`~sensors.gateway.ratelimit.SensorRateLimiter`: a flooding sensor is cut back to a
multiple of its nominal rate without starving the others; only good readings spend it, so
garbage cannot use up a sensor's budget). AIS sentences must also be framed NMEA with a good
checksum. Good records of a batch go through even when others are bad; every bad one is
reported back as ``{index, field, reason, message}`` and dead-lettered (DESIGN §3) — under a
flood of refusals, within a budget per sender, sensor and reason, the rest counted in the
next dead letter's ``count`` (:mod:`sensors.gateway.deadletters`).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sensors.ais.framing import FramingError, frame_line
from sensors.friendly import friendly_report
from sensors.gateway.auth import Credential
from sensors.gateway.deadletters import DeadLetterBudget, LetterKey
from sensors.gateway.forward import Forwarder
from sensors.gateway.ratelimit import SensorRateConfig, SensorRateLimiter
from sensors.gateway.spool import Record
from sensors.registry import SensorRegistry
from sensors.schemas import MAX_AGE_S, ReadingError, validate_reading

log = logging.getLogger(__name__)

KINDS = ("radar", "thermal", "seismic", "ais", "friendly")
DEADLETTER_TOPIC = "deadletter"
RAW_LIMIT = 4096
# readings of one sensor per Kafka record: per-record overhead bounds throughput, and
# 500 small readings stay far below the broker's 1 MB message limit
READINGS_PER_RECORD = 500


@dataclass(slots=True)
class GatewayMetrics:
    """Prometheus objects to update (``streams.metrics`` passes its own); None: not counted.

    Injected rather than imported because ``sensors/`` never imports ``streams/``.
    """

    accepted: Any = None  # Counter[sensor_id, sensor_type]
    rejected: Any = None  # Counter[sensor_id, sensor_type, reason]
    spooled: Any = None  # Counter[sensor_id, sensor_type]
    depth: Any = None  # Gauge[gateway]
    latency: Any = None  # Histogram[sensor_type]


@dataclass(slots=True)
class IngestResult:
    accepted: list[int] = field(default_factory=list)
    spooled: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # seconds until the most limited sensor of this request may send again (0: none was)
    retry_after_s: float = 0.0

    @property
    def only_rate_limited(self) -> bool:
        """Nothing accepted and every refusal a ``rate_limited`` one: HTTP answers 429."""
        return (
            not self.accepted
            and bool(self.rejected)
            and all(r["reason"] == "rate_limited" for r in self.rejected)
        )

    def to_dict(self) -> dict[str, Any]:
        """The HTTP body: ``accepted`` counts every accepted reading, ``spooled`` those of
        them that are durable on the gateway's disk but not yet in Kafka."""
        return {"accepted": len(self.accepted), "spooled": self.spooled, "rejected": self.rejected}


def check_nmea(nmea: str) -> None:
    """Raise :class:`ReadingError` unless ``nmea`` holds AIS sentences with good framing."""
    frames = frame_line(nmea)
    if not frames:
        raise ReadingError("nmea", "not_ais", "no !AIVDM/!AIVDO sentence in the line")
    for f in frames:
        if isinstance(f, FramingError):
            raise ReadingError("nmea", f.reason, str(f))


class IngestCore:
    """Validate and forward readings; one instance per gateway process, thread-safe."""

    def __init__(
        self,
        registry: SensorRegistry,
        forwarder: Forwarder,
        metrics: GatewayMetrics | None = None,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.time,
        sensor_rate: SensorRateConfig | SensorRateLimiter | None = None,
        deadletters: DeadLetterBudget | None = None,
    ) -> None:
        """``sensor_rate``: the per-sensor reading budget (None: the defaults of
        :class:`SensorRateConfig`; ``SensorRateConfig(enabled=False)`` turns it off);
        ``deadletters``: how many dead letters a flood of refusals may write (module
        ``deadletters``; None: its defaults)."""
        self.registry = registry
        self.forwarder = forwarder
        self.metrics = metrics or GatewayMetrics()
        self.max_age_s = max_age_s
        self.clock = clock
        self.sensor_limiter = (
            sensor_rate
            if isinstance(sensor_rate, SensorRateLimiter)
            else SensorRateLimiter(sensor_rate)
        )
        self.deadletters = deadletters or DeadLetterBudget()

    def _check(self, kind: str, reading: Any, cred: Credential, now: float) -> float:
        """Raise :class:`ReadingError` for a bad reading; return 0, or the seconds to wait
        when the reading is good but over its sensor's budget."""
        try:
            validate_reading(kind, reading, now=now, max_age_s=self.max_age_s)
        except ReadingError:
            raise
        except (ArithmeticError, ValueError, TypeError) as exc:
            # a value the schema's checks did not foresee (a 400-digit JSON integer does
            # not fit a float): one bad record must never fail the whole request
            raise ReadingError("reading", "bad_value", f"cannot check this reading: {exc}") from exc
        sid = reading["sensor_id"]
        if not cred.may_report(sid):
            raise ReadingError(
                "sensor_id", "not_authorised", f"this credential may not report for sensor {sid!r}"
            )
        sensor = self.registry.get(sid)
        if sensor is None:
            raise ReadingError(
                "sensor_id", "unknown_sensor", f"sensor {sid!r} is not in the sensor registry"
            )
        if sensor.type != kind:
            raise ReadingError(
                "sensor_id",
                "wrong_sensor_type",
                f"sensor {sid!r} is a {sensor.type} sensor, not {kind}",
            )
        if kind == "ais":
            check_nmea(reading["nmea"])
        elif kind == "friendly":
            friendly_report(reading)  # a non-friendly CoT type is refused at the edge
        return self.sensor_limiter.take(sensor)

    def ingest(
        self,
        kind: str,
        readings: Sequence[Any],
        cred: Credential,
        *,
        transport: str = "http",
        raw: Sequence[str] | None = None,
        received_at: float | None = None,
    ) -> IngestResult:
        """Validate ``readings`` of ``kind``, forward the good ones, dead-letter the bad.

        Returns only when every accepted reading is acked by Kafka or fsynced in the
        spool; raises :class:`~sensors.gateway.forward.ForwardError` (nothing accepted)
        when neither is possible. ``raw`` holds each reading's text as received, for the
        dead letter.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown reading kind {kind!r}")
        started = time.monotonic()
        now = self.clock()
        result = IngestResult()
        by_sensor: dict[str, list[Any]] = defaultdict(list)
        dead: list[Record] = []
        rejected_by: Counter[tuple[str, str]] = Counter()
        for i, reading in enumerate(readings):
            try:
                wait = self._check(kind, reading, cred, now)
                if wait > 0:
                    result.retry_after_s = max(result.retry_after_s, wait)
                    raise ReadingError(
                        "sensor_id",
                        "rate_limited",
                        f"sensor {reading['sensor_id']!r} is over its reading rate; "
                        f"retry in {wait:.1f} s",
                    )
            except ReadingError as err:
                sid = reading.get("sensor_id") if isinstance(reading, dict) else None
                sid = sid if isinstance(sid, str) else None
                result.rejected.append({"index": i, **err.to_dict()})
                label = sid if sid is not None and sid in self.registry else "unknown"
                rejected_by[(label, err.reason)] += 1
                count = self.deadletters.admit(
                    LetterKey(cred.name, label, err.reason, kind, transport)
                )
                if count:  # else over the dead-letter budget: held, in a later one's count
                    text = raw[i] if raw is not None else json.dumps(reading, default=str)
                    dead.append(
                        _dead_letter(
                            kind, transport, cred.name, err.reason, now, count,
                            raw=text[:RAW_LIMIT], field=err.field, message=err.message,
                            sensor_id=sid, index=i,
                        )
                    )
                continue
            result.accepted.append(i)
            by_sensor[reading["sensor_id"]].append(reading)
        for key, count in self.deadletters.release():
            dead.append(
                _dead_letter(
                    key.kind, key.transport, key.client, key.reason, now, count,
                    raw="", field=None, sensor_id=key.sensor,
                    message=f"{count} more readings refused ({key.reason}) past the "
                    "dead-letter budget, in summary",
                )
            )

        records, counts = self._records(kind, by_sensor)
        submitted = self.forwarder.submit(records + dead)
        spooled_by: Counter[str] = Counter()
        for rec, n, was_spooled in zip(records, counts, submitted.spooled, strict=False):
            if was_spooled:
                spooled_by[str(rec.key)] += n
        result.spooled = sum(spooled_by.values())
        self._count(kind, by_sensor, rejected_by, spooled_by, time.monotonic() - started)
        if result.rejected:
            log.info(
                "readings rejected",
                extra={
                    "client": cred.name,
                    "kind": kind,
                    "rejected": len(result.rejected),
                    "accepted": len(result.accepted),
                    "transport": transport,
                },
            )
        return result

    @staticmethod
    def _records(kind: str, by_sensor: dict[str, list[Any]]) -> tuple[list[Record], list[int]]:
        """One Kafka record per sensor (a JSON array when several readings, DESIGN §3)."""
        topic = f"readings.{kind}"
        records: list[Record] = []
        counts: list[int] = []
        for sid, items in by_sensor.items():
            step = (
                1
                if kind == "seismic" and any("samples" in r for r in items)
                else READINGS_PER_RECORD
            )
            for j in range(0, len(items), step):
                chunk = items[j : j + step]
                records.append(Record(topic, sid, chunk[0] if len(chunk) == 1 else chunk))
                counts.append(len(chunk))
        return records, counts

    def _count(
        self,
        kind: str,
        by_sensor: dict[str, list[Any]],
        rejected_by: Counter[tuple[str, str]],
        spooled_by: Counter[str],
        elapsed: float,
    ) -> None:
        m = self.metrics
        if m.accepted is not None:
            for sid, items in by_sensor.items():
                m.accepted.labels(sensor_id=sid, sensor_type=kind).inc(len(items))
        if m.rejected is not None:
            for (sid, reason), n in rejected_by.items():
                m.rejected.labels(sensor_id=sid, sensor_type=kind, reason=reason).inc(n)
        if m.spooled is not None:
            for sid, n in spooled_by.items():
                m.spooled.labels(sensor_id=sid, sensor_type=kind).inc(n)
        if m.latency is not None and by_sensor:
            m.latency.labels(sensor_type=kind).observe(elapsed)


def _dead_letter(
    kind: str,
    transport: str,
    client: str,
    reason: str,
    now: float,
    count: int,
    **fields: Any,
) -> Record:
    """A ``deadletter`` record (DESIGN §3) of refused ``readings.<kind>``; ``count``: how
    many refusals it stands for (more than 1 past the dead-letter budget)."""
    topic = f"readings.{kind}"
    return Record(
        DEADLETTER_TOPIC,
        topic,
        {
            "source": f"gateway/{transport}",
            "reason": reason,
            "t": now,
            **fields,
            "topic": topic,
            "client": client,
            "count": count,
        },
    )
