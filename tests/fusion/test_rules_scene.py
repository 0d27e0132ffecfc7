"""A hand-made border scene shared by the geofence, rules and alerts tests.

Local metres around (50.0 N, 30.0 E): the border runs west–east along north = 0 (green west
of east = 2000 m, blue east of it), our territory is south of it, a checkpoint is the square
±100 m around the origin, a river (water) covers east 2000..5000 m, a restricted square
sits at east/north -3000..-2000 m, a 1000 m strip is centred on the border, and two sectors
split the scene at east = 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.geodesy import LocalFrame
from fusion.geofence import Zones
from fusion.types import TrackUpdate

ORIGIN = LocalFrame(50.0, 30.0)


def ll(e: float, n: float) -> tuple[float, float]:
    """Local metres → (lat, lon)."""
    lat, lon = ORIGIN.to_latlon(e, n)
    return float(lat), float(lon)


def _ring(e0: float, n0: float, e1: float, n1: float) -> list[list[float]]:
    pts = [(e0, n0), (e1, n0), (e1, n1), (e0, n1), (e0, n0)]
    return [[ll(e, n)[1], ll(e, n)[0]] for e, n in pts]


def _line(*pts: tuple[float, float]) -> list[list[float]]:
    return [[ll(e, n)[1], ll(e, n)[0]] for e, n in pts]


def feature(props: dict[str, Any], gtype: str, coords: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": gtype, "coordinates": coords}}


def scene_fc() -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        feature({"id": "B-green", "kind": "border", "border_type": "green"}, "LineString",
                _line((-6000, 0), (2000, 0))),
        feature({"id": "B-blue", "kind": "border", "border_type": "blue"}, "LineString",
                _line((2000, 0), (6000, 0))),
        feature({"id": "T", "kind": "territory", "name": "Our side"}, "Polygon",
                [_ring(-6000, -6000, 6000, 0)]),
        feature({"id": "CP1", "kind": "checkpoint", "name": "Checkpoint X"}, "Polygon",
                [_ring(-100, -100, 100, 100)]),
        feature({"id": "W1", "kind": "water", "name": "River"}, "Polygon",
                [_ring(2000, -6000, 5000, 6000)]),
        feature({"id": "R1", "kind": "restricted", "name": "Depot", "severity": "high"},
                "Polygon", [_ring(-3000, -3000, -2000, -2000)]),
        feature({"id": "S1", "kind": "strip", "width_m": 1000}, "LineString",
                _line((-6000, 0), (6000, 0))),
        feature({"id": "SEC-W", "kind": "sector"}, "Polygon", [_ring(-6000, -6000, 0, 6000)]),
        feature({"id": "SEC-E", "kind": "sector"}, "Polygon", [_ring(0, -6000, 6000, 6000)]),
    ]}


def scene() -> Zones:
    return Zones.from_geojson(scene_fc())


def upd(track_id: str, t: float, e: float, n: float, ve: float = 0.0, vn: float = 0.0,
        status: str = "confirmed", sources: list[str] | None = None, mmsi: int | None = None,
        classification: str | None = None, obs: list[str] | None = None) -> TrackUpdate:
    """A track update at local metres (e, n)."""
    lat, lon = ll(e, n)
    return TrackUpdate(track_id=track_id, t=t, lat=lat, lon=lon, vel_e=ve, vel_n=vn,
                       cov=[[25.0, 0.0], [0.0, 25.0]], status=status,
                       sources=list(sources or ["R1"]), mmsi=mmsi,
                       classification=classification, obs_ids=list(obs or []))


SENSORS = {
    "R1": {"type": "radar", "lat": ll(0, -3000)[0], "lon": ll(0, -3000)[1]},
    "C2": {"type": "thermal", "lat": ll(500, -1000)[0], "lon": ll(500, -1000)[1]},
    "G1": {"type": "seismic", "lat": ll(-500, -300)[0], "lon": ll(-500, -300)[1]},
    "A1": {"type": "ais", "lat": ll(3000, -2000)[0], "lon": ll(3000, -2000)[1]},
}


def test_scene_round_trips_metres() -> None:
    zones = scene()
    e, n = zones.to_en(*ll(1234.0, -567.0))
    e0, n0 = zones.to_en(*ll(0.0, 0.0))
    assert np.allclose([e[0] - e0[0], n[0] - n0[0]], [1234.0, -567.0], atol=0.5)
