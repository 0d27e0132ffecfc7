"""The vectorised ingest path (a radar scan or camera batch geo-referenced in one call, sectors
and halos assigned per batch) gives exactly what the one-reading-at-a-time path gives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fusion.sectors import Sectorizer
from sensors.georef import polar_observations, radar_observation, thermal_observation
from sensors.registry import SensorRegistry
from sensors.schemas import ReadingError
from streams.engine import Context, IngestStage

DOC = {
    "sensors": [
        {
            "id": "R1",
            "type": "radar",
            "lat": 51.5,
            "lon": 30.5,
            "max_range_m": 5000.0,
            "sigma_range_m": 10.0,
            "sigma_bearing_deg": 1.0,
        },
        {"id": "R2", "type": "radar", "lat": 51.52, "lon": 30.6, "max_range_m": 5000.0},
        {"id": "C1", "type": "thermal", "lat": 51.49, "lon": 30.52, "height_m": 10.0},
        {"id": "S1", "type": "seismic", "lat": 51.5, "lon": 30.5005, "radius_m": 60.0},
    ]
}
T0 = 1_700_000_000.0


def scan(sensor: str = "R1", n: int = 40, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "sensor_id": sensor,
            "t": T0 + i * 0.01,
            "range_m": round(float(r), 1),
            "bearing_deg": round(float(b), 3),
        }
        for i, (r, b) in enumerate(
            zip(rng.uniform(10, 4900, n), rng.uniform(0, 360, n), strict=True)
        )
    ]


def test_radar_scan_batch_equals_per_plot() -> None:
    reg = SensorRegistry.from_dict(DOC)
    plots = scan()
    plots[5]["sigma_range_m"] = 30.0
    plots[7]["rcs_dbsm"] = 3.5
    batch = polar_observations("radar", plots, reg.get("R1"))
    for plot, got in zip(plots, batch, strict=True):
        one = radar_observation(plot, reg.get("R1"))
        assert got.obs_id == one.obs_id and got.cov_en == one.cov_en and got.attrs == one.attrs
        assert got.lat == pytest.approx(one.lat, abs=1e-12)
        assert got.lon == pytest.approx(one.lon, abs=1e-12)


def test_camera_batch_equals_per_detection() -> None:
    reg = SensorRegistry.from_dict(DOC)
    dets = [
        {
            "sensor_id": "C1",
            "t": T0,
            "bearing_deg": 10.0 * i,
            "class": "person",
            "confidence": 0.5,
            **({"range_m": 100.0 + i} if i % 2 else {"depression_deg": 5.0}),
        }
        for i in range(6)
    ]
    for det, got in zip(dets, polar_observations("thermal", dets, reg.get("C1")), strict=True):
        one = thermal_observation(det, reg.get("C1"))
        assert (got.obs_id, got.cov_en, got.attrs) == (one.obs_id, one.cov_en, one.attrs)
        assert (got.lat, got.lon) == pytest.approx((one.lat, one.lon), abs=1e-12)


def test_bad_plot_is_refused_alone_in_place() -> None:
    reg = SensorRegistry.from_dict(DOC)
    plots = scan(n=5)
    plots[2]["range_m"] = 9000.0  # beyond 1.2 × max range
    out = polar_observations("radar", plots, reg.get("R1"))
    assert isinstance(out[2], ReadingError) and out[2].reason == "out_of_range"
    assert [o.obs_id for i, o in enumerate(out) if i != 2] == [
        radar_observation(p, reg.get("R1")).obs_id for i, p in enumerate(plots) if i != 2
    ]


def _ctx(tmp_path) -> Context:
    import yaml

    (tmp_path / "sensors.yaml").write_text(yaml.safe_dump(DOC))
    return Context.from_files(
        tmp_path / "sensors.yaml", grid_m=2000.0, halo_m=500.0, max_reading_age_s=0
    )


def test_ingest_scan_matches_reading_by_reading(tmp_path) -> None:
    """A scan record (batch path) and the same plots sent one record each give the same
    observations, sectors and halo copies; a bad plot is dead-lettered with its index."""
    ctx = _ctx(tmp_path)
    plots = scan(n=60, seed=3)
    plots[10]["bearing"] = 1.0  # unknown field
    plots[20]["sensor_id"] = "R2"  # another sensor inside the same record
    batch = IngestStage(ctx).ingest("readings.radar", json.dumps(plots).encode())
    single = IngestStage(ctx)
    one_by_one = [single.ingest("readings.radar", json.dumps(p).encode()) for p in plots]
    expect = [o for r in one_by_one for o in r.observations]
    key = lambda o: (o.obs_id, o.sector)  # noqa: E731
    assert sorted(map(key, batch.observations)) == sorted(map(key, expect))
    assert any(o.attrs.get("halo") for o in batch.observations)
    assert batch.accepted == 59
    assert [(d.reason, d.to_dict().get("index")) for d in batch.deadletters] == [
        ("unknown_field", 10)
    ]
    home = [o for o in batch.observations if not o.attrs.get("halo")]
    assert [o.obs_id for o in home] == [
        o.obs_id for r in one_by_one for o in r.observations if not o.attrs.get("halo")
    ]


def test_ingest_many_assigns_like_ingest(tmp_path) -> None:
    ctx = _ctx(tmp_path)
    records = [
        (
            "readings.seismic",
            json.dumps({"sensor_id": "S1", "t": T0 + i, "kind": "footstep"}).encode(),
        )
        for i in range(3)
    ] + [("readings.radar", json.dumps(scan(n=8)).encode())]
    many = IngestStage(ctx).ingest_many(records)
    each = [IngestStage(ctx).ingest(t, v) for t, v in records]
    for a, b in zip(many, each, strict=True):
        assert [(o.obs_id, o.sector, o.attrs.get("halo")) for o in a.observations] == [
            (o.obs_id, o.sector, o.attrs.get("halo")) for o in b.observations
        ]


@pytest.mark.parametrize("grid", [True, False])
def test_sector_assign_equals_home_and_halo(grid: bool) -> None:
    from shapely.geometry import box, mapping

    zones = (
        None
        if grid
        else {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"kind": "sector", "id": sid},
                    "geometry": mapping(box(lon0, 51.4, lon0 + 0.1, 51.6)),
                }
                for sid, lon0 in (("west", 30.4), ("east", 30.5))
            ],
        }
    )
    sz = Sectorizer.from_zones(zones, (51.5, 30.5), grid_m=2000.0, halo_m=500.0)
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(51.45, 51.55, 300), rng.uniform(30.42, 30.58, 300)
    homes, halos = sz.assign(lat, lon)
    assert homes == sz.home(lat, lon)
    for la, lo, h, got in zip(lat, lon, homes, halos, strict=True):
        assert sorted(got) == sorted(sz.halo(float(la), float(lo), h))
        assert sz.assign([la], [lo]) == ([h], [got])  # the single-point (cached) path
    assert any(halos)
