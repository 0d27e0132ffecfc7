"""What every alert rule shares: its configuration, the batch it reads, the hits it returns.

A rule sees one :class:`Batch` (at most one row per track, with the geofence queries already
done for all rows at once by the alert engine) and returns :class:`Hit`s. The engine, not the
rule, owns alert identity, dedup and lifecycle (``fusion/alerts.py``); a rule only says "this
situation holds for (track, zone) now" or, with ``active=False``, "it has ended".
Rules that need history keep it in ``self.state`` (plain JSON types, so it snapshots).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from fusion.geofence import BorderProximity, Crossings, Zones
from fusion.types import SENSOR_KINDS, SEVERITIES, TrackUpdate

FloatArray = NDArray[np.float64]

COMMON_DEFAULTS: dict[str, Any] = {"enabled": True}


class RuleConfigError(ValueError):
    """A rules.yaml entry that cannot be used; the message names the rule and the key."""


@dataclass
class Hit:
    """A rule's finding for one (rule, track, zone) at one time."""

    rule: str
    track_key: str  # the primary track id (a pair key for rendezvous, a sensor id for silence)
    zone_id: str | None
    t: float
    lat: float
    lon: float
    severity: str
    score: float
    summary: str
    track_ids: list[str] = field(default_factory=list)
    sector: str = ""
    obs_ids: list[str] = field(default_factory=list)
    sensors: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    mmsi: int | None = None
    classification: str | None = None
    active: bool = True  # False: the situation ended, resolve the open alert


