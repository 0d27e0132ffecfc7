"""AisDecoder behaviour on the reference captures and on hand-checkable sentences."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sensors.ais import REASONS, AisDecoder, AisRecord, AisRejection
from sensors.ais.fields import payload_bits
from sensors.ais.framing import frame_line, nmea_checksum
from sensors.ais.static_cache import StaticCache

# Hand-checkable: pyais' own example, MMSI 227006760, 0.0 kn, 49.475577 N 0.13138 E.
POS = "!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23"


def _records(out: list) -> list[AisRecord]:
    return [o for o in out if isinstance(o, AisRecord)]


def _rejections(out: list) -> list[AisRejection]:
    return [o for o in out if isinstance(o, AisRejection)]


def test_single_position_report_canonical_fields() -> None:
    (rec,) = AisDecoder().feed(POS, station_id="A1", t=1000.0)
    assert isinstance(rec, AisRecord)
    d = rec.to_dict()
    assert d["mmsi"] == 227006760 and d["msg_type"] == 1
    assert d["lat"] == pytest.approx(49.475577) and d["lon"] == pytest.approx(0.13138)
    assert d["sog"] == 0.0 and d["cog"] == 36.7 and d["heading"] is None  # heading 511
    assert d["nav_status"] == 0 and d["name"] is None
    assert (d["t"], d["station_id"], d["channel"]) == (1000.0, "A1", "A")
    assert "heading_not_available" in rec.notes


def test_checksum_cases(shared_data: Path) -> None:
    """pyais' checksum cases: valid ones decode, invalid ones are rejected as ``checksum``."""
    rows = [json.loads(x) for x in (shared_data / "ais/pyais/checksum_cases.jsonl").open()]
    assert len(rows) == 6
    for row in rows:
        dec = AisDecoder()
        out = [o for s in row["nmea"] for o in dec.feed(s)] + dec.flush()
        if row["checksum_valid"] is True:
            assert len(_records(out)) == 1 and not _rejections(out), row
        elif row["checksum_valid"] is False:
            assert not _records(out), row
            assert "checksum" in {r.reason for r in _rejections(out)}, row
        else:  # no checksum at all: rejected by default, decodable when allowed
            assert [r.reason for r in _rejections(out)] == ["checksum"]
            lenient = AisDecoder(require_checksum=False).feed(row["nmea"][0])
            assert len(_records(lenient)) == 1


def test_checksum_arithmetic() -> None:
    assert nmea_checksum("AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0") == 0x23


def test_libais_typeexamples_rejected_with_reasons(shared_data: Path) -> None:
    """One real sentence per type; impossible positions rejected, unsupported types named."""
    dec = AisDecoder()
    by_type: dict[int, AisRecord | AisRejection] = {}
    for line in (shared_data / "ais/libais/typeexamples.nmea").read_text().splitlines():
        (item,) = dec.feed(line)
        msg_type = item.msg_type
        assert msg_type is not None
        by_type[msg_type] = item
    assert len(by_type) == 26
    for item in by_type.values():
        if isinstance(item, AisRejection):
            assert item.reason in REASONS and item.message
        else:  # everything emitted is on the globe with plausible kinematics
            if item.lat is not None:
                assert -90 <= item.lat <= 90 and -180 <= item.lon <= 180
            assert item.sog is None or 0 <= item.sog < 102.3
            assert item.heading is None or 0 <= item.heading < 360
            assert item.t is not None  # trailing receiver time
    # lon 200.23 (type 27), lat -101.5 (type 2), lat -99.4 (type 9): off the globe.
    for t in (27, 2, 9):
        assert isinstance(by_type[t], AisRejection) and by_type[t].reason == "bad_position"
    # Type 4 base station sends the 91/181 "not available" sentinel: kept, position null.
    b4 = by_type[4]
    assert isinstance(b4, AisRecord) and b4.lat is None and b4.lon is None
    assert "position_not_available" in b4.notes
    for t in (6, 7, 8, 10, 12, 13, 14, 15, 16, 17, 20, 22, 23, 25, 26):
        assert by_type[t].reason == "unsupported_type", t
    assert by_type[5].to_dict()["name"] == "RUTH THERESA"
    assert by_type[5].to_dict()["imo"] == 9383663


