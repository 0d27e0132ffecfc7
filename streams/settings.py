"""One typed settings object for every process: environment ``BORDERFUSION_*`` over an
optional YAML file over defaults. ``borderfusion config show`` prints the result.

Why not scatter ``os.environ`` reads: a Helm chart, a compose file and a test all have
to set the same knobs, and an operator must be able to see what is in effect.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "BORDERFUSION_"
SECRET_FIELDS = frozenset({"kafka_sasl_password"})


class SettingsError(ValueError):
    """A setting has a wrong name or a value of the wrong type."""


@dataclass(frozen=True)
class Settings:
    """Effective configuration. Field ``x`` is read from ``BORDERFUSION_X`` or YAML key ``x``."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    app_id: str = "borderfusion"
    partitions: int = 4
    store: str = "memory://"
    data_dir: Path = Path("var")
    sensors_file: Path | None = None
    zones_file: Path | None = None
    rules_file: Path | None = None
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    # HTTPS on the web listener (PEM chain and key, sensors/tls.py; unset: plain HTTP, for a
    # TLS proxy or Ingress in front). Every worker's /healthz and /metrics share the listener
    web_tls_cert: Path | None = None
    web_tls_key: Path | None = None
    users_file: Path | None = None  # web users/roles (streams/web/auth.py)
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8088
    gateway_tokens_file: Path | None = None
    # HTTPS on the gateway's listener (PEM files; unset: plain HTTP) and, for mutual TLS,
    # the CA that signs the senders' client certificates (docs/gateway.md "TLS")
    gateway_tls_cert: Path | None = None
    gateway_tls_key: Path | None = None
    gateway_tls_client_ca: Path | None = None
    spool_dir: Path | None = None
    # the gateway spool's room: at most this many MiB waiting for Kafka (0: no cap), and
    # never the file system's last spool_min_free_mb; past either a request gets 503
    spool_max_mb: float = 0.0
    spool_min_free_mb: float = 256.0
    log_level: str = "INFO"
    # fusion (also the defaults of streams.engine.Context, i.e. of the offline replay: the
    # values live here only)
    reorder_window_s: float = 2.0
    # fusion time bucket: the tracker takes whole buckets of this many seconds of event time
    # (0.25 s: hold p50 950 -> 150 ms at ~5-10 % more fusion + alert CPU than 1 s; 0.1 s
    # reaches 50 ms but costs ~50 %, mostly the alert engine's per-call cost; same alert
    # quality; docs/performance.md "Round 7")
    fusion_bucket_s: float = 0.25
    # release a time bucket once every sensor heard from in the sector within this many
    # seconds has passed it (each sensor's readings arrive in order), instead of waiting
    # the reorder window (0: window only). Short, since the tracker handles what comes
    # after the release per track (out-of-sequence: applied or absorbed, not dead-lettered)
    fusion_sensor_idle_s: float = 0.05
    # a late observation up to this far behind the released watermark is offered to the
    # tracker (which applies what its tracks' times allow); further behind: dead letter.
    # 30 s (was 2): after a worker restart or a broker outage the readings topics are read
    # back at different speeds and drift apart by seconds; at 2 s the chaos kill/restart
    # dead-lettered ~370 observations and lost 1-3 of 15 alerts (docs/chaos.md)
    fusion_late_tolerance_s: float = 30.0
    # release everything a sector holds once its input has been quiet this long (wall
    # clock), so the tail of a burst does not wait for the next reading (0: wait the
    # reorder window; the via-Kafka replay uses 0 so its buckets match the in-process run)
    fusion_quiet_flush_s: float = 0.1
    # a worker running both the fusion and the alerts role applies the rules to each time
    # bucket inside the fusion agent (one Kafka hop and one decode fewer; the alert state is
    # saved in the fusion checkpoint); false: the alerts agent reads `tracks`, as a worker
    # with the alerts role alone always does (docs/streaming.md "Alerts in the fusion agent")
    alerts_inline: bool = True
    # Python's cyclic garbage collector runs after this many container allocations (its
    # default 700): a fusion worker buffers ~10 containers per observation, and at 700 the
    # full collections that scan the whole heap cost ~38 µs per observation under a
    # 10 000/s backlog, as much as decoding and output together (docs/performance.md
    # "Round 9"); 0 keeps Python's default
    gc_threshold: int = 10_000
    # readings older than this are refused (0: accept any age, e.g. for a replay namespace)
    max_reading_age_s: float = 30 * 24 * 3600.0
    halo_m: float = 500.0
    sector_grid_m: float = 20_000.0
    batch_size: int = 500
    # take_events timeout per hop (ingest, fusion, alerts): a batch waits at most this long.
    # Under backlog batches fill at once whatever the value; when the worker keeps up every
    # hop waits half of it on average (0.02 s vs 0.2 s at 2 000/s: ingest hop p50 402 -> 229
    # ms, sensor -> alert p50 1.44 -> 1.16 s, +5 % worker CPU; docs/performance.md "Round 7")
    batch_within_s: float = 0.02
    # the fusion and alerts agents write their sector states at most this often (wall clock)
    # and hold their input offsets from Faust's commit until then; a restarted worker redoes
    # at most this much input (plus Faust's 2.8 s commit interval). Each checkpoint encodes
    # every busy sector's whole state: at 1 s it was ~10 % of a saturated worker
    # (docs/performance.md "Session 13")
    checkpoint_interval_s: float = 5.0
    # Kafka client security, passed to every Kafka connection (streams/kafka_security.py):
    # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; SASL mechanism PLAIN (default) or
    # SCRAM-SHA-256/512; the CA that signs the brokers (else the system's); a client
    # certificate and key (PEM) for brokers that authenticate clients by certificate
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    # producer compression of every topic: lz4 (~3x less CPU than gzip, docs/performance.md),
    # gzip, snappy, zstd or none
    kafka_compression: str = "lz4"
    # ... at this level (lz4, zstd, gzip): 1 is each codec's fast mode; aiokafka's own (null)
    # is lz4 HC at 9, ~10x the CPU for ~15 % less (streams/kafka_client.set_compression_level)
    kafka_compression_level: int | None = 1
    # longest a worker's consumer fetch waits at the broker for data (Faust's own 1.5 s
    # becomes latency on brokers that hold a fetch when data lands on another partition;
    # Kafka answers at once either way: streams/kafka_client.py)
    kafka_fetch_max_wait_s: float = 0.05
    # consumer-group timing; short values make the first join fast on a single box
    broker_session_timeout_s: float = 10.0
    broker_heartbeat_interval_s: float = 1.0
    # /healthz answers 503 "stalled" once the worker has had records waiting on a partition
    # it owns with no progress this long, or has been rebalancing 5x this long (0: never;
    # streams/liveness)
    stall_s: float = 120.0
    # archive (streams/archive): root (default <data_dir>/archive), segment length, and
    # retention in days (0: keep forever); readings may be kept shorter than alerts/acks
    archive_dir: Path | None = None
    archive_segment_s: float = 3600.0
    archive_retention_days: float = 0.0
    archive_readings_retention_days: float = 0.0
    # alert delivery (streams/delivery): TAK targets and webhooks, see docs/delivery.md
    delivery_file: Path | None = None

    @property
    def web_scheme(self) -> str:
        """``https`` when the web listener has a certificate, else ``http``."""
        return "https" if self.web_tls_cert is not None else "http"

    def topic(self, name: str) -> str:
        """Full topic name with the configured prefix (``replay1.`` + ``observations``)."""
        return f"{self.topic_prefix}{name}"

    @property
    def archive_path(self) -> Path:
        return self.archive_dir or self.data_dir / "archive"

    @property
    def spool_path(self) -> Path:
        return self.spool_dir or self.data_dir / "spool"

    def redacted(self) -> dict[str, Any]:
        """A JSON-friendly view with secrets masked, for ``config show`` and logs."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = "***"
            elif isinstance(value, Path):
                value = str(value)
            out[f.name] = value
        return out

    def secret_values(self) -> tuple[str, ...]:
        """The configured values of the secret fields (masked in logs)."""
        return tuple(str(getattr(self, f)) for f in sorted(SECRET_FIELDS) if getattr(self, f))

    def with_overrides(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any, annotation: Any) -> Any:
    """Convert a YAML or environment value to the field's declared type."""
    hint = annotation
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if raw is None or (optional and isinstance(raw, str) and raw == ""):
        if optional:
            return None
        raise SettingsError(f"setting {name!r} must not be empty")
    try:
        if hint is bool:
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if hint is Path:
            return Path(str(raw))
        return hint(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(
            f"setting {name!r}: cannot read {raw!r} as {getattr(hint, '__name__', hint)}"
        ) from exc


def load_settings(
    config_file: str | Path | None = None,
    env: typing.Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Defaults, then the YAML file (``config_file`` or ``$BORDERFUSION_CONFIG``), then
    ``BORDERFUSION_*`` variables, then explicit ``overrides`` (command-line flags)."""
    env = os.environ if env is None else env
    hints = typing.get_type_hints(Settings)
    known = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}

    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            doc = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError as exc:
            raise SettingsError(f"settings file not found: {path}") from exc
        if not isinstance(doc, dict):
            raise SettingsError(f"settings file {path} must hold a mapping")
        for key, raw in doc.items():
            if key not in known:
                raise SettingsError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, hints[key])

    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in known:
            raise SettingsError(f"unknown environment setting {key}")
        values[name] = _coerce(key, raw, hints[name])

    for key, raw in overrides.items():
        if raw is not None:
            values[key] = _coerce(key, raw, hints[key])
    return Settings(**values)
