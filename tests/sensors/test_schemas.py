from __future__ import annotations

import math
import time

import pytest

from sensors.schemas import ReadingError, validate_reading

NOW = 1_800_000_000.0


def radar(**kw: object) -> dict[str, object]:
    return {"sensor_id": "R1", "t": NOW, "range_m": 1200.0, "bearing_deg": 45.0, **kw}


def test_good_readings_of_every_kind_pass() -> None:
    validate_reading("radar", radar(sigma_range_m=5), now=NOW)
    validate_reading("thermal", {"sensor_id": "C1", "t": NOW, "bearing_deg": 10,
                                 "depression_deg": 3, "class": "person", "confidence": 0.9},
                     now=NOW)
    validate_reading("seismic", {"sensor_id": "S1", "t": NOW, "kind": "vehicle", "energy": 2},
                     now=NOW)
    validate_reading("seismic", {"sensor_id": "S1", "t": NOW, "rate_hz": 100,
                                 "samples": [0, 1, -1]}, now=NOW)
    validate_reading("ais", {"sensor_id": "A1", "t": NOW, "nmea": "!AIVDM,1,1,,A,1,0*00"},
                     now=NOW)


@pytest.mark.parametrize(
    ("reading", "field", "reason"),
    [
        ({"t": NOW, "range_m": 1, "bearing_deg": 1}, "sensor_id", "missing"),
        (radar(range_m="far"), "range_m", "wrong_type"),
        (radar(range_m=True), "range_m", "wrong_type"),
        (radar(bearing_deg=361.0), "bearing_deg", "out_of_range"),
        (radar(range_m=math.nan), "range_m", "not_finite"),
        (radar(range_m=math.inf), "range_m", "not_finite"),
        (radar(bearing=3), "bearing", "unknown_field"),
        (radar(t=NOW + 3600), "t", "in_future"),
        (radar(t=NOW - 40 * 86400), "t", "too_old"),
        ([1, 2], "reading", "wrong_type"),
    ],
)
def test_bad_radar_readings_name_the_field(reading: object, field: str, reason: str) -> None:
    with pytest.raises(ReadingError) as err:
        validate_reading("radar", reading, now=NOW)
    assert (err.value.field, err.value.reason) == (field, reason)


def test_an_unknown_field_is_named_legibly_and_the_known_ones_listed() -> None:
    """Found by the long fuzz run: an empty key gave the error ": not a field ..."."""
    with pytest.raises(ReadingError) as err:
        validate_reading("radar", {**radar(), "": 1}, now=NOW)
    assert (err.value.field, err.value.reason) == ('""', "unknown_field")
    assert "range_m" in err.value.message and "bearing_deg" in err.value.message
    with pytest.raises(ReadingError) as err:
        validate_reading("radar", {**radar(), "x" * 100_000: 1}, now=NOW)
    assert err.value.field == "x" * 64 + "…" and len(str(err.value)) < 400


def test_thermal_needs_a_range_and_a_known_class() -> None:
    base = {"sensor_id": "C1", "t": NOW, "bearing_deg": 10, "confidence": 0.5}
    with pytest.raises(ReadingError, match="range_m or depression_deg"):
        validate_reading("thermal", {**base, "class": "person"}, now=NOW)
    with pytest.raises(ReadingError) as err:
        validate_reading("thermal", {**base, "class": "ufo", "range_m": 5}, now=NOW)
    assert err.value.field == "class"


def test_seismic_frame_limits_and_replay_clock() -> None:
    with pytest.raises(ReadingError) as err:
        validate_reading("seismic", {"sensor_id": "S1", "t": NOW, "rate_hz": 100,
                                     "samples": [1, "x"]}, now=NOW)
    assert err.value.field == "samples"
    old = radar(t=time.time() - 90 * 86400)
    assert validate_reading("radar", old, now=math.nan) is old  # replays skip the clock
    assert validate_reading("radar", old, max_age_s=0) is old
