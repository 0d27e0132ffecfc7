"""CoT encoding of alerts and tracks: schema-valid, ATAK-shaped, types/how/stale as documented."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from fusion.types import Alert, TrackUpdate
from streams.delivery import cot

T0 = 1_718_000_000.0  # 2024-06-10T06:13:20Z


@pytest.fixture(scope="module")
def schema(shared_data: Path) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(shared_data / "cot" / "takcot" / "cot_event_base.xsd")


def make_alert(**kw: object) -> Alert:
    base: dict[str, object] = dict(
        alert_id="s12:ab12cd",
        rule="border_crossing",
        severity="high",
        score=0.82,
        status="open",
        t_first=T0 - 30,
        t_last=T0,
        lat=51.5012345,
        lon=23.6054321,
        sector="s12",
        zone_id="border-1",
        track_ids=["s12-T7"],
        summary="Person crossed the green border inbound near post 12 <north> & east",
        evidence={"obs_ids": ["o1"], "sensors": ["R1", "T1"]},
    )
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def make_track(**kw: object) -> TrackUpdate:
    base: dict[str, object] = dict(
        track_id="s12-T7",
        t=T0,
        lat=51.5,
        lon=23.6,
        vel_e=1.0,
        vel_n=1.0,
        cov=[[16.0, 0.0, 0, 0], [0.0, 9.0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
        status="confirmed",
        sources=["R1", "T1"],
        sector="s12",
        classification="person",
    )
    base.update(kw)
    return TrackUpdate(**base)  # type: ignore[arg-type]


def parse_time(s: str) -> float:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def test_real_atak_exports_validate_so_the_validator_is_meaningful(schema, shared_data):
    files = sorted((shared_data / "cot" / "takcot").glob("*.cot"))
    assert len(files) == 5
    for f in files:
        schema.validate(str(f))
    # and it does reject a broken event: no point, bad how
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(
            "<event version='2.0' uid='x' type='a-u-G' how='bad how' "
            "time='2020-01-01T00:00:00Z' start='2020-01-01T00:00:00Z' "
            "stale='2020-01-01T00:00:00Z'/>"
        )


def test_alert_event_validates_and_carries_the_alert(schema):
    a = make_alert()
    xml = cot.alert_to_cot(a, now=T0 + 2.5, ce_m=12.5)
    schema.validate(xml.decode())
    ev = ET.fromstring(xml)
    assert ev.get("type") == "b-m-p-s-p-i"
    assert ev.get("how") == "m-f"
    assert ev.get("uid") == "borderfusion.alert.s12:ab12cd"
    assert ev.get("time") == "2024-06-10T06:13:22.500Z"
    assert parse_time(ev.get("start")) == pytest.approx(a.t_last, abs=1e-3)
    # open high alert stays fresh 30 minutes after its last refresh
    assert parse_time(ev.get("stale")) - parse_time(ev.get("start")) == pytest.approx(1800.0)
    pt = ev.find("point")
    assert float(pt.get("lat")) == pytest.approx(51.5012345, abs=1e-9)
    assert float(pt.get("lon")) == pytest.approx(23.6054321, abs=1e-9)
    assert float(pt.get("ce")) == 12.5
    d = ev.find("detail")
    assert d.find("remarks").text == a.summary  # escaped on the wire, intact when parsed
    assert d.find("contact").get("callsign") == "HIGH border crossing"
    links = d.findall("link")
    assert [x.get("uid") for x in links] == ["borderfusion.track.s12-T7"]
    assert d.find("color").get("argb") == str(cot.SEVERITY_ARGB["high"])
    assert d.find("borderfusion").get("alert_id") == a.alert_id


@pytest.mark.parametrize(
    ("severity", "status", "stale_s"),
    [
        ("info", "open", 300.0),
        ("medium", "acknowledged", 900.0),
        ("critical", "open", 3600.0),
        ("critical", "resolved", 0.0),
        ("low", "dismissed", 0.0),
    ],
)
def test_alert_stale_follows_status_and_severity(schema, severity, status, stale_s):
    xml = cot.alert_to_cot(make_alert(severity=severity, status=status), now=T0)
    schema.validate(xml.decode())
    ev = ET.fromstring(xml)
    assert parse_time(ev.get("stale")) - parse_time(ev.get("start")) == pytest.approx(stale_s)
    if status != "open":
        assert status in ev.find("detail/contact").get("callsign")


def test_alarm_targets_get_an_emergency_type_for_open_critical_alerts_only():
    crit = make_alert(severity="critical")
    assert ET.fromstring(cot.alert_to_cot(crit, T0, alarm=True)).get("type") == "b-a-o-tbl"
    assert ET.fromstring(cot.alert_to_cot(crit, T0)).get("type") == "b-m-p-s-p-i"
    acked = make_alert(severity="critical", status="acknowledged")
    assert ET.fromstring(cot.alert_to_cot(acked, T0, alarm=True)).get("type") == "b-m-p-s-p-i"


@pytest.mark.parametrize(
    ("kw", "severity", "expected"),
    [
        (dict(classification="boat", mmsi=None), None, "a-u-S"),
        (dict(classification="boat", mmsi=244123456, name="ZWARTE ZEE"), None, "a-n-S"),
        (dict(classification="person"), None, "a-u-G"),
        (dict(classification="vehicle"), None, "a-u-G-E-V"),
        (dict(classification=None, mmsi=None), None, "a-u-G"),
        (dict(classification="boat", mmsi=None), "high", "a-h-S"),  # a dark vessel
        (dict(classification="boat", mmsi=244123456), "medium", "a-s-S"),
        (dict(classification="person"), "critical", "a-h-G"),
    ],
)
def test_track_types_follow_the_documented_mapping(schema, kw, severity, expected):
    xml = cot.track_to_cot(make_track(**kw), now=T0, alert_severity=severity)
    schema.validate(xml.decode())
    assert ET.fromstring(xml).get("type") == expected


def test_track_event_ce_course_speed_how_and_stale(schema):
    tr = make_track()
    ev = ET.fromstring(cot.track_to_cot(tr, now=T0 + 1, stale_s=45.0))
    # cov position block diag(16, 9): worst-axis sigma is 4 m
    assert float(ev.find("point").get("ce")) == pytest.approx(4.0)
    assert ev.get("how") == "m-f"
    assert parse_time(ev.get("stale")) - parse_time(ev.get("start")) == pytest.approx(45.0)
    trk = ev.find("detail/track")
    assert float(trk.get("course")) == pytest.approx(45.0)  # north-east
    assert float(trk.get("speed")) == pytest.approx(math.sqrt(2), abs=0.01)
    coasting = ET.fromstring(cot.track_to_cot(make_track(status="coasting"), now=T0))
    assert coasting.get("how") == "m-p"
    deleted = ET.fromstring(cot.track_to_cot(make_track(status="deleted"), now=T0))
    assert deleted.get("stale") == deleted.get("start")
    named = ET.fromstring(cot.track_to_cot(make_track(mmsi=244123456, classification="boat"), T0))
    assert named.find("detail/contact").get("callsign") == "MMSI 244123456"


def test_circular_error_takes_the_long_axis_of_a_rotated_ellipse():
    # sigma 10 m along 30 deg, 2 m across: the eigenvalues are 100 and 4 whatever the angle
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    cov = [
        [100 * c * c + 4 * s * s, (100 - 4) * c * s],
        [(100 - 4) * c * s, 100 * s * s + 4 * c * c],
    ]
    assert cot.circular_error_m(cov) == pytest.approx(10.0)
    assert cot.circular_error_m(None) == cot.UNKNOWN_HEIGHT


def test_events_are_shaped_like_atak_exports(shared_data):
    """Same root attributes, point attributes and detail idioms as ATAK's own markers."""
    real = ET.parse(shared_data / "cot" / "takcot" / "marker_2525.cot").getroot()
    ours = ET.fromstring(cot.alert_to_cot(make_alert(), T0))
    assert set(ours.attrib) == set(real.attrib)
    assert set(ours.find("point").attrib) == set(real.find("point").attrib)
    real_tags = {c.tag for c in real.find("detail")}
    our_tags = {c.tag for c in ours.find("detail")}
    assert {"contact", "remarks", "link", "color"} <= real_tags & our_tags
    # ATAK's colour attribute form: a signed 32-bit ARGB integer
    assert int(ours.find("detail/color").get("argb")) < 0


def test_split_stream_cuts_concatenated_events():
    a = cot.alert_to_cot(make_alert(), T0)
    b = cot.track_to_cot(make_track(), T0)
    stream = a + b + a[:40]
    events, rest = cot.split_stream(stream)
    assert cot.uids(events) == ["borderfusion.alert.s12:ab12cd", "borderfusion.track.s12-T7"]
    assert rest == a[:40]


def test_awkward_text_survives_the_round_trip(schema):
    name = 'O\'Brien "Star" <2>\nline & co'
    xml = cot.track_to_cot(make_track(name=name, mmsi=1, classification="boat"), T0)
    schema.validate(xml.decode())
    assert ET.fromstring(xml).find("detail/contact").get("callsign") == name
