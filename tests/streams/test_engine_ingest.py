"""The ingest stage over plain data: every reading kind, batches, and bad input."""

from __future__ import annotations

import json
import math

import numpy as np

from fusion.sectors import Sectorizer
from sensors.registry import SensorRegistry
from sensors.seismic import synthetic
from streams.engine import Context, IngestStage

DOC = {"sensors": [
    {"id": "R1", "type": "radar", "lat": 51.5, "lon": 30.5, "height_m": 20},
    {"id": "C1", "type": "thermal", "lat": 51.5, "lon": 30.5, "height_m": 10, "heading_deg": 0},
    {"id": "S1", "type": "seismic", "lat": 51.51, "lon": 30.51, "radius_m": 60},
    {"id": "A1", "type": "ais", "lat": 51.5, "lon": 30.5},
]}
T = 1_700_000_000.0


def stage(halo_m: float = 0.0) -> IngestStage:
    reg = SensorRegistry.from_dict(DOC)
    ctx = Context(reg, Sectorizer.from_zones(None, reg.centroid(), 20_000, halo_m))
    return IngestStage(ctx, now=lambda: math.nan)


def test_a_radar_scan_batch_keeps_good_plots_and_names_the_bad_one() -> None:
    scan = [{"sensor_id": "R1", "t": T, "range_m": 1000.0 + i, "bearing_deg": 10.0 * i}
            for i in range(5)]
    scan[3]["bearing_deg"] = -5
    res = stage().ingest("readings.radar", json.dumps(scan).encode())
    assert res.accepted == 4 and len(res.observations) == 4
    (dl,) = res.deadletters
    assert (dl.index, dl.field, dl.reason, dl.sensor_id) == (3, "bearing_deg", "out_of_range", "R1")
    assert all(o.sector.startswith("g") for o in res.observations)


def test_malformed_json_huge_records_and_unknown_topics_are_deadlettered() -> None:
    st = stage()
    assert st.ingest("readings.radar", b'{"sensor_id": "R1", ').deadletters[0].reason == \
        "malformed_json"
    assert st.ingest("readings.radar", b"x" * 2_000_000).deadletters[0].reason == "too_large"
    assert st.ingest("readings.sonar", b"{}").deadletters[0].reason == "unknown_topic"
    bad_utf8 = st.ingest("readings.radar", b"\xff\xfe{")
    assert bad_utf8.deadletters[0].raw.startswith("base64:")


def test_what_only_the_stdlib_parses_is_judged_as_before() -> None:
    """Readings are parsed with orjson, which refuses NaN literals, ints beyond 64 bits and
    nesting deeper than 255; those fall back to the stdlib, so a NaN range is refused as
    not finite (not as malformed JSON), a huge int as out of range, and nesting deeper than
    the stdlib's own stack is malformed JSON."""
    st = stage()
    nan = st.ingest("readings.radar",
                    b'{"sensor_id":"R1","t":%f,"range_m":NaN,"bearing_deg":1}' % T)
    assert [(d.reason, d.field) for d in nan.deadletters] == [("not_finite", "range_m")]
    huge = st.ingest("readings.radar",
                     b'{"sensor_id":"R1","t":%f,"range_m":%d,"bearing_deg":1}' % (T, 10**30))
    assert [d.field for d in huge.deadletters] == ["range_m"]
    assert huge.deadletters[0].reason != "malformed_json"
    deep = st.ingest("readings.radar", b"[" * 300 + b"]" * 300)  # parsed: not a reading
    assert [(d.reason, d.field) for d in deep.deadletters] == [("wrong_type", "reading")]
    assert st.ingest("readings.radar", b"[" * 100_000 + b"]" * 100_000).deadletters[0].reason \
        == "malformed_json"


