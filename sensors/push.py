"""Sending readings to Kafka: the producer behind ``borderfusion push``, the simulator's
live mode and the gateways.

Readings are keyed by ``sensor_id`` (DESIGN §3) so one sensor's readings stay in order on
one partition. ``acks=all`` with idempotence-friendly retries: a reading is only reported
as sent when the broker has it.
"""

from __future__ import annotations

import json
from typing import Any


class KafkaPusher:
    """A thin, keyed JSON producer over kafka-python."""

    def __init__(self, bootstrap: str, topic_prefix: str = "", **client_kwargs: Any) -> None:
        from kafka import KafkaProducer

        from sensors import kafka_crc

        kafka_crc.install()
        self.topic_prefix = topic_prefix
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=5,
            retries=10,
            max_in_flight_requests_per_connection=1,
            key_serializer=lambda k: k.encode() if isinstance(k, str) else k,
            value_serializer=lambda v: (
                v if isinstance(v, bytes) else json.dumps(v, separators=(",", ":")).encode()
            ),
            **client_kwargs,
        )

    def send(self, topic: str, value: Any, key: str | None = None) -> Any:
        """Queue one record; ``key`` defaults to the reading's ``sensor_id``."""
        if key is None and isinstance(value, dict):
            key = value.get("sensor_id")
        elif key is None and isinstance(value, list) and value and isinstance(value[0], dict):
            key = value[0].get("sensor_id")
        return self._producer.send(self.topic_prefix + topic, value=value, key=key)

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
        self._producer.close(timeout)

    def __enter__(self) -> KafkaPusher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
