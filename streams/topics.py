"""Topic names (DESIGN §3) with the optional prefix, and explicit creation.

Every topic is created up front with the partition count the app expects: a broker's
auto-created topics get its default count, and Faust then refuses to start tables
(``PartitionsMismatch``), as measured on Tansu.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from streams.kafka_security import client_options
from streams.settings import Settings

log = logging.getLogger(__name__)

READINGS = ("readings.radar", "readings.thermal", "readings.seismic", "readings.ais",
            "readings.friendly")
OBSERVATIONS = "observations"
TRACKS = "tracks"
ALERTS = "alerts"
ACKS = "alerts.acks"
DEADLETTER = "deadletter"
# internal: acks re-keyed by sector, co-partitioned with ``tracks`` so the alert state of
# a sector and the acks for its alerts are handled by the same worker
ACKS_BY_SECTOR = "alerts.acks.by-sector"
ALL_TOPICS = (*READINGS, OBSERVATIONS, TRACKS, ALERTS, ACKS, DEADLETTER, ACKS_BY_SECTOR)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


def topic_specs(settings: Settings) -> list[TopicSpec]:
    return [TopicSpec(settings.topic(t), settings.partitions) for t in ALL_TOPICS]


def ensure_topics(settings: Settings, extra: list[TopicSpec] | None = None) -> None:
    """Create missing topics; an existing topic with fewer partitions is an error."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    specs = topic_specs(settings) + list(extra or [])
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.app_id}-admin",
        **client_options(settings),
    )
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(s.name, s.partitions, 1) for s in specs if s.name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            log.info("created topics", extra={"topics": [t.name for t in missing]})
    finally:
        admin.close()
