"""Scenario simulator: repeatability, file contracts (DESIGN §4, §5, §8), truth geometry,
and sensor models that behave like their registry entries say."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyais
import pytest
import shapely
import yaml

from fusion.geodesy import LocalFrame
from sensors.registry import SensorRegistry
from sensors.schemas import READING_TOPICS, validate_reading
from sensors.simulate import build_layout, build_scenario, write_scenario
from sensors.simulate import radar as radar_model
from sensors.simulate.scenario import Scenario

ALLOWED = {
    "radar": {"max_range_m", "sigma_range_m", "sigma_bearing_deg", "scan_period_s"},
    "thermal": {"heading_deg", "fov_deg", "max_range_m", "sigma_bearing_deg"},
    "seismic": {"radius_m"},
    "ais": set(),
    "friendly": set(),  # the patrols' TAK feed (blue-force tracking)
}
COMMON = {"id", "type", "lat", "lon", "height_m"}


@pytest.fixture(scope="module")
def scen() -> Scenario:
    return build_scenario(seed=0)


@pytest.fixture(scope="module")
def scen_dir(tmp_path_factory: pytest.TempPathFactory, scen: Scenario) -> Path:
    out = tmp_path_factory.mktemp("scen0")
    write_scenario(scen, out)
    return out


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _decode_ais(readings: list[dict]) -> list[tuple[float, dict]]:
    """Reassemble multipart sentences per channel, as a receiver would, and decode."""
    out, pending = [], {}
    for r in readings:
        fields = r["nmea"].split(",")
        total, num, seq, ch = int(fields[1]), int(fields[2]), fields[3], fields[4]
        if total == 1:
            out.append((r["t"], pyais.decode(r["nmea"]).asdict()))
            continue
        pending.setdefault((seq, ch), []).append(r["nmea"])
        if num == total:
            out.append((r["t"], pyais.decode(*pending.pop((seq, ch))).asdict()))
    assert not pending, "orphan AIS fragments"
    return out


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, scen_dir: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_scenario(build_scenario(seed=0), a)
    write_scenario(build_scenario(seed=1), b)
    for name in ("readings.jsonl", "truth.jsonl", "sensors.yaml", "zones.geojson"):
        assert (a / name).read_bytes() == (scen_dir / name).read_bytes(), name
    assert (a / "readings.jsonl").read_bytes() != (b / "readings.jsonl").read_bytes()
    assert (a / "truth.jsonl").read_bytes() != (b / "truth.jsonl").read_bytes()


def test_sensors_yaml_has_only_contract_fields(scen_dir: Path) -> None:
    doc = yaml.safe_load((scen_dir / "sensors.yaml").read_text())
    assert list(doc) == ["sensors"]
    types = Counter()
    for s in doc["sensors"]:
        assert set(s) == COMMON | ALLOWED[s["type"]], s["id"]
        types[s["type"]] += 1
    assert set(types) == {"radar", "thermal", "seismic", "ais", "friendly"}
    registry = SensorRegistry.from_dict(doc)  # the project's own loader accepts it
    assert len(registry) == len(doc["sensors"])
    lat, lon = registry.centroid()
    assert 51.4 < lat < 51.6 and 30.4 < lon < 30.7


@pytest.mark.parametrize("kind", ["mixed", "river", "forest"])
def test_zones_follow_the_contract(kind: str) -> None:
    layout = build_layout(kind)
    feats = layout.zones_geojson()["features"]
    by_kind = defaultdict(list)
    for f in feats:
        by_kind[f["properties"]["kind"]].append(f)
    ids = [f["properties"]["id"] for f in feats]
    assert len(ids) == len(set(ids))
    assert set(by_kind) <= {
        "border",
        "territory",
        "strip",
        "restricted",
        "checkpoint",
        "water",
        "sector",
    }
    btypes = {f["properties"]["border_type"] for f in by_kind["border"]}
    assert btypes == {"mixed": {"green", "blue"}, "river": {"blue"}, "forest": {"green"}}[kind]
    assert all(f["geometry"]["type"] == "LineString" for f in by_kind["border"])
    assert len(by_kind["territory"]) == 1 and by_kind["territory"][0]["properties"]["name"]
    assert all(f["properties"]["width_m"] > 0 for f in by_kind["strip"])
    assert by_kind["restricted"] and all(
        f["properties"]["severity"] in ("info", "low", "medium", "high", "critical")
        for f in by_kind["restricted"]
    )
    assert len(by_kind["checkpoint"]) == 1
    assert 2 <= len(by_kind["sector"]) <= 4
    sectors = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in by_kind["sector"]])
    territory = shapely.geometry.shape(by_kind["territory"][0]["geometry"])
    assert sectors.covers(territory.buffer(-1e-6))  # sectors tile the whole area
    if kind == "forest":
        assert not by_kind["water"]
    else:  # the blue border runs inside the river
        water = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in by_kind["water"]])
        for f in by_kind["border"]:
            if f["properties"]["border_type"] == "blue":
                assert water.buffer(1e-6).covers(shapely.geometry.shape(f["geometry"]))


def test_readings_are_sorted_and_valid(scen_dir: Path) -> None:
    recs = _lines(scen_dir / "readings.jsonl")
    ts = [r["value"]["t"] for r in recs]
    assert ts == sorted(ts)
    registry = yaml.safe_load((scen_dir / "sensors.yaml").read_text())["sensors"]
    types = {s["id"]: s["type"] for s in registry}
    topics = Counter()
    for r in recs:
        assert set(r) == {"topic", "value"}
        kind = READING_TOPICS[r["topic"]]
        validate_reading(kind, r["value"], now=math.nan)
        assert types[r["value"]["sensor_id"]] == kind
        topics[r["topic"]] += 1
        v = r["value"]
        if kind == "radar":
            assert set(v) == {
                "sensor_id",
                "t",
                "range_m",
                "bearing_deg",
                "sigma_range_m",
                "sigma_bearing_deg",
            }
        elif kind == "thermal":
            assert ("range_m" in v) != ("depression_deg" in v) and "object_id" in v
        elif kind == "seismic":
            assert set(v) == {"sensor_id", "t", "kind", "energy", "duration_s", "confidence"}
        elif kind == "friendly":
            assert set(v) == {"sensor_id", "t", "cot"} and "type='a-f-G-U-C" in v["cot"]
        else:
            assert set(v) == {"sensor_id", "station_id", "t", "nmea"}
    assert set(topics) == set(READING_TOPICS)


def test_ais_decodes_to_the_truth_position(scen: Scenario) -> None:
    by_mmsi = {t.ais.mmsi: t for t in scen.targets if t.ais}
    msgs = _decode_ais([r.value for r in scen.readings if r.topic == "readings.ais"])
    types = Counter(m["msg_type"] for _, m in msgs)
    assert types[1] and types[5] and types[18] and types[24]
    frame = scen.layout.frame
    errs = []
    for t, m in msgs:
        tg = by_mmsi[m["mmsi"]]
        if m["msg_type"] in (5, 24):
            if "shipname" in m and m["shipname"]:
                assert m["shipname"] == tg.ais.name
            continue
        e, n = frame.to_en(m["lat"], m["lon"])
        te, tn = tg.path.at(np.array([t - scen.start]))
        errs.append(float(np.hypot(e - te[0], n - tn[0])))
        assert (m["msg_type"] == 1) == (tg.ais.ais_class == "A")
    assert len(errs) > 30
    assert max(errs) < 20.0  # GPS noise 3 m (1 σ) plus 1/10000' quantisation


def test_dark_boats_send_no_ais(scen: Scenario) -> None:
    msgs = _decode_ais([r.value for r in scen.readings if r.topic == "readings.ais"])
    heard = {m["mmsi"] for _, m in msgs}
    assert heard == {
        t.ais.mmsi for t in scen.targets if t.ais and (t.ais.off_at is None or t.ais.off_at > 0)
    }
    dark = [t for t in scen.targets if t.cls == "boat" and t.ais is None]
    assert dark, "a scenario should contain dark boats"
    gone = [t for t in scen.targets if t.ais and t.ais.off_at is not None]
    assert gone
    for tg in gone:
        last = max(t for t, m in msgs if m["mmsi"] == tg.ais.mmsi)
        assert last < scen.start + tg.ais.off_at
    dark_events = {e["target"] for e in scen.truth if e.get("event") == "dark_vessel"}
    assert {t.id for t in dark + gone} >= dark_events and dark_events


def test_truth_positions_are_1hz_per_target(scen: Scenario) -> None:
    per = defaultdict(list)
    for rec in scen.truth:
        if rec["kind"] == "position":
            per[rec["target"]].append(rec["t"])
            assert rec["class"] in ("boat", "person", "vehicle", "animal")
    assert set(per) == {
        t.id for t in scen.targets if t.path.t_end >= 0 and t.path.t_start < scen.duration
    }
    for ts in per.values():
        assert np.allclose(np.diff(ts), 1.0)
        assert scen.start <= ts[0] and ts[-1] < scen.start + scen.duration


def test_crossings_lie_on_the_border_when_the_path_crosses(scen: Scenario) -> None:
    lay = scen.layout
    frame = lay.frame
    pos = defaultdict(dict)
    for rec in scen.truth:
        if rec["kind"] == "position":
            pos[rec["target"]][rec["t"]] = frame.to_en(rec["lat"], rec["lon"])
    crossings = [e for e in scen.truth if e.get("event") == "crossing"]
    assert {e["direction"] for e in crossings} == {"inbound", "outbound"}
    assert {e["border_type"] for e in crossings} == {"green", "blue"}
    for ev in crossings:
        e, n = frame.to_en(ev["lat"], ev["lon"])
        assert shapely.distance(lay.border, shapely.Point(e, n)) < 0.05
        track = pos[ev["target"]]
        before = track.get(math.floor(ev["t"] - scen.start) + scen.start)
        after = track.get(math.ceil(ev["t"] - scen.start + 1e-9) + scen.start)
        if before is None or after is None:
            continue
        inside = [bool(lay.territory.contains(shapely.Point(*p))) for p in (before, after)]
        assert inside == ([False, True] if ev["direction"] == "inbound" else [True, False])
    # a legal checkpoint crossing and animals produce no crossing event
    legit = {t.id for t in scen.targets if t.role in ("legit", "patrol", "animal")}
    assert not legit & {e["target"] for e in crossings}


def test_every_event_kind_is_present(scen: Scenario) -> None:
    kinds = Counter(e["event"] for e in scen.truth if e["kind"] == "event")
    for k in ("crossing", "dark_vessel", "rendezvous", "restricted_entry", "loitering", "approach"):
        assert kinds[k] >= 1, k
    rv = next(e for e in scen.truth if e.get("event") == "rendezvous")
    ids = {t.id: t for t in scen.targets}
    assert ids[rv["target"]].ais is None or ids[rv["other"]].ais is None  # one is dark
    for ev in (e for e in scen.truth if e.get("event") == "restricted_entry"):
        zone = next(z for z in scen.layout.zones_of("restricted") if z.id == ev["zone_id"])
        e, n = scen.layout.frame.to_en(ev["lat"], ev["lon"])
        assert zone.geom.exterior.distance(shapely.Point(e, n)) < 0.05


def test_radar_plot_counts_match_pd_and_coverage(scen: Scenario) -> None:
    for sensor in (s for s in scen.layout.sensors if s["type"] == "radar"):
        frame = LocalFrame(sensor["lat"], sensor["lon"])
        plots = [r for r in scen.readings if r.value["sensor_id"] == sensor["id"]]
        true_by_cls, expected, var = Counter(), Counter(), Counter()
        cls_of = {t.id: t.cls for t in scen.targets}
        for tg in scen.targets:  # one scan a second: count in-coverage seconds
            k = np.arange(max(math.ceil(tg.path.t_start), 0), min(tg.path.t_end, scen.duration))
            lat, lon = scen.layout.frame.to_latlon(*tg.path.at(k))
            r = np.hypot(*frame.to_en(lat, lon))
            ncov = int(radar_model.in_coverage(r, sensor).sum())
            pd = radar_model.PD[tg.cls]
            expected[tg.cls] += ncov * pd
            var[tg.cls] += ncov * pd * (1 - pd) + 4.0  # a scan or two of edge slack
        for p in plots:
            if p.origin is not None:
                true_by_cls[cls_of[p.origin]] += 1
        for cls in expected:
            assert abs(true_by_cls[cls] - expected[cls]) < 4 * math.sqrt(var[cls]) + 5, cls
        clutter = sum(1 for p in plots if p.origin is None)
        lam = radar_model.CLUTTER_PER_SCAN * scen.duration
        assert abs(clutter - lam) < 4 * math.sqrt(lam)


def test_radar_noise_matches_its_sigmas(scen: Scenario) -> None:
    sensor = next(s for s in scen.layout.sensors if s["id"] == "R1")
    frame = LocalFrame(sensor["lat"], sensor["lon"])
    targets = {t.id: t for t in scen.targets}
    dr, db = [], []
    for p in scen.readings:
        if p.value["sensor_id"] != "R1" or p.origin is None:
            continue
        e, n = targets[p.origin].path.at(np.array([p.t - scen.start]))
        lat, lon = scen.layout.frame.to_latlon(e, n)
        se, sn = frame.to_en(lat, lon)
        dr.append(p.value["range_m"] - float(np.hypot(se, sn)[0]))
        db.append(
            (p.value["bearing_deg"] - float(np.degrees(np.arctan2(se, sn))[0]) + 180) % 360 - 180
        )
    assert len(dr) > 500
    assert abs(np.std(dr) / sensor["sigma_range_m"] - 1) < 0.15
    assert abs(np.std(db) / sensor["sigma_bearing_deg"] - 1) < 0.15
    assert abs(np.mean(dr)) < 1.5


def test_seismic_events_come_from_targets_near_the_sensor(scen: Scenario) -> None:
    sensors = {s["id"]: s for s in scen.layout.sensors}
    targets = {t.id: t for t in scen.targets}
    kinds = Counter()
    for r in scen.readings:
        if r.topic != "readings.seismic" or r.origin is None:
            continue
        s = sensors[r.value["sensor_id"]]
        tg = targets[r.origin]
        e, n = tg.path.at(np.array([r.t - scen.start]))
        se, sn = scen.layout.sensor_en(s)
        assert math.hypot(e[0] - se, n[0] - sn) <= s["radius_m"] + 1e-6
        kinds[(tg.cls, r.value["kind"])] += 1
    assert kinds[("person", "footstep")] and kinds[("vehicle", "vehicle")]
    assert not kinds[("person", "vehicle")]


def test_thermal_sees_only_inside_its_field_of_view(scen: Scenario) -> None:
    sensors = {s["id"]: s for s in scen.layout.sensors}
    ids_per_origin = defaultdict(set)
    for r in scen.readings:
        if r.topic != "readings.thermal":
            continue
        s = sensors[r.value["sensor_id"]]
        off = (r.value["bearing_deg"] - s["heading_deg"] + 180) % 360 - 180
        assert abs(off) <= s["fov_deg"] / 2 + 1.5
        if r.origin is not None:
            ids_per_origin[r.value["object_id"]].add(r.origin)
            assert r.value["class"] in (
                next(t.cls for t in scen.targets if t.id == r.origin),
                "unknown",
            )
    assert ids_per_origin and all(len(v) == 1 for v in ids_per_origin.values())


def test_density_knob_scales_targets() -> None:
    few = build_scenario(seed=3, duration=120, density=0.5)
    many = build_scenario(seed=3, duration=120, density=3.0)
    assert len(many.targets) > 2 * len(few.targets)


def test_cli_writes_a_scenario(tmp_path: Path) -> None:
    from streams.cli import build_parser, main

    out = tmp_path / "s"
    assert (
        main(
            [
                "simulate",
                "--out",
                str(out),
                "--duration",
                "60",
                "--layout",
                "river",
                "--seed",
                "5",
                "--start",
                "2024-01-02T00:00:00Z",
            ]
        )
        == 0
    )
    recs = _lines(out / "readings.jsonl")
    assert recs and 1704153600 <= recs[0]["value"]["t"] < 1704153660
    assert {"sensors.yaml", "zones.geojson", "truth.jsonl"} <= {p.name for p in out.iterdir()}
    sub = build_parser()._subparsers._group_actions[0].choices["simulate"]  # type: ignore[union-attr]
    assert "example" in sub.format_help()
