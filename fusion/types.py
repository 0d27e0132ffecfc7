"""The shared record types every layer speaks (DESIGN §3, §6).

They live in ``fusion/`` because both ``sensors/`` (which produces observations) and
``streams/`` (which moves them) depend on this package, never the other way round.
Each type converts to and from the plain JSON dict that travels on Kafka.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SensorKind = Literal["radar", "thermal", "seismic", "ais"]
SENSOR_KINDS: tuple[str, ...] = ("radar", "thermal", "seismic", "ais")
CLASSES: tuple[str, ...] = ("person", "vehicle", "boat", "animal", "unknown")
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
ALERT_STATUSES: tuple[str, ...] = ("open", "acknowledged", "dismissed", "resolved")
ACK_ACTIONS: tuple[str, ...] = ("ack", "dismiss", "resolve", "escalate")


@dataclass(slots=True)
class Observation:
    """A geo-referenced sensor report: one position with its east/north covariance (m²)."""

    obs_id: str
    sensor_id: str
    kind: str
    t: float
    lat: float
    lon: float
    cov_en: list[list[float]]
    attrs: dict[str, Any] = field(default_factory=dict)
    sector: str = ""
    # optional: where the reading came from, ``[readings topic, partition, offset]``, set by
    # the ingest agent so fusion can recognise a re-ingested reading exactly
    # (docs/streaming.md "Restart semantics"); absent (None) offline and in older records
    src: list[Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["src"] is None:  # optional: absent rather than null on the wire
            del d["src"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Observation:
        src = d.get("src")
        return cls(
            obs_id=str(d["obs_id"]),
            sensor_id=str(d["sensor_id"]),
            kind=str(d["kind"]),
            t=float(d["t"]),
            lat=float(d["lat"]),
            lon=float(d["lon"]),
            cov_en=[[float(v) for v in row] for row in d["cov_en"]],
            attrs=dict(d.get("attrs") or {}),
            sector=str(d.get("sector", "")),
            src=[str(src[0]), int(src[1]), int(src[2])] if src else None,
        )


@dataclass(slots=True)
class TrackUpdate:
    """A track's state after a scan, as published on the ``tracks`` topic."""

    track_id: str
    t: float
    lat: float
    lon: float
    vel_e: float
    vel_n: float
    cov: list[list[float]]
    status: str
    sources: list[str]
    sector: str = ""
    mmsi: int | None = None
    name: str | None = None
    classification: str | None = None
    obs_ids: list[str] = field(default_factory=list)
    # the own unit (blue-force tracking, fusion/friendly.py) this sensor track is; absent
    # (None) for every other track, and then left out of the wire format
    friendly: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["friendly"] is None:
            del d["friendly"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrackUpdate:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(slots=True)
class Alert:
    """An alert (DESIGN §6). ``alert_id`` is derived from the situation, so replays agree."""

    alert_id: str
    rule: str
    severity: str
    score: float
    status: str
    t_first: float
    t_last: float
    lat: float
    lon: float
    sector: str
    zone_id: str | None
    track_ids: list[str]
    summary: str
    evidence: dict[str, Any]
    mmsi: int | None = None
    classification: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alert:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})
