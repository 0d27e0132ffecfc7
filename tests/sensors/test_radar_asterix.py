"""ASTERIX CAT048 decoding against the croatiacontrol reference captures and decodes.

The GPL reference decoder's *output* is used as ground truth only; none of its code is used.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import pytest

from sensors.radar import (
    DEFAULT_EDITION,
    DecodeStats,
    EditionError,
    decode_asterix_blocks,
    decode_asterix_file,
    known_editions,
    parse_sensor_map,
    read_pcap_udp_payloads,
    sensor_id_for,
    tod_to_epoch,
)
from sensors.radar.asterix_values import record_values
from sensors.radar.cat048 import EDITIONS
from sensors.schemas import validate_reading

NM = 1852.0


def _dir(shared_data: Path) -> Path:
    return shared_data / "radar" / "croatiacontrol"


def _midnight(day: str) -> float:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()


def parse_reference_text(path: Path) -> list[dict]:
    """The reference decoder's text dump to one dict per CAT048 record (fields we map)."""
    records: list[dict] = []
    category, current, block_ts = None, None, None
    for line in path.read_text().splitlines():
        line = line.strip()
        if m := re.match(r"Category: (\d+)", line):
            category = int(m[1])
        elif m := re.match(r"Timestamp: ([\d.]+)", line):
            block_ts = float(m[1]) / 1000.0
        elif line.startswith("Data Record") and category == 48:
            current = {"capture_tod": block_ts}
            records.append(current)
        elif line.startswith("Data Block"):
            current = None
        elif current is None:
            continue
        elif m := re.match(r"System Area Code: (\d+)", line):
            current["sac"] = int(m[1])
        elif m := re.match(r"System Identification Code: (\d+)", line):
            current["sic"] = int(m[1])
        elif m := re.match(r"Time Of Day: \d+ \(([\d.]+) s\)", line):
            current["tod"] = float(m[1])
        elif m := re.match(r"RHO: \d+ \(([\d.]+) NM\)", line):
            current["rho"] = float(m[1])
        elif m := re.match(r"THETA: \d+ \(([\d.]+) deg\)", line):
            current["theta"] = float(m[1])
        elif m := re.match(r"Mode-3/A reply code: (\d+)", line):
            current["mode3a"] = m[1]
        elif m := re.match(r"FlightLevel: -?\d+ \((-?[\d.]+) FL\)", line):
            current["fl"] = float(m[1])
        elif m := re.match(r"Track Number: (\d+)", line):
            current["trn"] = int(m[1])
        elif m := re.match(r"AircraftAddress: ([0-9A-F]+)", line):
            current["address"] = m[1]
        elif (m := re.match(r"Characters 1-8 .*:(.*)$", line)) and m[1].strip():
            current["callsign"] = m[1].strip()
    return records


@pytest.fixture(scope="module")
def reference(shared_data: Path) -> list[dict]:
    return parse_reference_text(_dir(shared_data) / "sample_output" / "cat_034_048.txt")


@pytest.fixture(scope="module")
def pcap_decode(shared_data: Path):
    stats = DecodeStats()
    readings, problems = decode_asterix_file(
        _dir(shared_data) / "sample_data" / "cat_034_048.pcap", stats=stats
    )
    return readings, problems, stats


def test_cat048_raw_matches_expected_field_by_field(shared_data: Path) -> None:
    d = _dir(shared_data)
    exp = json.loads((d / "cat048.raw.expected.json").read_text())
    data = (d / "sample_data" / "cat048.raw").read_bytes()
    readings, problems = decode_asterix_blocks(data, date="2016-05-05")
    assert problems == []
    assert len(readings) == exp["records"] == 1
    r = readings[0]
    a = r["asterix"]
    assert (r["sac"], r["sic"]) == (exp["I010"]["SAC"], exp["I010"]["SIC"])
    assert r["range_m"] == pytest.approx(exp["I040"]["RHO_NM"] * NM, abs=1e-9)
    assert r["bearing_deg"] == pytest.approx(exp["I040"]["THETA_deg"], abs=1e-12)
    assert a["tod_s"] == exp["I140"]["ToD_s"]
    assert r["t"] == _midnight("2016-05-05") + exp["I140"]["ToD_s"]
    assert a["typ"] == exp["I020"]["TYP"] and a["sim"] == exp["I020"]["SIM"]
    assert a["mode3a"] == exp["I070"]["Mode3A"] and a["mode3a_valid"] is True
    assert a["flight_level"] == exp["I090"]["FL"]
    assert a["track_number"] == exp["I161"]["Tn"]
    assert a["ground_speed_kt"] == pytest.approx(exp["I200"]["CGS"], abs=1e-9)
    assert a["heading_deg"] == pytest.approx(exp["I200"]["CHdg_deg"], abs=1e-12)
    assert a["aircraft_address"] == exp["I220"]["ACAddr"]
    assert a["callsign"] == exp["I240"]["TId"].strip()
    assert a["track_status"] == exp["I170"]
    assert r["edition"] == DEFAULT_EDITION == known_editions()[-1]
    assert r["sensor_id"] == "asterix-25-201"


