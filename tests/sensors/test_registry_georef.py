from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.geodesy import LocalFrame
from sensors.georef import (
    observation_id,
    radar_observation,
    seismic_observation,
    thermal_observation,
)
from sensors.registry import RegistryError, SensorRegistry
from sensors.schemas import ReadingError

DOC = {"sensors": [
    {"id": "R1", "type": "radar", "lat": 51.5, "lon": 30.5, "height_m": 20,
     "sigma_range_m": 10, "sigma_bearing_deg": 1.0},
    {"id": "C1", "type": "thermal", "lat": 51.5, "lon": 30.5, "height_m": 10,
     "heading_deg": 0, "fov_deg": 30, "max_range_m": 3000, "sigma_bearing_deg": 0.2},
    {"id": "S1", "type": "seismic", "lat": 51.51, "lon": 30.51, "radius_m": 60},
]}


def test_registry_refuses_unknown_field_naming_sensor_and_field(tmp_path: Path) -> None:
    bad = {"sensors": [{"id": "R9", "type": "radar", "lat": 1, "lon": 2, "sigma_bearing": 1}]}
    with pytest.raises(RegistryError, match="sensor 'R9': unknown field 'sigma_bearing'"):
        SensorRegistry.from_dict(bad)
    with pytest.raises(RegistryError, match="field 'lat'"):
        SensorRegistry.from_dict({"sensors": [{"id": "X", "type": "ais", "lat": 99, "lon": 0}]})
    with pytest.raises(RegistryError, match="not found"):
        SensorRegistry.load(tmp_path / "missing.yaml")


def test_radar_geometry_and_covariance() -> None:
    reg = SensorRegistry.from_dict(DOC)
    obs = radar_observation({"sensor_id": "R1", "t": 0.0, "range_m": 2000.0, "bearing_deg": 0.0},
                            reg.get("R1"))
    e, n = LocalFrame(51.5, 30.5).to_en(obs.lat, obs.lon)
    assert float(e) == pytest.approx(0.0, abs=0.01) and float(n) == pytest.approx(2000.0, abs=0.01)
    cov = np.array(obs.cov_en)
    # bearing 0: range error lies along north, bearing error (r·σθ) along east
    assert cov[1, 1] == pytest.approx(100.0, rel=1e-3)
    assert cov[0, 0] == pytest.approx((2000 * math.radians(1.0)) ** 2, rel=1e-3)


def test_thermal_range_from_depression_and_seismic_disc() -> None:
    reg = SensorRegistry.from_dict(DOC)
    obs = thermal_observation({"sensor_id": "C1", "t": 0.0, "bearing_deg": 90.0,
                               "depression_deg": 45.0, "class": "person", "confidence": 0.7},
                              reg.get("C1"))
    e, n = LocalFrame(51.5, 30.5).to_en(obs.lat, obs.lon)
    assert float(e) == pytest.approx(10.0, abs=0.01)  # height 10 m at 45° ⇒ 10 m away
    assert obs.attrs["class"] == "person"
    s = seismic_observation({"sensor_id": "S1", "t": 0.0, "kind": "footstep"}, reg.get("S1"))
    assert (s.lat, s.lon) == (51.51, 30.51)
    assert s.cov_en == [[900.0, 0.0], [0.0, 900.0]]  # (60 m)² / 4
    assert s.attrs["class"] == "person"


def test_sensor_type_mismatch_and_range_beyond_coverage() -> None:
    reg = SensorRegistry.from_dict(DOC)
    with pytest.raises(ReadingError) as err:
        radar_observation({"sensor_id": "C1", "t": 0.0, "range_m": 5, "bearing_deg": 0},
                          reg.get("C1"))
    assert err.value.reason == "wrong_sensor_type"
    with pytest.raises(ReadingError, match="beyond radar R1"):
        radar_observation({"sensor_id": "R1", "t": 0.0, "range_m": 90_000, "bearing_deg": 0},
                          reg.get("R1"))


def test_observation_ids_are_content_hashes() -> None:
    a = {"sensor_id": "R1", "t": 1.0, "range_m": 5, "bearing_deg": 1}
    assert observation_id(a) == observation_id(dict(reversed(list(a.items()))))
    assert observation_id(a) != observation_id({**a, "t": 1.5})


def _stdlib_id(reading: dict) -> str:
    """The definition: blake2b-64 of the stdlib's sorted, compact JSON."""
    import hashlib
    import json

    blob = json.dumps(reading, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.blake2b(blob, digest_size=8).hexdigest()


def test_observation_ids_keep_the_stdlib_definition_on_what_encoders_write_apart() -> None:
    """orjson writes these differently from the stdlib (or refuses them): same ids anyway."""
    tricky = [
        {"sensor_id": "R1", "t": 1e-05, "range_m": 5e-324},  # stdlib 1e-05, orjson 0.00001
        {"sensor_id": "R1", "t": 1e16, "x": 1.5e20, "y": 123456789012345.6, "z": -0.0},
        {"sensor_id": "Ж1", "name": "Дніпро", "t": 1.0},  # stdlib escapes non-ASCII
        {"sensor_id": "R1", "t": float("nan"), "u": float("inf")},  # orjson writes null
        {"sensor_id": "R1", "t": 1.0, "none": None, "ok": True},
        {"sensor_id": "R1", "t": 1.0, "big": 2**70, "neg": -(2**63)},  # beyond orjson's ints
        {"sensor_id": "R1\u001f\"\\/\x7f", "t": 1.0, "nested": {"b": [1, 2.5, "e-1"], "a": {}}},
        {"sensor_id": "S1e2", "t": 0.0001, "energy": 0.00009},
    ]
    for reading in tricky:
        assert observation_id(reading) == _stdlib_id(reading), reading


@given(st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                    max_size=4),
        max_leaves=12,
    ),
    max_size=8,
))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_observation_ids_are_the_stdlib_definition_for_any_reading(reading: dict) -> None:
    assert observation_id(reading) == _stdlib_id(reading)
