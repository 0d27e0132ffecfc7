"""``create_app(settings)``: the Faust app with its topics, tables and the agents of the
requested roles. Agents live in ``streams/agents.py``; web views in ``streams/web/``.

Values on every topic are raw bytes that the agents decode themselves: a poison record
must reach our own error handling (and the dead-letter topic), not crash Faust's codec.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import faust

from sensors.tls import server_context
from streams import kafka_client
from streams import topics as T
from streams.kafka_security import faust_credentials
from streams.settings import Settings

ROLES = ("ingest", "fusion", "alerts", "web", "delivery", "archive")


@dataclass
class Topics:
    readings: Any
    observations: Any
    tracks: Any
    alerts: Any
    acks: Any
    acks_by_sector: Any
    deadletter: Any


@dataclass
class AppHandle:
    """The app plus what agents and views share (topics, tables, pipeline stages)."""

    app: faust.App
    settings: Settings
    roles: tuple[str, ...]
    topics: Topics
    tables: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


COMPRESSION = ("lz4", "gzip", "snappy", "zstd", "none")


def compression(settings: Settings) -> str | None:
    """The producer codec (``None`` for ``none``); a wrong name is a startup error."""
    name = settings.kafka_compression.lower()
    if name not in COMPRESSION:
        raise ValueError(f"kafka_compression {settings.kafka_compression!r}: choose from "
                         f"{', '.join(COMPRESSION)}")
    return None if name == "none" else name


def web_tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The web listener's TLS (``web_tls_cert``/``_key``), or None for plain HTTP; a bad
    file raises ``sensors.tls.TlsConfigError`` before anything starts."""
    return server_context(settings.web_tls_cert, settings.web_tls_key)


def create_app(settings: Settings, roles: tuple[str, ...] = ROLES) -> AppHandle:
    """Build the Faust app running the agents of ``roles`` (default: all of them)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}; choose from {', '.join(ROLES)}")
    # Workers without pipeline agents (web, delivery, archive) must not join the pipeline's
    # consumer group: every start or stop of theirs would pause the pipeline for a rebalance.
    pipeline = set(roles) & {"ingest", "fusion", "alerts"}
    faust_id = (settings.app_id if pipeline
                else f"{settings.app_id}-{'-'.join(sorted(roles))}-workers")
    kafka_client.set_compression_level(settings.kafka_compression_level, compression(settings))
    app = kafka_client.app_class(settings.kafka_fetch_max_wait_s)(
        faust_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        store=settings.store,
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
        web_enabled=True,  # every worker answers /healthz and /metrics; COP only with "web"
        web_host=settings.web_host,
        web_bind=settings.web_host,  # Faust binds 0.0.0.0 unless told: loopback by default
        web_port=settings.web_port,
        web_ssl_context=web_tls_context(settings),
        web_in_thread=False,
        autodiscover=False,
        producer_acks=-1,
        # lz4 by default: gzip was ~15 % of a busy worker's CPU (docs/performance.md). A
        # large state checkpoint is compressed by the agents themselves (agents.pack_state),
        # so it stays under the broker's 1 MB record limit whatever the codec
        producer_compression_type=compression(settings),
        producer_max_request_size=16 * 1024 * 1024,
        logging_config=None,
    )

    def topic(name: str) -> Any:
        return app.topic(settings.topic(name), key_type=bytes, value_type=bytes,
                         partitions=settings.partitions, internal=False)

    handle = AppHandle(
        app=app,
        settings=settings,
        roles=tuple(roles),
        topics=Topics(
            readings=app.topic(*[settings.topic(t) for t in T.READINGS], key_type=bytes,
                               value_type=bytes),
            observations=topic(T.OBSERVATIONS),
            tracks=topic(T.TRACKS),
            alerts=topic(T.ALERTS),
            acks=topic(T.ACKS),
            acks_by_sector=topic(T.ACKS_BY_SECTOR),
            deadletter=topic(T.DEADLETTER),
        ),
    )
    from streams import agents

    agents.register(handle)
    from streams import metrics
    from streams.web import views

    if "web" in roles:
        views.register(handle)
    else:
        views.register_ops(handle)
    if set(roles) & {"ingest", "fusion", "alerts"}:
        from streams.liveness import ProgressWatch

        watch = handle.state["progress"] = ProgressWatch(settings.stall_s)
        metrics.install_consumer_lag(app, settings.app_id, watch=watch)
    if "delivery" in roles:
        from streams.delivery import service

        service.register(handle)
    if "archive" in roles:
        from streams.archive import agent

        agent.register(handle)
    return handle