def test_generic_walk_matches_expected_comm_items(shared_data: Path) -> None:
    """I048/230 and I048/250 are not mapped to the reading; the generic walk still reads them."""
    from asterix.base import Bits, RawDatablock

    d = _dir(shared_data)
    exp = json.loads((d / "cat048.raw.expected.json").read_text())
    raw = RawDatablock.parse(Bits.from_bytes((d / "sample_data" / "cat048.raw").read_bytes()))
    rec = EDITIONS[DEFAULT_EDITION].cv_uap.parse(raw[0].get_raw_records())[0]
    v = record_values(rec)
    names = {
        "COM": "COM",
        "STAT": "STAT",
        "SI": "SI",
        "MSSC": "ModeSSSC",
        "ARC": "ARC",
        "AIC": "AIC",
        "B1A": "BDS16",
        "B1B": "BDS37",
    }
    assert {names[k]: val for k, val in v["230"].items()} == exp["I230"]
    assert f"{v['250'][0]['BDS1']:X}{v['250'][0]['BDS2']:X}" == exp["I250_0"]["BDS"]


def test_pcap_counts_match_reference(pcap_decode, reference) -> None:
    readings, problems, stats = pcap_decode
    assert stats.plots == len(reference) == 128
    assert dict(stats.skipped_categories) == {34: 34}
    assert stats.malformed == 0
    with_pos = [ref for ref in reference if "rho" in ref]
    assert len(readings) == len(with_pos) == 126
    # The two plots without I048/040 (and without I048/042) are reported, not invented.
    assert len(problems) == 2 and all(p.reason == "incomplete" for p in problems)


def test_pcap_values_match_reference_for_every_plot(pcap_decode, reference) -> None:
    readings, _, _ = pcap_decode
    with_pos = [ref for ref in reference if "rho" in ref]
    for r, ref in zip(readings, with_pos, strict=True):
        a = r["asterix"]
        assert (r["sac"], r["sic"]) == (ref["sac"], ref["sic"])
        assert a["tod_s"] == pytest.approx(ref["tod"], abs=1e-7)
        assert r["range_m"] / NM == pytest.approx(ref["rho"], abs=1e-7)
        assert r["bearing_deg"] == pytest.approx(ref["theta"], abs=1e-7)
        assert a["track_number"] == ref["trn"]
        for key, ours in (
            ("mode3a", "mode3a"),
            ("fl", "flight_level"),
            ("address", "aircraft_address"),
            ("callsign", "callsign"),
        ):
            assert a.get(ours) == ref.get(key), (key, r, ref)
        # Dated by the capture: event time is within seconds before the capture time.
        capture_tod = ref["capture_tod"]
        assert 0.0 <= capture_tod - r["t"] % 86400.0 < 5.0
        assert dt.datetime.fromtimestamp(r["t"], dt.UTC).date() == dt.date(2016, 5, 5)


def test_readings_pass_the_radar_schema(pcap_decode) -> None:
    readings, _, _ = pcap_decode
    for r in readings:
        core = {k: v for k, v in r.items() if k != "asterix"}
        assert validate_reading("radar", core, now=math.nan) == core


def test_wrong_edition_gives_different_values(shared_data: Path, reference) -> None:
    """The reference reads FL -1 (two's complement) in two plots; editions <= 1.31 read 4095."""
    path = _dir(shared_data) / "sample_data" / "cat_034_048.pcap"
    new, _ = decode_asterix_file(path, "1.32")
    old, _ = decode_asterix_file(path, "1.31")
    ref_fl = [ref["fl"] for ref in reference if "rho" in ref]
    assert ref_fl.count(-1.0) == 2
    new_fl = [r["asterix"]["flight_level"] for r in new]
    old_fl = [r["asterix"]["flight_level"] for r in old]
    assert new_fl == ref_fl
    assert [i for i, (a, b) in enumerate(zip(old_fl, new_fl, strict=True)) if a != b] == [
        i for i, fl in enumerate(ref_fl) if fl == -1.0
    ]
    assert {old_fl[i] for i, fl in enumerate(ref_fl) if fl == -1.0} == {4095.0}
    assert {r["edition"] for r in old} == {"1.31"}