def test_trailing_receiver_time_dates_the_record(shared_data: Path) -> None:
    line = (shared_data / "ais/libais/typeexamples.nmea").read_text().splitlines()[1]
    (rec,) = AisDecoder().feed(line)
    assert rec.t == 1325394001.0  # the last Unix time after the checksum


def test_libais_tagblock_multipart_type5_reassembled(shared_data: Path) -> None:
    dec = AisDecoder()
    out = [o for line in (shared_data / "ais/libais/tagblock.nmea").open() for o in dec.feed(line)]
    out += dec.flush()
    assert not _rejections(out)
    recs = _records(out)
    assert [r.msg_type for r in recs] == [1, 5, 1, 1]  # type 5 completes at its 3rd line
    (r5,) = [r for r in recs if r.msg_type == 5]
    expected = json.loads((shared_data / "ais/libais/tagblock.json").read_text().splitlines()[1])
    assert (r5.mmsi, r5.name, r5.callsign) == (219005012, "ROSINANTE", "XPD5019")
    assert r5.mmsi == expected["mmsi"] and r5.name == expected["shipname"]
    assert r5.t == 1418169601.0 and r5.station_id == "rORBCOMM008"
    assert len(r5.nmea) == 2


def test_orphan_fragment_times_out() -> None:
    frag1 = "!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C"
    frag2 = "!AIVDM,2,2,1,A,88888888880,2*25"
    dec = AisDecoder(fragment_timeout_s=10.0)
    assert dec.feed(frag1, "S1", t=100.0) == []
    assert dec.pending_fragments == 1
    assert dec.expire(105.0) == []
    (orphan,) = dec.expire(111.0)
    assert orphan.reason == "orphan_fragment" and "1 of 2" in orphan.message
    assert dec.pending_fragments == 0
    # The late second part is itself an orphan, reported by the next sweep inside feed().
    assert dec.feed(frag2, "S1", t=112.0) == []
    out = dec.feed(POS, "S1", t=130.0)
    assert [o.reason for o in _rejections(out)] == ["orphan_fragment"]
    assert len(_records(out)) == 1
    # In time, and on the same station/channel/id, the two parts make one type 5.
    dec2 = AisDecoder()
    assert dec2.feed(frag1, "S1", t=100.0) == []
    (rec,) = dec2.feed(frag2, "S1", t=101.0)
    assert rec.msg_type == 5 and rec.mmsi == 351759000


def test_fragments_from_different_stations_do_not_mix() -> None:
    frag1 = "!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C"
    frag2 = "!AIVDM,2,2,1,A,88888888880,2*25"
    dec = AisDecoder()
    assert dec.feed(frag1, "S1", t=1.0) == [] and dec.feed(frag2, "S2", t=1.0) == []
    assert sorted(r.reason for r in dec.flush()) == ["orphan_fragment", "orphan_fragment"]


def test_static_and_position_merged_by_mmsi(shared_data: Path) -> None:
    """gpsd ais-raw-messages: a type 5 then a type 1 of MMSI 239575000 (BLUE HORIZON)."""
    dec = AisDecoder()
    last: dict[tuple[int, int], AisRecord] = {}
    for line in (shared_data / "ais/gpsd/ais-raw-messages.log").open():
        for rec in _records(dec.feed(line)):
            last[(rec.mmsi, rec.msg_type)] = rec
    static, pos = last[(239575000, 5)], last[(239575000, 1)]
    assert pos.has_position and pos.name == static.name == "BLUE HORIZON"
    assert (pos.callsign, pos.ship_type, pos.destination, pos.imo) == (
        "SWPG",
        60,
        "GR_PIR",
        8616336,
    )


def test_type24_parts_a_and_b_merge() -> None:
    dec = AisDecoder()
    (a,) = dec.feed("!AIVDM,1,1,,B,H5O<UmPl608DhhD000000000001,2*12")
    (b,) = dec.feed("!AIVDM,1,1,,B,H5O<UmTUC=D5m07G4=qplq0p8440,0*6D")
    assert (a.name, a.callsign) == ("MA BELLE", None)
    assert (b.name, b.callsign, b.ship_type) == ("MA BELLE", "WDM9849", 37)