def test_ais_multipart_type5_then_position_carries_static_data() -> None:
    from pyais.encode import encode_dict

    st = stage()
    static = encode_dict({"type": 5, "mmsi": 273456780, "shipname": "DNIPRO STAR",
                          "callsign": "UBC123", "ship_type": 70, "destination": "KYIV"},
                         radio_channel="A", sentence_type="VDM", seq_id=1)
    pos = encode_dict({"type": 1, "mmsi": 273456780, "lat": 51.49, "lon": 30.51, "speed": 6.5,
                       "course": 90.0}, radio_channel="A", sentence_type="VDM", seq_id=1)
    for i, sentence in enumerate(static):
        res = st.ingest("readings.ais", {"sensor_id": "A1", "t": T + i, "nmea": sentence})
        assert res.accepted == 1 and not res.observations and not res.deadletters
    res = st.ingest("readings.ais", {"sensor_id": "A1", "t": T + 5, "nmea": pos[0]})
    (obs,) = res.observations
    assert obs.kind == "ais" and obs.attrs["mmsi"] == 273456780
    assert obs.attrs["name"] == "DNIPRO STAR" and obs.attrs["sog"] == 6.5
    assert abs(obs.lat - 51.49) < 1e-4 and abs(obs.lon - 30.51) < 1e-4
    corrupt = pos[0][:-2] + ("00" if not pos[0].endswith("00") else "11")
    res = st.ingest("readings.ais", {"sensor_id": "A1", "t": T + 6, "nmea": corrupt})
    assert res.deadletters[0].reason == "checksum" and res.deadletters[0].field == "nmea"


def test_seismic_waveform_frames_become_footstep_detections() -> None:
    st = stage()
    rate = 200.0
    rng = np.random.default_rng(3)
    quiet = synthetic.noise(int(15 * rate), rng)
    walk = synthetic.footsteps(rate, 12.0, rng) + synthetic.noise(int(12 * rate), rng)
    signal = np.concatenate([quiet, walk, synthetic.noise(int(8 * rate), rng)])
    frame = int(rate)
    observations = []
    for k in range(0, len(signal), frame):
        res = st.ingest("readings.seismic", {"sensor_id": "S1", "t": T + k / rate,
                                             "rate_hz": rate,
                                             "samples": signal[k:k + frame].round(3).tolist()})
        assert not res.deadletters
        observations.extend(res.observations)
    assert observations, "the walk was not detected"
    first = observations[0]
    assert first.kind == "seismic" and (first.lat, first.lon) == (51.51, 30.51)
    assert T + 14.0 < first.t < T + 18.0          # the walk starts 15 s in
    assert first.attrs["seismic_kind"] in ("footstep", "unknown")
    assert any(o.attrs["seismic_kind"] == "footstep" for o in observations)


def test_wrong_sensor_type_for_topic_and_halo_copies() -> None:
    st = stage(halo_m=500)
    res = st.ingest("readings.radar", {"sensor_id": "C1", "t": T, "range_m": 5, "bearing_deg": 1})
    assert res.deadletters[0].reason == "wrong_sensor_type"
    # the registry centroid is the grid origin; a plot 100 m west of it sits by a cell edge
    res = st.ingest("readings.thermal", {"sensor_id": "C1", "t": T, "bearing_deg": 0.0,
                                         "range_m": 100.0, "class": "person",
                                         "confidence": 0.9})
    sectors = sorted(o.sector for o in res.observations)
    assert len(sectors) >= 2 and len(set(o.obs_id for o in res.observations)) == 1
    assert sum(1 for o in res.observations if o.attrs.get("halo")) == len(sectors) - 1


def test_ingest_many_stamps_each_observation_with_its_reading_position() -> None:
    from fusion.types import Observation
    from streams.engine import observation_dict

    st = stage(halo_m=500)
    plot = {"sensor_id": "C1", "t": T, "bearing_deg": 0.0, "range_m": 100.0,
            "class": "person", "confidence": 0.9}  # by a cell edge: halo copies too
    scan = [{"sensor_id": "R1", "t": T, "range_m": 1000.0 + i, "bearing_deg": 10.0 * i}
            for i in range(3)]
    results = st.ingest_many([("readings.thermal", plot), ("readings.radar", scan)],
                             sources=[["readings.thermal", 1, 41], ["readings.radar", 0, 7]])
    thermal, radar = results
    assert len({o.sector for o in thermal.observations}) >= 2  # a home and a halo copy
    assert all(o.src == ["readings.thermal", 1, 41] for o in thermal.observations)
    assert radar.accepted == 3 and len(radar.observations) >= 3
    assert all(o.src == ["readings.radar", 0, 7] for o in radar.observations)
    o = next(o for o in radar.observations if o.attrs.get("halo"))
    d = json.loads(json.dumps(observation_dict(o)))
    assert d["src"] == ["readings.radar", 0, 7] and d == o.to_dict()
    assert Observation.from_dict(d) == o
    # optional: absent without a source (offline replay), and older records still decode
    plain = st.ingest("readings.radar", scan).observations[0]
    assert plain.src is None
    assert "src" not in observation_dict(plain) and "src" not in plain.to_dict()
    assert Observation.from_dict(plain.to_dict()).src is None
