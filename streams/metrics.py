"""The platform's own Prometheus metrics, defined once so code, dashboard and docs agree.

Faust exposes its own monitor; these are the domain figures a coordinator's ops team
watches. Every name here is queried by ``deploy/grafana/borderfusion.json`` and a test
checks that the dashboard asks for nothing we do not export.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from streams.liveness import ProgressWatch

READINGS_ACCEPTED = Counter(
    "borderfusion_readings_accepted_total",
    "Readings that passed validation, by sensor and type.",
    ["sensor_id", "sensor_type"],
)
READINGS_REJECTED = Counter(
    "borderfusion_readings_rejected_total",
    "Readings refused and dead-lettered, by sensor, type and reason.",
    ["sensor_id", "sensor_type", "reason"],
)
READINGS_SPOOLED = Counter(
    "borderfusion_readings_spooled_total",
    "Readings written to the gateway's local spool while Kafka was unreachable.",
    ["sensor_id", "sensor_type"],
)
SPOOL_DEPTH = Gauge(
    "borderfusion_spool_depth", "Readings waiting in the gateway spool.", ["gateway"]
)
INGEST_LATENCY = Histogram(
    "borderfusion_ingest_latency_seconds",
    "Gateway time from request received to readings acknowledged by Kafka (or spooled).",
    ["sensor_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
OBSERVATIONS = Counter(
    "borderfusion_observations_total",
    "Observations produced, by sector and kind.",
    ["sector", "kind"],
)
DEADLETTERS = Counter(
    "borderfusion_deadletters_total",
    "Records sent to the deadletter topic, by source and reason.",
    ["source", "reason"],
)
OBSERVATIONS_ABSORBED = Counter(
    "borderfusion_observations_absorbed_total",
    "Out-of-sequence observations a track had already moved past (counted, not applied).",
    ["sector"],
)
CHECKPOINTS_REFUSED = Counter(
    "borderfusion_checkpoints_refused_total",
    "Sector states the broker did not store (e.g. over the changelog's record limit): the "
    "input they cover stays uncommitted until a later checkpoint is stored.",
    ["stage"],
)
ACTIVE_TRACKS = Gauge("borderfusion_active_tracks", "Confirmed tracks held per sector.", ["sector"])
FUSION_LATENCY = Histogram(
    "borderfusion_fusion_latency_seconds",
    "Time the fusion core spends on one batch of a sector.",
    ["sector"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
ALERTS = Counter(
    "borderfusion_alerts_total", "Alerts opened, by rule and severity.", ["rule", "severity"]
)
RULES_RELOADS = Counter(
    "borderfusion_rules_reloads_total",
    "Edits of the rules file picked up by a running worker (ok) or refused (error).",
    ["result"],
)
SENSOR_TO_ALERT_LATENCY = Histogram(
    "borderfusion_sensor_to_alert_latency_seconds",
    "Wall-clock time from the newest evidence reading's event time to the alert being sent.",
    ["rule"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ARCHIVE_LAG = Gauge(
    "borderfusion_archive_lag_seconds",
    "Seconds between now and the newest record the archive has made durable.",
    ["topic"],
)
DELIVERY_FAILURES = Counter(
    "borderfusion_delivery_failures_total", "Failed CoT/webhook deliveries.", ["channel"]
)
CONSUMER_LAG = Gauge(
    "borderfusion_consumer_lag",
    "Records between a consumer group's committed offset and the partition's end offset; "
    "the KEDA scaler and the dashboard read it to decide when to add workers.",
    ["topic", "partition", "group"],
)
DELIVERIES = Counter(
    "borderfusion_deliveries_total",
    "CoT events written to a TAK connection and webhook posts answered 2xx, by channel.",
    ["channel"],
)
DELIVERY_QUEUE = Gauge(
    "borderfusion_delivery_queue_depth",
    "Deliveries waiting for a TAK target to (re)connect or a webhook to answer.",
    ["channel", "target"],
)


# ---------------------------------------------------------------- wiring helpers
# Two dashboard series have no natural single call site in the agents, so the code that owns
# them calls these (see docs/deploy.md, "Metrics contract"); tests/deploy/
# test_metrics_contract.py checks a running worker exports every series the dashboard reads.


def observe_sensor_to_alert(rule: str, t_evidence: float, now: float | None = None) -> None:
    """Record an alert being sent ``now`` for evidence whose newest reading is ``t_evidence``
    (event time, epoch seconds; the alert's ``t_last``). Negative skew counts as 0."""
    now = time.time() if now is None else now
    SENSOR_TO_ALERT_LATENCY.labels(rule).observe(max(0.0, now - t_evidence))


def sensor_label(sensor_id: str | None, known: object) -> str:
    """The ``sensor_id`` label of a reading: its id when the registry ``known`` has it,
    else ``"unknown"`` (as the gateway does). A refused reading can carry any string, and
    one series per string would grow the worker's memory and Prometheus without bound."""
    return sensor_id if sensor_id and sensor_id in known else "unknown"  # type: ignore[operator]


def update_consumer_lag(app: object, group: str) -> dict[str, tuple[int, int]]:
    """Set ``borderfusion_consumer_lag`` for the partitions this Faust worker owns now.

    Why per worker and per owned partition: every replica exports only its own share, so
    ``sum(borderfusion_consumer_lag)`` over all replicas counts each partition once, and a
    partition that moved away in a rebalance stops being reported here. End offsets come
    from the consumer's high-water marks, committed offsets from Faust's monitor; table
    changelog partitions are left out (read by recovery, never committed). Returns
    what it reported: ``"topic/partition"`` -> (committed offset, end offset).
    """
    consumer = getattr(app, "consumer", None)
    monitor = getattr(app, "monitor", None)
    if consumer is None or monitor is None:
        return {}
    # table changelogs are assigned too (recovery, standbys) but never committed by the
    # group: counting them made every table write look like lag (and a stalled partition)
    tables = getattr(app, "tables", None)
    changelogs = set(getattr(tables, "changelog_topics", None) or ())
    assigned = {tp for tp in consumer.assignment() if tp.topic not in changelogs}
    committed = getattr(monitor, "tp_committed_offsets", None) or {}
    ends = getattr(monitor, "tp_end_offsets", None) or {}
    reported: set[tuple[str, str, str]] = set()
    positions: dict[str, tuple[int, int]] = {}
    for tp in assigned:
        try:
            end = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - not fetched yet: fall back to the monitor
            end = None
        end = end if end is not None else ends.get(tp)
        if end is None:
            continue
        labels = (tp.topic, str(tp.partition), group)
        done = int(committed.get(tp, 0))
        CONSUMER_LAG.labels(*labels).set(max(0, int(end) - done))
        reported.add(labels)
        positions[f"{tp.topic}/{tp.partition}"] = (done, int(end))
    for labels in _lag_reported - reported:
        try:
            CONSUMER_LAG.remove(*labels)
        except KeyError:
            pass
    _lag_reported.clear()
    _lag_reported.update(reported)
    return positions


_lag_reported: set[tuple[str, str, str]] = set()


def install_consumer_lag(
    app: object, group: str, interval_s: float = 10.0, watch: ProgressWatch | None = None
) -> None:
    """Register a Faust timer that keeps :data:`CONSUMER_LAG` current (call once per app)
    and shows the same positions to ``watch`` (the worker's liveness, ``/healthz``)."""

    @app.timer(interval=interval_s)  # type: ignore[attr-defined,misc]
    async def export_consumer_lag() -> None:
        positions = update_consumer_lag(app, group)
        if watch is not None:
            rebalancing = bool(getattr(app, "rebalancing", False))
            watch.observe(positions, rebalancing, time.monotonic())


def init_delivery_channels(channels: tuple[str, ...] = ("tak", "webhook")) -> None:
    """Declare the delivery counters at 0 for every channel, so a healthy deployment shows
    "0 failures" (and ``# HELP`` lines) instead of no series at all."""
    for channel in channels:
        DELIVERY_FAILURES.labels(channel)
        DELIVERIES.labels(channel)
