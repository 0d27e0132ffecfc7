"""The platform's own Prometheus metrics, defined once so code, dashboard and docs agree.

Faust exposes its own monitor; these are the domain figures a coordinator's ops team
watches. Every name here is queried by ``deploy/grafana/borderfusion.json`` and a test
checks that the dashboard asks for nothing we do not export.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
    "borderfusion_observations_total", "Observations produced, by sector and kind.",
    ["sector", "kind"],
)
DEADLETTERS = Counter(
    "borderfusion_deadletters_total", "Records sent to the deadletter topic, by source and reason.",
    ["source", "reason"],
)
ACTIVE_TRACKS = Gauge(
    "borderfusion_active_tracks", "Confirmed tracks held per sector.", ["sector"]
)
FUSION_LATENCY = Histogram(
    "borderfusion_fusion_latency_seconds",
    "Time the fusion core spends on one batch of a sector.",
    ["sector"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
ALERTS = Counter(
    "borderfusion_alerts_total", "Alerts opened, by rule and severity.", ["rule", "severity"]
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