@dataclass
class Batch:
    """One row per track of a batch of track updates, with the geofence answers for all rows."""

    updates: list[TrackUpdate]
    ids: list[str]
    t: FloatArray
    lat: FloatArray
    lon: FloatArray
    e: FloatArray
    n: FloatArray
    ve: FloatArray
    vn: FloatArray
    status: NDArray[np.str_]
    prev_t: FloatArray  # nan for a track seen for the first time
    prev_lat: FloatArray
    prev_lon: FloatArray
    crossings: Crossings
    prox: BorderProximity
    water: list[list[str]]
    restricted: list[list[str]]
    strip: list[list[str]]
    sectors: list[str]
    kinds: list[set[str]]  # sensor kinds among each update's sources
    has_ais: NDArray[np.bool_]  # an AIS source or an MMSI
    _status_masks: dict[tuple[str, ...], NDArray[np.bool_]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __len__(self) -> int:
        return len(self.ids)

    def status_in(self, statuses: Any) -> NDArray[np.bool_]:
        """Rows whose status is one of ``statuses`` (read-only; one per set per batch).

        Several rules ask the same question of every batch; ``np.isin`` sorts for it, which
        cost more than the rest of a small batch's rule setup."""
        key = tuple(statuses)
        mask = self._status_masks.get(key)
        if mask is None:
            wanted = set(key)
            mask = np.fromiter((s in wanted for s in self.status.tolist()), bool, len(self.status))
            mask.flags.writeable = False
            self._status_masks[key] = mask
        return mask


class Context:
    """Zones plus the sensor registry: what rules need to phrase and place a finding."""

    def __init__(self, zones: Zones, sensors: dict[str, dict[str, Any]] | None = None):
        self.zones = zones
        self.sensors = dict(sensors or {})
        self._kinds: dict[str, str] = {}  # sensor id -> kind_of, asked for every source

    def kind_of(self, sensor_id: str) -> str:
        """Sensor type from the registry, else guessed from an id such as ``ais-3``."""
        kind = self._kinds.get(sensor_id)
        if kind is None:
            kind = self._kinds[sensor_id] = self._kind_of(sensor_id)
        return kind

    def _kind_of(self, sensor_id: str) -> str:
        entry = self.sensors.get(sensor_id)
        if entry and entry.get("type") in SENSOR_KINDS:
            return str(entry["type"])
        low = sensor_id.lower()
        for kind in SENSOR_KINDS:
            if low.startswith(kind):
                return kind
        return "unknown"

    # ------------------------------------------------------------------ phrasing
    def subject(self, u: TrackUpdate, on_water: bool = False) -> str:
        """'Boat without AIS', "Vessel 'ANNA' (MMSI 211000001)", 'Person', ..."""
        if u.mmsi is not None:
            name = f" '{u.name.strip()}'" if u.name and u.name.strip() else ""
            return f"Vessel{name} (MMSI {u.mmsi})"
        cls = (u.classification or "unknown").lower()
        noun = {"boat": "Boat", "person": "Person", "vehicle": "Vehicle", "animal": "Animal"}
        word = noun.get(cls, "Unidentified target")
        has_ais = any(self.kind_of(s) == "ais" for s in u.sources)
        if (cls == "boat" or on_water) and not has_ais:
            return f"{'Boat' if cls in ('boat', 'unknown') else word} without AIS"
        return word

    def seen_by(self, sensors: list[str]) -> str:
        """'seen by radar R1 and camera C2'."""
        words = {
            "radar": "radar",
            "thermal": "camera",
            "seismic": "seismic sensor",
            "ais": "AIS station",
        }
        parts = [f"{words.get(self.kind_of(s), 'sensor')} {s}" for s in sorted(set(sensors))]
        if not parts:
            return ""
        text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"seen by {text}"

    def where(self, lat: float, lon: float) -> str:
        loc = self.zones.describe_location(lat, lon)
        return f" {loc}" if loc else ""

    def sentence(self, head: str, lat: float, lon: float, t: float, sensors: list[str]) -> str:
        """'<head> <where> at 14:03:22Z; seen by radar R1.' — the one-line summary."""
        seen = self.seen_by(sensors)
        tail = f"; {seen}." if seen else "."
        return f"{head}{self.where(lat, lon)} at {clock(t)}{tail}"


def clock(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, tz=_dt.UTC).strftime("%H:%M:%SZ")


class Rule:
    """Base of all rules: merged, checked configuration and JSON-serialisable state."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, cfg: dict[str, Any] | None = None):
        cfg = dict(cfg or {})
        allowed = {**COMMON_DEFAULTS, **self.defaults}
        unknown = sorted(set(cfg) - set(allowed))
        if unknown:
            raise RuleConfigError(
                f"rule {self.name!r}: unknown key(s) {unknown}; known: {sorted(allowed)}"
            )
        self.cfg: dict[str, Any] = {**allowed, **cfg}
        sev = self.cfg.get("severity")
        if "severity" in self.defaults and sev is not None and sev not in SEVERITIES:
            raise RuleConfigError(
                f"rule {self.name!r}: key 'severity' must be one of {'|'.join(SEVERITIES)},"
                f" got {sev!r}"
            )
        self.state: dict[str, Any] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.cfg["enabled"])

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        """Findings for this batch (most rules override this)."""
        return []

    def forget(self, track_ids: set[str]) -> None:
        """Drop per-track history of deleted tracks (state keyed by track id by default).

        Called per rule once per wave of an alert batch with every track deleted in it
        (``AlertEngine._tracks_gone``), so it pops the ids rather than building a set of
        every table's keys.
        """
        if not track_ids:
            return
        for table in self.state.values():
            if isinstance(table, dict):
                for tid in track_ids:
                    table.pop(tid, None)

    def status_mask(self, batch: Batch) -> NDArray[np.bool_]:
        """Rows whose status is in ``statuses`` (read-only: combine, do not modify)."""
        return batch.status_in(self.cfg.get("statuses", ()))

    def class_mask(self, batch: Batch) -> NDArray[np.bool_]:
        """Updates whose classification is not one of ``exclude_classes``."""
        excluded = set(self.cfg.get("exclude_classes", ()))
        return np.array(
            [(u.classification or "unknown") not in excluded for u in batch.updates], dtype=bool
        )

    def hit(
        self,
        batch: Batch,
        i: int,
        zone_id: str | None,
        summary: str,
        score: float,
        severity: str | None = None,
        **details: Any,
    ) -> Hit:
        """A hit on row ``i`` carrying that update's evidence."""
        u = batch.updates[i]
        return Hit(
            rule=self.name,
            track_key=u.track_id,
            zone_id=zone_id,
            t=u.t,
            lat=u.lat,
            lon=u.lon,
            severity=severity or str(self.cfg["severity"]),
            score=float(np.clip(score, 0.0, 1.0)),
            summary=summary,
            track_ids=[u.track_id],
            sector=batch.sectors[i] or u.sector,
            obs_ids=list(u.obs_ids),
            sensors=list(u.sources),
            details=details,
            mmsi=u.mmsi,
            classification=u.classification,
        )


def sensor_bonus(kinds: set[str], per_kind: float = 0.1) -> float:
    """More independent sensor kinds on a track, more trust: +0.1 per kind beyond the first."""
    return per_kind * max(0, len(kinds - {"unknown"}) - 1)
