"""A hand-made border scene shared by the geofence, rules and alerts tests.

Local metres around (50.0 N, 30.0 E): the border runs west–east along north = 0 (green west
of east = 2000 m, blue east of it), our territory is south of it, a checkpoint is the square
±100 m around the origin, a river (water) covers east 2000..5000 m, a restricted square
sits at east/north -3000..-2000 m, a 1000 m strip is centred on the border, and two sectors
split the scene at east = 0.
"""

from __future__ import annotations

import functools
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


def _line(*pts: tuple[float, float]) -> list[list[float]]:
    """Vertices every <= 250 m, so edges are straight in local metres to a few mm."""
    dense: list[tuple[float, float]] = [pts[0]]
    for (e0, n0), (e1, n1) in zip(pts[:-1], pts[1:], strict=True):
        k = max(1, int(np.ceil(np.hypot(e1 - e0, n1 - n0) / 250.0)))
        dense += [(e0 + (e1 - e0) * j / k, n0 + (n1 - n0) * j / k) for j in range(1, k + 1)]
    return [[ll(e, n)[1], ll(e, n)[0]] for e, n in dense]


def _ring(e0: float, n0: float, e1: float, n1: float) -> list[list[float]]:
    return _line((e0, n0), (e1, n0), (e1, n1), (e0, n1), (e0, n0))


def feature(props: dict[str, Any], gtype: str, coords: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": gtype, "coordinates": coords},
    }


def scene_fc() -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            feature(
                {"id": "B-green", "kind": "border", "border_type": "green"},
                "LineString",
                _line((-6000, 0), (2000, 0)),
            ),
            feature(
                {"id": "B-blue", "kind": "border", "border_type": "blue"},
                "LineString",
                _line((2000, 0), (6000, 0)),
            ),
            feature(
                {"id": "T", "kind": "territory", "name": "Our side"},
                "Polygon",
                [_ring(-6000, -6000, 6000, 0)],
            ),
            feature(
                {"id": "CP1", "kind": "checkpoint", "name": "Checkpoint X"},
                "Polygon",
                [_ring(-100, -100, 100, 100)],
            ),
            feature(
                {"id": "W1", "kind": "water", "name": "River"},
                "Polygon",
                [_ring(2000, -6000, 5000, 6000)],
            ),
            feature(
                {"id": "R1", "kind": "restricted", "name": "Depot", "severity": "high"},
                "Polygon",
                [_ring(-3000, -3000, -2000, -2000)],
            ),
            feature(
                {"id": "S1", "kind": "strip", "width_m": 1000},
                "LineString",
                _line((-6000, 0), (6000, 0)),
            ),
            feature({"id": "SEC-W", "kind": "sector"}, "Polygon", [_ring(-6000, -6000, 0, 6000)]),
            feature({"id": "SEC-E", "kind": "sector"}, "Polygon", [_ring(0, -6000, 6000, 6000)]),
        ],
    }


@functools.cache
def scene() -> Zones:
    """Built once per session: Zones is read-only after construction."""
    return Zones.from_geojson(scene_fc())


def upd(
    track_id: str,
    t: float,
    e: float,
    n: float,
    ve: float = 0.0,
    vn: float = 0.0,
    status: str = "confirmed",
    sources: list[str] | None = None,
    mmsi: int | None = None,
    classification: str | None = None,
    obs: list[str] | None = None,
) -> TrackUpdate:
    """A track update at local metres (e, n)."""
    lat, lon = ll(e, n)
    return TrackUpdate(
        track_id=track_id,
        t=t,
        lat=lat,
        lon=lon,
        vel_e=ve,
        vel_n=vn,
        cov=[[25.0, 0.0], [0.0, 25.0]],
        status=status,
        sources=list(sources or ["R1"]),
        mmsi=mmsi,
        classification=classification,
        obs_ids=list(obs or []),
    )


SENSORS = {
    "R1": {"type": "radar", "lat": ll(-200, -3000)[0], "lon": ll(-200, -3000)[1]},
    "C2": {"type": "thermal", "lat": ll(500, -1000)[0], "lon": ll(500, -1000)[1]},
    "G1": {"type": "seismic", "lat": ll(-500, -300)[0], "lon": ll(-500, -300)[1]},
    "A1": {"type": "ais", "lat": ll(3000, -2000)[0], "lon": ll(3000, -2000)[1]},
}


def test_scene_round_trips_metres() -> None:
    zones = scene()
    e, n = zones.to_en(*ll(1234.0, -567.0))
    e0, n0 = zones.to_en(*ll(0.0, 0.0))
    assert np.allclose([e[0] - e0[0], n[0] - n0[0]], [1234.0, -567.0], atol=0.5)


T0 = 1_700_000_000.0  # 2023-11-14 22:13:20Z
ALL_RULES = (
    "border_crossing",
    "approach",
    "restricted_entry",
    "dark_vessel",
    "ais_jump",
    "ais_duplicate_mmsi",
    "ais_silence",
    "loitering",
    "rendezvous",
    "corroboration",
    "sensor_silence",
)


def only(*names: str, **overrides: dict[str, Any]) -> dict[str, Any]:
    """A rules config with just ``names`` enabled (plus per-rule overrides)."""
    rules: dict[str, Any] = {n: {"enabled": n in names} for n in ALL_RULES}
    for n, o in overrides.items():
        rules[n].update(o)
    return {"rules": rules}


def walk(
    track_id: str,
    start: tuple[float, float],
    vel: tuple[float, float],
    steps: int,
    dt: float = 5.0,
    t0: float = T0,
    **kw: Any,
) -> list[TrackUpdate]:
    """A straight, constant-velocity track sampled every ``dt`` seconds."""
    return [
        upd(
            track_id,
            t0 + k * dt,
            start[0] + vel[0] * k * dt,
            start[1] + vel[1] * k * dt,
            vel[0],
            vel[1],
            obs=[f"{track_id}-o{k}"],
            **kw,
        )
        for k in range(steps)
    ]


def feed(engine: Any, *tracks: list[TrackUpdate]) -> list[Any]:
    """Feed tracks' updates to the engine scan by scan (grouped by time); all emitted alerts."""
    by_t: dict[float, list[TrackUpdate]] = {}
    for tr in tracks:
        for u in tr:
            by_t.setdefault(u.t, []).append(u)
    out = []
    for t in sorted(by_t):
        out += engine.process(by_t[t], t)
    return out
