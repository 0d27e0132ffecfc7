"""Every decoder on random and mutated input: no crash beyond the documented error types.

Seeds are the real captures in ``shared_data`` (NMEA from pyais/libais/gpsd, ASTERIX from
croatiacontrol, ONVIF metadata from the spec, miniSEED from ObsPy), mutated byte by byte,
plus hostile hand-written cases (billion laughs, XXE, absurd declared lengths).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensors.ais import AisDecoder, AisRecord, AisRejection
from sensors.radar.cat048 import decode_asterix_blocks
from sensors.seismic.mseed import read_mseed
from sensors.thermal.geometry import CameraParams
from sensors.thermal.onvif import decode_onvif_metadata
from tests.fuzz.conftest import FUZZ, mutate_bytes, mutate_text

CAM = CameraParams("T1", heading_deg=90.0, fov_deg=40.0, height_m=10.0)


def _nmea_seeds(root: Path) -> list[str]:
    lines: list[str] = []
    for name in (
        "pyais/sample.ais",
        "pyais/mixed.txt",
        "pyais/gatehouse.nmea",
        "pyais/timestamped.ais",
        "libais/tagblock.nmea",
        "libais/typeexamples.nmea",
        "gpsd/ais-18-27.log",
    ):
        path = root / "ais" / name
        lines += [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()][:200]
    assert len(lines) > 100
    return lines


@pytest.fixture(scope="module")
def nmea_seeds(shared_data: Path) -> list[str]:
    return _nmea_seeds(shared_data)


@pytest.fixture(scope="module")
def asterix_seeds(shared_data: Path) -> list[bytes]:
    d = shared_data / "radar" / "croatiacontrol" / "sample_data"
    raw = (d / "cat048.raw").read_bytes()
    seeds = [raw[:4096], (d / "cat034.raw").read_bytes()[:2048]]
    off = 0  # single blocks too, so mutations hit the record parser, not just framing
    while off + 3 <= len(raw) and len(seeds) < 40:
        n = int.from_bytes(raw[off + 1 : off + 3], "big")
        if n < 3:
            break
        seeds.append(raw[off : off + n])
        off += n
    return seeds


@pytest.fixture(scope="module")
def onvif_seeds(shared_data: Path) -> list[bytes]:
    files = sorted((shared_data / "camera" / "onvif_spec").glob("Analytics.xml_L*.xml"))
    assert files
    return [f.read_bytes() for f in files]


@pytest.fixture(scope="module")
def mseed_seed(shared_data: Path) -> bytes:
    return (shared_data / "seismic" / "obspy" / "BW.RJOB.example_2009-08-24.mseed").read_bytes()


def _check_ais_outputs(out: list) -> None:
    assert isinstance(out, list)
    for item in out:
        assert isinstance(item, AisRecord | AisRejection)
        if isinstance(item, AisRecord):
            for v in (item.lat, item.lon):
                assert v is None or math.isfinite(v)


@FUZZ
@given(data=st.data())
def test_ais_decoder_on_mutated_sentences(nmea_seeds: list[str], data: st.DataObject) -> None:
    dec = AisDecoder()
    for _ in range(data.draw(st.integers(1, 5))):
        seed = data.draw(st.sampled_from(nmea_seeds))
        line = mutate_text(data.draw, seed)
        t = data.draw(st.none() | st.floats(allow_nan=True, allow_infinity=True))
        _check_ais_outputs(dec.feed(line, "A1", t))


@FUZZ
@given(line=st.text(max_size=300), t=st.none() | st.floats())
def test_ais_decoder_on_random_text(line: str, t: float | None) -> None:
    _check_ais_outputs(AisDecoder().feed(line, "A1", t))


@FUZZ
@given(data=st.data())
def test_asterix_on_mutated_blocks(asterix_seeds: list[bytes], data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(asterix_seeds))
    blob = mutate_bytes(data.draw, seed)
    readings, problems = decode_asterix_blocks(blob, date="2024-06-01")
    for r in readings:
        assert math.isfinite(r["range_m"]) and math.isfinite(r["bearing_deg"])
    assert all(p.reason for p in problems)


@FUZZ
@given(blob=st.binary(max_size=600))
def test_asterix_on_random_bytes(blob: bytes) -> None:
    decode_asterix_blocks(blob, date="2024-06-01")
    decode_asterix_blocks(b"\x30" + blob, date="2024-06-01")  # always CAT048


@FUZZ
@given(data=st.data())
def test_onvif_on_mutated_xml(onvif_seeds: list[bytes], data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(onvif_seeds))
    blob = mutate_bytes(data.draw, seed, max_ops=4)
    readings, problems = decode_onvif_metadata(blob, CAM)
    assert isinstance(readings, list) and isinstance(problems, list)
    for r in readings:
        assert 0.0 <= r["bearing_deg"] <= 360.0 and math.isfinite(r["t"])


HOSTILE_XML = [
    # billion laughs: refused before the parser sees an entity
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10)
        for i in range(1, 10)
    )
    + b"]><tt:MetadataStream>&lol9;</tt:MetadataStream>",
    # XXE: an external entity reading a local file
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<tt:MetadataStream>&xxe;</tt:MetadataStream>",
    b'<!doctype x SYSTEM "http://127.0.0.1:1/evil.dtd"><tt:MetadataStream/>',
    # a parameter entity hidden behind a comment and odd case
    b"<!-- x --><!dOcTyPe x [<!eNtItY % p SYSTEM 'file:///etc/hostname'> %p;]><a/>",
    # deep nesting and a huge attribute
    b"<a>" * 20_000 + b"</a>" * 20_000,
    b'<tt:Object ObjectId="' + b"9" * 100_000 + b'"/>',
    # an undefined entity without a DTD
    b"<tt:MetadataStream>&undefined;</tt:MetadataStream>",
]


@pytest.mark.parametrize("xml", HOSTILE_XML, ids=range(len(HOSTILE_XML)))
def test_onvif_hostile_documents_are_refused_not_expanded(xml: bytes) -> None:
    readings, problems = decode_onvif_metadata(xml, CAM)
    assert readings == []
    if b"<!" in xml.lower().replace(b"<!--", b""):
        assert [p.reason for p in problems] == ["forbidden_dtd"]
    assert b"root:" not in repr(problems).encode()  # /etc/passwd never read


@FUZZ
@given(data=st.data())
def test_mseed_on_mutated_records(mseed_seed: bytes, data: st.DataObject) -> None:
    rec = data.draw(st.integers(0, len(mseed_seed) // 512 - 2))
    seed = mseed_seed[rec * 512 : rec * 512 + 1024]  # two records
    blob = mutate_bytes(data.draw, seed, max_ops=8)
    skipped: list = []
    traces = read_mseed(blob, errors="skip", skipped=skipped)
    for tr in traces:
        assert tr.rate_hz > 0 and math.isfinite(tr.starttime)


@FUZZ
@given(blob=st.binary(max_size=2048))
def test_mseed_on_random_bytes(blob: bytes) -> None:
    read_mseed(blob, errors="skip")
