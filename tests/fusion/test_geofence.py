"""Geofence queries on the hand-made scene (tests/fusion/test_rules_scene.py) and on the real
Natural Earth Belarus–Ukraine border."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import shapely

from fusion.geofence import ZoneError, Zones
from tests.fusion.test_rules_scene import ll, scene, scene_fc


def _seg(zones: Zones, a: tuple[float, float], b: tuple[float, float]):
    (la0, lo0), (la1, lo1) = ll(*a), ll(*b)
    return zones.crossings([la0], [lo0], [la1], [lo1])


def test_crossing_inbound_outbound_checkpoint_parallel_in_one_call() -> None:
    zones = scene()
    segs = [
        ((-1000, 300), (-1000, -200)),  # north → south: into our territory
        ((-1000, -200), (-1000, 300)),  # out
        ((50, 300), (50, -300)),  # through the checkpoint
        ((-1000, -50), (1000, -50)),  # parallel to the border, our side
        ((3000, 100), (3000, -100)),
    ]  # across the blue border, inbound
    a = np.array([ll(*s[0]) for s in segs])
    b = np.array([ll(*s[1]) for s in segs])
    cr = zones.crossings(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    assert cr.crossed.tolist() == [True, True, True, False, True]
    assert cr.exempt.tolist() == [False, False, True, False, False]
    assert cr.direction.tolist() == ["inbound", "outbound", "inbound", "", "inbound"]
    ids = [zones.borders[i].id if i >= 0 else None for i in cr.border]
    assert ids == ["B-green", "B-green", "B-green", None, "B-blue"]
    assert zones.checkpoints[cr.checkpoint[2]].id == "CP1"
    # the crossing point is on the border line, at east = -1000
    e, n = zones.to_en(cr.lat[0], cr.lon[0])
    e_ref, n_ref = zones.to_en(*ll(-1000, 0))
    assert abs(e[0] - e_ref[0]) < 1.0 and abs(n[0] - n_ref[0]) < 1.0
    assert np.isnan(cr.lat[3])


def test_stationary_and_touching_are_not_crossings() -> None:
    zones = scene()
    assert not _seg(zones, (-1000, -200), (-1000, -200)).crossed[0]
    # reaching the line from our side and going back: side did not change
    assert not _seg(zones, (-1000, -200), (-1000, -1)).crossed[0]


def test_checkpoint_margin_exempts_a_near_miss() -> None:
    fc = scene_fc()
    assert not Zones.from_geojson(fc).crossings(*ll(130, 300), *ll(130, -300)).exempt[0]
    zones = Zones.from_geojson(fc, checkpoint_margin_m=50.0)
    assert zones.crossings(*ll(130, 300), *ll(130, -300)).exempt[0]


def test_signed_distance_and_time_to_border_hand_checked() -> None:
    zones = scene()
    pts = np.array([ll(-1000, -200), ll(-1000, 300), ll(-1000, -200), ll(-1000, -200)])
    ve = np.array([0.0, 0.0, 0.0, 3.0])
    vn = np.array([2.0, -5.0, -2.0, 4.0])
    p = zones.border_proximity(pts[:, 0], pts[:, 1], ve, vn)
    # 200 m on our side at 2 m/s north → 100 s; 300 m on the far side at 5 m/s → 60 s
    assert p.signed_distance_m[:2] == pytest.approx([200.0, -300.0], abs=2.0)
    assert p.time_to_border_s[:2] == pytest.approx([100.0, 60.0], rel=0.01)
    assert math.isinf(p.time_to_border_s[2])  # moving away
    # oblique: only the 4 m/s northward component closes the 200 m
    assert p.closing_speed_mps[3] == pytest.approx(4.0, rel=0.01)
    assert p.time_to_border_s[3] == pytest.approx(50.0, rel=0.01)
    assert [zones.borders[i].id for i in p.border] == ["B-green"] * 4


def test_membership_and_sectors() -> None:
    zones = scene()
    pts = np.array([ll(3500, 100), ll(-2500, -2500), ll(-1000, -2500), ll(-1000, 400)])
    assert zones.zone_ids_at("water", pts[:, 0], pts[:, 1]) == [["W1"], [], [], []]
    assert zones.zone_ids_at("restricted", pts[:, 0], pts[:, 1]) == [[], ["R1"], [], []]
    assert zones.zone_ids_at("strip", pts[:, 0], pts[:, 1]) == [["S1"], [], [], ["S1"]]
    assert zones.sectors_of(pts[:, 0], pts[:, 1]) == ["SEC-E", "SEC-W", "SEC-W", "SEC-W"]
    assert zones.sector_of(*ll(10, 10)) == "SEC-E"
    assert zones.sector_of(*ll(9000, 0)) == ""
    # a 1000 m strip centred on the border reaches 500 m either side
    assert zones.zone_ids_at("strip", *ll(0, -490)) == [["S1"]]
    assert zones.zone_ids_at("strip", *ll(0, -510)) == [[]]


def test_describe_location() -> None:
    zones = scene()
    assert zones.describe_location(*ll(0, 220)) == "220 m north of Checkpoint X"
    assert zones.describe_location(*ll(-300, 0)) == "300 m west of Checkpoint X"
    assert zones.describe_location(*ll(9000, 0)) == ""


@pytest.mark.parametrize(
    ("index", "field", "value"),
    [
        (0, "border_type", "brown"),
        (2, "name", None),
        (6, "width_m", -5),
        (5, "severity", "urgent"),
        (1, "kind", "moat"),
    ],
)
def test_validation_names_feature_and_field(index: int, field: str, value: object) -> None:
    fc = copy.deepcopy(scene_fc())
    fid = fc["features"][index]["properties"]["id"]
    if value is None:
        del fc["features"][index]["properties"][field]
    else:
        fc["features"][index]["properties"][field] = value
    with pytest.raises(ZoneError) as err:
        Zones.from_geojson(fc)
    assert fid in str(err.value) and field in str(err.value)


def test_validation_rejects_wrong_geometry_and_duplicates() -> None:
    fc = copy.deepcopy(scene_fc())
    fc["features"][3]["geometry"] = fc["features"][0]["geometry"]  # checkpoint as a line
    with pytest.raises(ZoneError, match="CP1.*geometry"):
        Zones.from_geojson(fc)
    fc = copy.deepcopy(scene_fc())
    fc["features"][1]["properties"]["id"] = "B-green"
    with pytest.raises(ZoneError, match="duplicate"):
        Zones.from_geojson(fc)


def _ne_zones(shared_data) -> tuple[Zones, dict]:
    fc = json.loads((shared_data / "geo" / "ne110m_belarus_ukraine.geojson").read_text())
    by_name = {f["properties"]["name"].split(" ")[0]: f for f in fc["features"]}
    border = by_name["Belarus-Ukraine"]
    ukr = by_name["Ukraine"]
    zones = Zones.from_geojson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": border["geometry"],
                    "properties": {"id": "BLR-UKR", "kind": "border", "border_type": "green"},
                },
                {
                    "type": "Feature",
                    "geometry": ukr["geometry"],
                    "properties": {"id": "UKR", "kind": "territory", "name": "Ukraine"},
                },
            ],
        }
    )
    return zones, by_name


def test_real_border_crossing_belarus_to_ukraine(shared_data) -> None:
    zones, by_name = _ne_zones(shared_data)
    coords = by_name["Belarus-Ukraine"]["geometry"]["coordinates"]
    blr = shapely.geometry.shape(by_name["Belarus"]["geometry"])
    ukr = shapely.geometry.shape(by_name["Ukraine"]["geometry"])
    # midpoints of every border segment, ±0.03° of latitude (~3.3 km) either side
    mid = (np.array(coords[:-1]) + np.array(coords[1:])) / 2.0
    north = mid + [0.0, 0.03]
    south = mid - [0.0, 0.03]
    # use only segments where north is Belarus and south is Ukraine per the NE polygons
    keep = shapely.contains_xy(blr, north[:, 0], north[:, 1]) & shapely.contains_xy(
        ukr, south[:, 0], south[:, 1]
    )
    assert keep.sum() >= 5
    n, s = north[keep], south[keep]
    inb = zones.crossings(n[:, 1], n[:, 0], s[:, 1], s[:, 0])
    assert inb.crossed.all() and (inb.direction == "inbound").all()
    out = zones.crossings(s[:, 1], s[:, 0], n[:, 1], n[:, 0])
    assert (out.direction == "outbound").all()
    # a step that stays in Belarus does not cross
    still = zones.crossings(n[:, 1], n[:, 0], n[:, 1] + 0.01, n[:, 0])
    assert not still.crossed.any()
    prox = zones.border_proximity(n[:, 1], n[:, 0])
    assert (prox.signed_distance_m < 0).all()  # Belarus is the far side
    assert (np.abs(prox.signed_distance_m) < 3400).all()


def test_real_border_distance_hand_checked(shared_data) -> None:
    zones, by_name = _ne_zones(shared_data)
    (lon0, lat0), (lon1, lat1) = by_name["Belarus-Ukraine"]["geometry"]["coordinates"][:2]
    lat_m, lon_m = (lat0 + lat1) / 2, (lon0 + lon1) / 2
    # GeoJSON edges are straight in lon/lat, so the line passes through the lon/lat midpoint;
    # the first segment runs ~6.4° off east-west: 0.03° north of its midpoint is
    # 0.03 * 111.25 km * cos(6.4°) ≈ 3.32 km from the line, on the Belarusian side
    slope = math.atan2(
        (lat1 - lat0) * 111.25, (lon1 - lon0) * 111.25 * math.cos(math.radians(lat_m))
    )
    expect = 0.03 * 111_250 * abs(math.cos(slope))
    p = zones.border_proximity([lat_m + 0.03], [lon_m])
    assert p.signed_distance_m[0] == pytest.approx(-expect, rel=0.01)