def test_static_cache_is_bounded_lru() -> None:
    cache = StaticCache(max_size=2)
    for mmsi in (1, 2):
        cache.update(AisRecord(mmsi=mmsi, msg_type=5, name=f"V{mmsi}"))
    cache.merge(AisRecord(mmsi=1, msg_type=1))  # touching 1 makes 2 the least recent
    cache.update(AisRecord(mmsi=3, msg_type=5, name="V3"))
    assert len(cache) == 2 and cache.get(2) is None and cache.get(1) == {"name": "V1"}


def test_nonstandard_type24_parts_reported(shared_data: Path) -> None:
    dec = AisDecoder()
    out = [o for line in (shared_data / "ais/gpsd/ais-18-27.log").open() for o in dec.feed(line)]
    bad = [r for r in _rejections(out) if r.reason == "nonstandard_part"]
    assert len(bad) == 69 and len(_rejections(out)) == 69
    assert all("part number 3" in r.message for r in bad)
    assert sum(1 for r in _records(out) if r.msg_type == 24) == 69  # the standard part A's


def test_nmea_data_sample_empty_payloads_and_orphans(shared_data: Path) -> None:
    text = (shared_data / "ais/pyais/nmea_data_sample.txt").read_text()
    dec = AisDecoder()
    out = list(dec.decode_lines(text.splitlines()))
    reasons = [r.reason for r in _rejections(out)]
    assert reasons.count("empty_payload") == len(re.findall(r"^!AIVDM,\d,\d,\d?,\w?,,", text, re.M))
    assert reasons.count("orphan_fragment") > 0
    assert len(_records(out)) > 700


def test_wrapped_lines_are_found(shared_data: Path) -> None:
    """Tag blocks, $PGHP wrappers, junk and a missing checksum in pyais' mixed.txt."""
    dec = AisDecoder()
    out = list(dec.decode_lines((shared_data / "ais/pyais/mixed.txt").read_text().splitlines()))
    reasons = sorted(r.reason for r in _rejections(out))
    assert reasons == ["checksum"] + ["not_ais"] * 6
    recs = _records(out)
    assert len(recs) == 12
    # The $PGHP line dates the sentence after it: 2008-05-09 00:00:00.010 UTC.
    assert any(r.t == pytest.approx(1210291200.01) for r in recs)
    # The !SAVDM two-part type 5 carried in tag blocks is reassembled.
    assert sum(r.msg_type == 5 for r in recs) == 2


def test_payload_bits_reads_raw_fields() -> None:
    payload = "13HOI:0P0000VOHLCnHQKwvL05Ip"
    assert payload_bits(payload, 0, 6) == 1
    assert payload_bits(payload, 8, 30) == 227006760
    assert payload_bits(payload, 38, 4) == 0
    assert payload_bits(payload, 200, 8) is None


def test_frame_line_finds_several_sentences_and_metadata() -> None:
    line = '{"nmea": ["' + POS + '"], "x": 1}'
    (f,) = frame_line(line)
    assert f.sentence == POS
    tagged = r"\s:rx7,c:1418172113000*00\!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep`iToV0<00,0*78"
    (g,) = frame_line(tagged)
    assert g.tag_station == "rx7" and g.tag_time == 1418172113.0  # milliseconds accepted


def test_bad_sentences_never_raise() -> None:
    dec = AisDecoder()
    junk = [
        "",
        "garbage",
        "!AIVDM,1,1,,A,",
        "!AIVDM,1,1,,A,xx,9*00",
        "!AIVDM,x,1,,A,13HOI,0*00",
        "!AIVDM,1,1,,A,1,0*" + f"{nmea_checksum('AIVDM,1,1,,A,1,0'):02X}",
        "\x00\xff!AIVDM",
    ]
    for line in junk:
        for item in dec.feed(line):
            assert isinstance(item, AisRejection) and item.reason in REASONS
