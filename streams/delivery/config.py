"""``delivery.yaml``: where alerts go (TAK targets, webhooks) and which alerts each gets.

Like ``sensors.yaml``, an unknown field is an error that names the entry and the field:
a typo such as ``min_severty`` must not silently deliver every alert.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from fusion.types import ALERT_STATUSES, SEVERITIES, Alert

PROTOCOLS = ("tcp", "udp", "tls")


class DeliveryConfigError(ValueError):
    """``delivery.yaml`` is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts a subscriber wants. ``None`` means "any"."""

    rules: frozenset[str] | None = None
    min_severity: str = "info"
    sectors: frozenset[str] | None = None
    statuses: frozenset[str] | None = None

    def matches(self, alert: Alert) -> bool:
        if self.rules is not None and alert.rule not in self.rules:
            return False
        if self.sectors is not None and alert.sector not in self.sectors:
            return False
        if self.statuses is not None and alert.status not in self.statuses:
            return False
        sev = alert.severity if alert.severity in SEVERITIES else "info"
        return SEVERITIES.index(sev) >= SEVERITIES.index(self.min_severity)


@dataclass(frozen=True)
class TakTarget:
    """A TAK server or device. ``tls`` presents a client certificate (PEM) if given."""

    name: str
    host: str
    port: int
    protocol: str = "tcp"
    alerts: bool = True
    tracks: bool = False
    alarm: bool = False  # open critical alerts as b-a-o-tbl (an emergency alarm in ATAK)
    filters: AlertFilter = field(default_factory=AlertFilter)
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    key_password: str | None = None
    check_hostname: bool = True
    queue_max: int = 1000
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    connect_timeout_s: float = 5.0
    resend_window_s: float = 2.0


@dataclass(frozen=True)
class WebhookTarget:
    """An HTTPS endpoint that receives each matching alert version as signed JSON."""

    name: str
    url: str
    secret: str = field(repr=False)
    filters: AlertFilter = field(default_factory=AlertFilter)
    attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    timeout_s: float = 10.0
    queue_max: int = 10_000


@dataclass(frozen=True)
class DeliveryConfig:
    tak: tuple[TakTarget, ...] = ()
    webhooks: tuple[WebhookTarget, ...] = ()
    track_stale_s: float = 60.0
    track_min_interval_s: float = 2.0  # per track, so a busy sector does not flood TAK

    @property
    def wants_tracks(self) -> bool:
        return any(t.tracks for t in self.tak)


def _set(where: str, key: str, raw: Any, allowed: tuple[str, ...] | None = None) -> frozenset[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str | int) for v in raw):
        raise DeliveryConfigError(f"{where}: {key!r} must be a list of names")
    values = frozenset(str(v) for v in raw)
    if allowed is not None and not values <= set(allowed):
        bad = sorted(values - set(allowed))
        raise DeliveryConfigError(
            f"{where}: {key!r} has unknown value(s) {bad}; choose from {', '.join(allowed)}"
        )
    return values


def parse_filter(where: str, raw: Any) -> AlertFilter:
    if raw is None:
        return AlertFilter()
    if not isinstance(raw, dict):
        raise DeliveryConfigError(f"{where}: 'filters' must be a mapping")
    unknown = set(raw) - {"rules", "min_severity", "sectors", "statuses"}
    if unknown:
        raise DeliveryConfigError(f"{where}: unknown filter field(s) {sorted(unknown)}")
    sev = str(raw.get("min_severity", "info"))
    if sev not in SEVERITIES:
        raise DeliveryConfigError(
            f"{where}: min_severity {sev!r} is not one of {', '.join(SEVERITIES)}"
        )
    return AlertFilter(
        rules=_set(where, "rules", raw["rules"]) if "rules" in raw else None,
        min_severity=sev,
        sectors=_set(where, "sectors", raw["sectors"]) if "sectors" in raw else None,
        statuses=(
            _set(where, "statuses", raw["statuses"], ALERT_STATUSES) if "statuses" in raw else None
        ),
    )


def _build(cls: type, where: str, raw: dict[str, Any], special: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = set(raw) - set(known) - {"secret_env"}
    if unknown:
        raise DeliveryConfigError(f"{where}: unknown field(s) {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in special or key == "secret_env":
            continue
        kind = known[key].type
        try:
            if "Path" in str(kind):
                kwargs[key] = None if value is None else Path(str(value))
            elif kind in ("int", int):
                kwargs[key] = int(value)
            elif kind in ("float", float):
                kwargs[key] = float(value)
            elif kind in ("bool", bool):
                if not isinstance(value, bool):
                    raise ValueError(value)
                kwargs[key] = value
            else:
                kwargs[key] = None if value is None else str(value)
        except (TypeError, ValueError) as exc:
            raise DeliveryConfigError(f"{where}: field {key!r} has a bad value {value!r}") from exc
    kwargs.update(special)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise DeliveryConfigError(f"{where}: {exc}") from exc


def parse_config(
    doc: Any, env: dict[str, str] | None = None, origin: str = "delivery.yaml"
) -> DeliveryConfig:
    """Build a :class:`DeliveryConfig` from the parsed YAML document."""
    env = dict(os.environ) if env is None else env
    if doc is None:
        return DeliveryConfig()
    if not isinstance(doc, dict):
        raise DeliveryConfigError(f"{origin} must hold a mapping")
    unknown = set(doc) - {"tak", "webhooks", "track_stale_s", "track_min_interval_s"}
    if unknown:
        raise DeliveryConfigError(f"{origin}: unknown top-level field(s) {sorted(unknown)}")
    tak: list[TakTarget] = []
    for i, raw in enumerate(doc.get("tak") or []):
        where = f"{origin}: tak[{i}] ({raw.get('name', '?') if isinstance(raw, dict) else '?'})"
        if not isinstance(raw, dict):
            raise DeliveryConfigError(f"{where}: must be a mapping")
        for req in ("name", "host", "port"):
            if req not in raw:
                raise DeliveryConfigError(f"{where}: missing field {req!r}")
        proto = str(raw.get("protocol", "tcp")).lower()
        if proto not in PROTOCOLS:
            raise DeliveryConfigError(
                f"{where}: protocol {proto!r} is not one of {', '.join(PROTOCOLS)}"
            )
        tak.append(
            _build(
                TakTarget,
                where,
                raw,
                {"filters": parse_filter(where, raw.get("filters")), "protocol": proto},
            )
        )
    hooks: list[WebhookTarget] = []
    for i, raw in enumerate(doc.get("webhooks") or []):
        where = (
            f"{origin}: webhooks[{i}] ({raw.get('name', '?') if isinstance(raw, dict) else '?'})"
        )
        if not isinstance(raw, dict):
            raise DeliveryConfigError(f"{where}: must be a mapping")
        for req in ("name", "url"):
            if req not in raw:
                raise DeliveryConfigError(f"{where}: missing field {req!r}")
        if "secret_env" in raw:
            secret = env.get(str(raw["secret_env"]))
            if not secret:
                raise DeliveryConfigError(
                    f"{where}: environment variable {raw['secret_env']!r} (secret_env) is not set"
                )
        elif raw.get("secret"):
            secret = str(raw["secret"])
        else:
            raise DeliveryConfigError(f"{where}: needs 'secret' or 'secret_env' to sign payloads")
        hooks.append(
            _build(
                WebhookTarget,
                where,
                raw,
                {"filters": parse_filter(where, raw.get("filters")), "secret": secret},
            )
        )
    names = [t.name for t in tak] + [w.name for w in hooks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DeliveryConfigError(f"{origin}: target names must be unique; repeated: {dupes}")
    return DeliveryConfig(
        tak=tuple(tak),
        webhooks=tuple(hooks),
        track_stale_s=float(doc.get("track_stale_s", 60.0)),
        track_min_interval_s=float(doc.get("track_min_interval_s", 2.0)),
    )


def load_config(path: str | Path | None) -> DeliveryConfig:
    """Read ``delivery.yaml``; no file means no targets (the role then idles)."""
    if path is None:
        return DeliveryConfig()
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise DeliveryConfigError(f"delivery file not found: {path}") from exc
    return parse_config(doc, origin=str(path))
