"""The sensor registry (``sensors.yaml``, DESIGN §5): where each sensor stands and how it sees.

Readings carry no position of their own; the registry turns a radar's range/bearing or a
ground sensor's "something here" into a place. Unknown fields are an error naming the
sensor and the field, since a misspelt ``sigma_bearing_deg`` would silently fall back to
a default and skew every covariance from that sensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

COMMON_FIELDS = ("id", "type", "lat", "lon", "height_m")
TYPE_FIELDS: dict[str, dict[str, float | None]] = {
    # field -> default (None: optional without default)
    "radar": {
        "max_range_m": 20_000.0,
        "sigma_range_m": 15.0,
        "sigma_bearing_deg": 0.5,
        "scan_period_s": 1.0,
        "edition": None,
        "sac": None,
        "sic": None,
    },
    "thermal": {
        "heading_deg": 0.0,
        "fov_deg": 30.0,
        "max_range_m": 3_000.0,
        "sigma_bearing_deg": 0.3,
        "vfov_deg": None,
        "tilt_deg": 0.0,
    },
    "seismic": {"radius_m": 50.0},
    "ais": {},
    # a blue-force tracking feed (a TAK server relaying own units' positions, CoT): the
    # devices report their own positions, so lat/lon is only where the feed's receiver or
    # server stands (shown on the map); it does not place anything, and is left out of
    # ``centroid`` so adding a feed never moves the sector frame (docs/friendly.md)
    "friendly": {},
}
POSITIONLESS_TYPES = frozenset({"friendly"})


class RegistryError(ValueError):
    """The registry file is wrong; the message names the sensor and the field."""


@dataclass(frozen=True, slots=True)
class Sensor:
    id: str
    type: str
    lat: float
    lon: float
    height_m: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> Any:
        value = self.params.get(name)
        return TYPE_FIELDS[self.type].get(name) if value is None else value


class SensorRegistry:
    """Sensors by id, loaded from a ``sensors:`` list."""

    def __init__(self, sensors: list[Sensor]) -> None:
        self._by_id: dict[str, Sensor] = {}
        for s in sensors:
            if s.id in self._by_id:
                raise RegistryError(f"sensor {s.id!r} is listed twice")
            self._by_id[s.id] = s

    def __contains__(self, sensor_id: object) -> bool:
        return sensor_id in self._by_id

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, sensor_id: str) -> Sensor | None:
        return self._by_id.get(sensor_id)

    def centroid(self) -> tuple[float, float]:
        if not self._by_id:
            raise RegistryError("the sensor registry is empty")
        placed = [s for s in self._by_id.values() if s.type not in POSITIONLESS_TYPES]
        placed = placed or list(self._by_id.values())
        lats = [s.lat for s in placed]
        lons = [s.lon for s in placed]
        return sum(lats) / len(lats), sum(lons) / len(lons)

    @classmethod
    def from_dict(cls, doc: Any, source: str = "sensors.yaml") -> SensorRegistry:
        if not isinstance(doc, dict) or not isinstance(doc.get("sensors"), list):
            raise RegistryError(f"{source}: expected a top-level 'sensors:' list")
        return cls([_parse_sensor(i, entry, source) for i, entry in enumerate(doc["sensors"])])

    @classmethod
    def load(cls, path: str | Path) -> SensorRegistry:
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text())
        except FileNotFoundError as exc:
            raise RegistryError(f"sensor registry not found: {path}") from exc
        except yaml.YAMLError as exc:
            raise RegistryError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_dict(doc, str(path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensors": [
                {
                    "id": s.id,
                    "type": s.type,
                    "lat": s.lat,
                    "lon": s.lon,
                    "height_m": s.height_m,
                    **s.params,
                }
                for s in self._by_id.values()
            ]
        }


def _number(source: str, sid: str, name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RegistryError(f"{source}: sensor {sid!r}: field {name!r} must be a number")
    if not lo <= value <= hi:
        raise RegistryError(f"{source}: sensor {sid!r}: field {name!r}={value} outside {lo}..{hi}")
    return float(value)


def _parse_sensor(index: int, entry: Any, source: str) -> Sensor:
    if not isinstance(entry, dict):
        raise RegistryError(f"{source}: sensors[{index}] must be a mapping")
    sid = entry.get("id")
    if not isinstance(sid, str) or not sid:
        raise RegistryError(f"{source}: sensors[{index}]: field 'id' is missing or not a string")
    stype = entry.get("type")
    if stype not in TYPE_FIELDS:
        raise RegistryError(
            f"{source}: sensor {sid!r}: field 'type' must be one of {', '.join(TYPE_FIELDS)}"
        )
    for name in ("lat", "lon"):
        if name not in entry:
            raise RegistryError(f"{source}: sensor {sid!r}: field {name!r} is missing")
    allowed = set(COMMON_FIELDS) | set(TYPE_FIELDS[stype])
    for name in entry:
        if name not in allowed:
            raise RegistryError(
                f"{source}: sensor {sid!r}: unknown field {name!r} for a {stype} sensor"
            )
    params: dict[str, Any] = {}
    for name in TYPE_FIELDS[stype]:
        if name in entry:
            value = entry[name]
            params[name] = (
                value if name == "edition" else _number(source, sid, name, value, -1e9, 1e9)
            )
    return Sensor(
        id=sid,
        type=stype,
        lat=_number(source, sid, "lat", entry["lat"], -90.0, 90.0),
        lon=_number(source, sid, "lon", entry["lon"], -180.0, 180.0),
        height_m=_number(source, sid, "height_m", entry.get("height_m", 0.0), -500.0, 10_000.0),
        params=params,
    )
