"""ONVIF metadata decoding on every specification example, and the camera geometry."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from sensors.schemas import validate_reading
from sensors.thermal import (
    CameraParams,
    bearing_from_pixel,
    decode_onvif_metadata,
    depression_from_pixel,
    ground_range_from_depression,
    normalise_x,
)

CAM = CameraParams("T1", heading_deg=90.0, fov_deg=40.0, height_m=10.0)


def _spec(shared_data: Path, line: int) -> bytes:
    return (shared_data / "camera" / "onvif_spec" / f"Analytics.xml_L{line}.xml").read_bytes()


def _utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


# The spec's example box: left 20, right 100, bottom 30 in a 640x480 frame
# (Scale 0.003125 / 0.00416667, Translate -1): centre x -0.8125, bottom y -0.875.
X_CENTRE = 60.0 * 0.003125 - 1.0
Y_BOTTOM = 30.0 * 0.00416667 - 1.0
EXAMPLE_BEARING = 90.0 + math.degrees(math.atan(X_CENTRE * math.tan(math.radians(20.0))))
EXAMPLE_DEPRESSION = -math.degrees(math.atan(Y_BOTTOM * math.tan(math.radians(15.0))))


def test_every_spec_file_is_covered(shared_data: Path) -> None:
    names = {p.name for p in (shared_data / "camera" / "onvif_spec").glob("Analytics*.xml")}
    assert names == {f"Analytics.xml_L{n}.xml" for n in (727, 810, 1124, 1151, 2609, 2814)}


def test_human_with_face_and_body(shared_data: Path) -> None:
    readings, problems = decode_onvif_metadata(_spec(shared_data, 2814), CAM)
    assert problems == []
    assert len(readings) == 1
    r = readings[0]
    assert r["class"] == "person" and r["confidence"] == 0.8 and r["object_id"] == "15"
    assert r["t"] == pytest.approx(_utc("2021-10-05T15:13:27.321"))
    assert r["bearing_deg"] == pytest.approx(EXAMPLE_BEARING, abs=1e-9)  # 73.526 deg
    assert r["depression_deg"] == pytest.approx(EXAMPLE_DEPRESSION, abs=1e-9)  # 13.195 deg
    assert validate_reading("thermal", r, now=math.nan) == r


def test_vehicle_and_its_licence_plate_child(shared_data: Path) -> None:
    readings, problems = decode_onvif_metadata(_spec(shared_data, 810), CAM)
    assert problems == []
    # Object 14 (LicensePlate, Parent=12) is part of the vehicle, not another target.
    assert [(r["object_id"], r["class"], r["confidence"]) for r in readings] == [
        ("12", "vehicle", 0.9)
    ]
    assert readings[0]["t"] == pytest.approx(_utc("2019-06-10T12:24:57.321"))


def test_unclassified_objects_over_frames(shared_data: Path) -> None:
    readings, problems = decode_onvif_metadata(_spec(shared_data, 727), CAM, default_confidence=0.3)
    assert problems == []
    # Five frames: 12, 12 (idle), none, 12 (moved 5 px right), 19 Removed -> skipped.
    assert [r["object_id"] for r in readings] == ["12", "12", "12"]
    assert [r["t"] - _utc("2008-10-10T12:24:57") for r in readings] == pytest.approx(
        [0.321, 0.421, 0.621]
    )
    assert {r["class"] for r in readings} == {"unknown"}
    assert {r["confidence"] for r in readings} == {0.3}
    moved = 90.0 - math.degrees(math.atan((1 - 65 * 0.003125) * math.tan(math.radians(20.0))))
    assert readings[2]["bearing_deg"] == pytest.approx(moved, abs=1e-6)
    assert readings[2]["bearing_deg"] > readings[1]["bearing_deg"]
    for r in readings:
        validate_reading("thermal", r, now=math.nan)


@pytest.mark.parametrize("line", [1151, 2609])
def test_files_without_objects_give_nothing(shared_data: Path, line: int) -> None:
    # 1151: motion cells and a rule-engine event; 2609: temperature/humidity sensor data.
    assert decode_onvif_metadata(_spec(shared_data, line), CAM) == ([], [])


def test_malformed_upstream_example_is_a_clear_problem(shared_data: Path) -> None:
    data = _spec(shared_data, 1124)
    readings, problems = decode_onvif_metadata(data, CAM)
    assert readings == []
    assert len(problems) == 1
    p = problems[0]
    assert p.reason == "malformed_xml"
    # The missing '>' ends line 5 (</tt:Transformation); expat notices at line 6.
    assert "line 6" in p.message and "not well-formed" in p.message
    assert p.raw == data


def test_same_fragment_repaired_decodes(shared_data: Path) -> None:
    fixed = _spec(shared_data, 1124).replace(b"</tt:Transformation\n", b"</tt:Transformation>\n")
    readings, problems = decode_onvif_metadata(fixed, CAM)
    assert problems == []
    # Vehicle 0.8, Car 0.75, Truck 0.3 are one vehicle at the highest likelihood.
    assert [(r["object_id"], r["class"], r["confidence"]) for r in readings] == [
        ("22", "vehicle", 0.8)
    ]


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b'<!ENTITY lol "lol"><tt:Frame UtcTime="2020-01-01T00:00:00"/>',
        "<!doctype html><p/>",
    ],
)
def test_dtd_and_entities_are_refused(doc: bytes | str) -> None:
    readings, problems = decode_onvif_metadata(doc, CAM)
    assert readings == [] and [p.reason for p in problems] == ["forbidden_dtd"]


def test_class_candidate_form_and_boat_and_out_of_frame() -> None:
    doc = """<tt:Frame UtcTime="2024-05-01T10:00:00Z">
      <tt:Object ObjectId="7"><tt:Appearance><tt:Shape>
        <tt:BoundingBox left="-0.2" top="0.1" right="0.2" bottom="-0.5"/></tt:Shape>
        <tt:Class><tt:ClassCandidate><tt:Type>Vessel</tt:Type>
          <tt:Likelihood>0.7</tt:Likelihood></tt:ClassCandidate></tt:Class>
      </tt:Appearance></tt:Object>
      <tt:Object ObjectId="8"><tt:Appearance><tt:Shape>
        <tt:BoundingBox left="1.5" top="0.1" right="1.9" bottom="-0.5"/></tt:Shape>
      </tt:Appearance></tt:Object>
      <tt:Object ObjectId="9"><tt:Appearance><tt:Shape>
        <tt:BoundingBox left="-0.1" top="0.9" right="0.1" bottom="0.5"/></tt:Shape>
      </tt:Appearance></tt:Object>
    </tt:Frame>"""
    readings, problems = decode_onvif_metadata(doc, CAM)
    assert [(r["object_id"], r["class"], r["confidence"]) for r in readings] == [("7", "boat", 0.7)]
    assert readings[0]["t"] == _utc("2024-05-01T10:00:00")
    assert readings[0]["bearing_deg"] == pytest.approx(90.0)
    assert readings[0]["depression_deg"] == pytest.approx(
        math.degrees(math.atan(0.5 * math.tan(math.radians(15.0))))
    )
    assert sorted(p.reason for p in problems) == ["above_horizon", "out_of_frame"]


def test_bearing_hand_checks() -> None:
    cam = CameraParams("T", heading_deg=10.0, fov_deg=60.0, height_m=5.0)
    assert bearing_from_pixel(0.0, cam) == pytest.approx(10.0)
    assert bearing_from_pixel(1.0, cam) == pytest.approx(40.0)
    assert bearing_from_pixel(-1.0, cam) == pytest.approx(340.0)  # wraps below 0
    north = CameraParams("N", heading_deg=350.0, fov_deg=40.0, height_m=5.0)
    assert bearing_from_pixel(1.0, north) == pytest.approx(10.0)  # wraps past 360
    # Pinhole: half-way to the edge is atan(0.5 tan 30) = 16.102 deg, not 15.
    assert bearing_from_pixel(0.5, cam) == pytest.approx(10.0 + 16.102113751, abs=1e-6)
    out = bearing_from_pixel(np.array([-1.0, 0.0, 1.0]), north)
    assert isinstance(out, np.ndarray) and out == pytest.approx([330.0, 350.0, 10.0])


def test_depression_and_ground_range_hand_checks() -> None:
    cam = CameraParams(
        "T", heading_deg=0.0, fov_deg=40.0, height_m=10.0, vfov_deg=20.0, tilt_deg=-5.0
    )
    assert depression_from_pixel(0.0, cam) == pytest.approx(5.0)  # the axis: the tilt
    assert depression_from_pixel(-1.0, cam) == pytest.approx(15.0)  # bottom edge
    assert depression_from_pixel(1.0, cam) == pytest.approx(-5.0)  # top edge, above horizon
    assert CAM.vertical_fov_deg == 30.0
    assert ground_range_from_depression(45.0, 10.0) == pytest.approx(10.0)
    assert ground_range_from_depression(30.0, 10.0) == pytest.approx(10.0 * math.sqrt(3.0))
    assert ground_range_from_depression(90.0, 10.0) == pytest.approx(0.0, abs=1e-9)
    r = ground_range_from_depression(np.array([1.0, 0.0, -2.0]), 10.0)
    assert r[0] == pytest.approx(572.8996163, abs=1e-6) and np.isnan(r[1:]).all()


def test_camera_params_validate_and_pixel_normalisation() -> None:
    with pytest.raises(ValueError, match="fov_deg"):
        CameraParams("T", heading_deg=0.0, fov_deg=0.0, height_m=1.0)
    cam = CameraParams("T", heading_deg=0.0, fov_deg=40.0, height_m=1.0, image_width_px=640)
    assert normalise_x(np.array([0.0, 320.0, 640.0]), cam) == pytest.approx([-1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="image_width_px"):
        normalise_x(1.0, CAM)