@pytest.mark.parametrize("bad", ["1.15", "2.0", "latest", "1.3"])
def test_unknown_edition_is_refused(bad: str) -> None:
    with pytest.raises(EditionError, match="known: 1.27"):
        decode_asterix_blocks(b"", bad)


def test_edition_spelling_is_normalised() -> None:
    assert decode_asterix_blocks(b"", "01.31") == ([], [])


def test_truncated_block_is_reported_not_fatal(shared_data: Path) -> None:
    good = (_dir(shared_data) / "sample_data" / "cat048.raw").read_bytes()
    readings, problems = decode_asterix_blocks(good + good[:-5], date="2016-05-05")
    assert len(readings) == 1
    assert [p.reason for p in problems] == ["truncated"]
    assert "block 2 @ byte 48" in problems[0].where
    assert problems[0].raw == good[:-5]


def test_corrupted_record_is_reported_and_later_blocks_survive(shared_data: Path) -> None:
    good = (_dir(shared_data) / "sample_data" / "cat048.raw").read_bytes()
    # A CAT048 block whose FSPEC announces items the block does not hold.
    bad = bytes([48, 0, 6, 0xFD, 0xF7, 0x02])
    readings, problems = decode_asterix_blocks(bad + good, date="2016-05-05")
    assert len(readings) == 1
    assert len(problems) == 1 and problems[0].reason == "malformed"
    assert problems[0].where.startswith("block 1 @ byte 0 record 1")
    assert "1.32" in problems[0].message


@pytest.mark.parametrize("data", [b"\x30", b"\x30\x00", b"\x30\x00\x02", b"\x30\xff\xff\x00"])
def test_broken_headers_are_problems(data: bytes) -> None:
    readings, problems = decode_asterix_blocks(data)
    assert readings == [] and len(problems) == 1
    assert problems[0].reason in {"truncated", "bad_length"}


def test_tod_dating_by_date_and_by_nearest_day() -> None:
    day = _midnight("2024-03-01")
    assert tod_to_epoch(3600.5, "2024-03-01") == day + 3600.5
    assert tod_to_epoch(3600.5, dt.date(2024, 3, 1)) == day + 3600.5
    # Plot at 23:59:59.9 in a packet captured 0.1 s after midnight: the previous day.
    assert tod_to_epoch(86399.9, ref_time=day + 0.1) == pytest.approx(day - 0.1)
    # Plot just after midnight captured just before it (clock skew): the next day.
    assert tod_to_epoch(0.2, ref_time=day - 0.3) == pytest.approx(day + 0.2)
    assert tod_to_epoch(43200.0, ref_time=day + 43201.0) == day + 43200.0


def test_sensor_id_mapping(shared_data: Path) -> None:
    assert parse_sensor_map(["25/201=R1", "1/2=R2"]) == {(25, 201): "R1", (1, 2): "R2"}
    for bad in ["25-201=R1", "25/201", "300/1=R", "25/201="]:
        with pytest.raises(ValueError):
            parse_sensor_map([bad])
    assert sensor_id_for(25, 201, {"25/201": "yaml-id"}) == "yaml-id"
    assert sensor_id_for(25, 202, {(25, 201): "R1"}) == "asterix-25-202"
    data = (_dir(shared_data) / "sample_data" / "cat048.raw").read_bytes()
    readings, _ = decode_asterix_blocks(data, sensor_ids={(25, 201): "R1"})
    assert readings[0]["sensor_id"] == "R1"


def test_other_categories_are_counted_and_skipped(shared_data: Path) -> None:
    stats = DecodeStats()
    readings, problems = decode_asterix_file(
        _dir(shared_data) / "sample_data" / "cat062cat065.raw", stats=stats
    )
    assert readings == [] and problems == []
    assert dict(stats.skipped_categories) == {62: 1, 65: 1}


def test_first_pcap_payload_is_the_raw_sample(shared_data: Path) -> None:
    d = _dir(shared_data)
    packets = list(read_pcap_udp_payloads(d / "sample_data" / "cat_034_048.pcap"))
    assert len(packets) == 100
    ts, payload = packets[0]
    assert payload == (d / "sample_data" / "cat048.raw").read_bytes()
    assert ts == pytest.approx(1462433756.508910, abs=1e-6)
