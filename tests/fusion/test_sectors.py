from __future__ import annotations

import numpy as np

from fusion.geodesy import LocalFrame
from fusion.sectors import OUTSIDE, Sectorizer, VesselSectors

ORIGIN = (51.5, 30.5)


def square(frame: LocalFrame, e0: float, n0: float, size: float) -> list[list[float]]:
    es = [e0, e0 + size, e0 + size, e0, e0]
    ns = [n0, n0, n0 + size, n0 + size, n0]
    lat, lon = frame.to_latlon(np.array(es), np.array(ns))
    return [[float(o), float(a)] for a, o in zip(lat, lon, strict=True)]


def test_polygon_sectors_home_and_halo() -> None:
    f = LocalFrame(*ORIGIN)
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "west", "kind": "sector"},
         "geometry": {"type": "Polygon", "coordinates": [square(f, -10_000, -5_000, 10_000)]}},
        {"type": "Feature", "properties": {"id": "east", "kind": "sector"},
         "geometry": {"type": "Polygon", "coordinates": [square(f, 0, -5_000, 10_000)]}},
    ]}
    sz = Sectorizer.from_zones(zones, ORIGIN, halo_m=500)
    lat, lon = f.to_latlon(np.array([-3000.0, 3000.0, -200.0, 50_000.0]), np.zeros(4))
    assert sz.home(lat, lon) == ["west", "east", "west", "outside"]
    assert sz.halo(float(lat[2]), float(lon[2]), "west") == ["east"]   # 200 m from the edge
    assert sz.halo(float(lat[0]), float(lon[0]), "west") == []         # 3 km inside
    o = sz.origin("east")
    e, n = f.to_en(o.lat0, o.lon0)
    assert abs(float(e) - 5000) < 1 and abs(float(n)) < 1


def test_grid_sectors_when_no_polygons() -> None:
    sz = Sectorizer.from_zones(None, ORIGIN, grid_m=10_000, halo_m=300)
    f = LocalFrame(*ORIGIN)
    lat, lon = f.to_latlon(np.array([100.0, -100.0, 15_000.0, 100.0]),
                           np.array([5000.0, 5000.0, 5000.0, 100.0]))
    assert sz.home(lat, lon) == ["g0_0", "g-1_0", "g1_0", "g0_0"]
    assert sz.halo(float(lat[0]), float(lon[0]), "g0_0") == ["g-1_0"]  # near the west edge
    assert sorted(sz.halo(float(lat[3]), float(lon[3]), "g0_0")) == ["g-1_-1", "g-1_0", "g0_-1"]
    assert bool(sz.contains("g1_0", lat, lon)[2])


def test_a_vessels_report_also_goes_to_the_sector_it_was_last_reported_in() -> None:
    """A class B vessel's next report, 3 min later, can be past the halo of the sector that
    tracked it: that sector gets the report too, so its track is seen to leave."""
    vs = VesselSectors(hold_s=600.0)
    assert vs.extra(211000001, 100.0, "sector-2", []) is None  # first report: nothing before
    assert vs.extra(211000001, 280.0, "sector-3", []) == "sector-2"  # left, beyond the halo
    assert vs.extra(211000001, 300.0, "sector-3", []) is None  # still there: nothing new
    # in the new home's halo already, or back home: no extra copy
    assert vs.extra(211000001, 320.0, "sector-2", ["sector-3"]) is None
    # an older report than the last changes nothing; one after a long silence is a new start
    assert vs.extra(211000001, 310.0, "sector-4", []) is None
    assert vs.extra(211000001, 1000.0, "sector-4", []) is None
    # "outside" (no sector) never gets a copy: nothing tracks there
    vs.extra(211000002, 0.0, OUTSIDE, [])
    assert vs.extra(211000002, 60.0, "sector-1", []) is None
    assert vs.extra(211000002, 120.0, OUTSIDE, []) == "sector-1"


def test_vessels_silent_past_the_hold_are_forgotten() -> None:
    vs = VesselSectors(hold_s=600.0)
    for k in range(1000):
        vs.extra(211000000 + k, float(k), "sector-1", [])
    vs.extra(1, 2000.0, "sector-1", [])  # pruning runs at most once per hold_s of time
    assert len(vs._last) == 1
