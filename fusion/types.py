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
        """Every field converted to its type (a value that will not convert raises: the
        fusion agent dead-letters the record). ``cov_en`` and ``src`` that already are
        exactly what conversion would build (a 2×2 list of floats; ``[str, int, int]``, as
        our ingest writes them) are kept, not copied: the fusion buffer holds thousands of
        observations a sector, and every list in it is one more object for each run of the
        garbage collector to scan (issue 9). ``d`` must not be changed afterwards."""
        src = d.get("src")
        # converted in the order of the fields, so a bad record fails as it always did
        obs_id, sensor_id, kind = str(d["obs_id"]), str(d["sensor_id"]), str(d["kind"])
        t, lat, lon = float(d["t"]), float(d["lat"]), float(d["lon"])
        cov = d["cov_en"]
        if not (type(cov) is list and len(cov) == 2 and type(r0 := cov[0]) is list
                and type(r1 := cov[1]) is list and len(r0) == 2 and len(r1) == 2
                and type(r0[0]) is float and type(r0[1]) is float
                and type(r1[0]) is float and type(r1[1]) is float):
            cov = [[float(v) for v in row] for row in cov]
        attrs, sector = dict(d.get("attrs") or {}), str(d.get("sector", ""))
        if not src:
            src = None
        elif not (type(src) is list and len(src) == 3 and type(src[0]) is str
                  and type(src[1]) is int and type(src[2]) is int):
            src = [str(src[0]), int(src[1]), int(src[2])]
        return cls(obs_id, sensor_id, kind, t, lat, lon, cov, attrs, sector, src)


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
        known = cls.__dataclass_fields__  # (a dict: no set built per call)
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
        known = cls.__dataclass_fields__  # (a dict: no set built per call)
        return cls(**{k: v for k, v in d.items() if k in known})
