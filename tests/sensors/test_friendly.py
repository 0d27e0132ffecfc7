"""Blue-force tracking input: CoT/plain decoding, registry type, simulator feed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sensors.friendly import DEFAULT_SIGMA_M, decode_cot, friendly_report
from sensors.registry import RegistryError, SensorRegistry
from sensors.schemas import ReadingError, validate_reading

T = 1_608_148_774.91  # 2020-12-16T19:59:34.910Z, the time of marker_2525.cot


def friendly_cot(shared_data: Path) -> str:
    """A real ATAK event (marker_2525.cot) with its type made a friendly ground unit."""
    text = (shared_data / "cot" / "takcot" / "marker_2525.cot").read_text()
    return text.replace("type='a-u-G'", "type='a-f-G-U-C'", 1)


def test_a_real_cot_event_of_a_friendly_unit_decodes(shared_data: Path) -> None:
    rep = decode_cot(friendly_cot(shared_data))
    assert rep["unit_id"] == "a0c524c6-0422-4382-9981-e39d1dc71730"
    assert (rep["lat"], rep["lon"]) == (38.856650047254725, -77.06364199776728)
    assert rep["t"] == pytest.approx(T, abs=1e-3)
    assert rep["sigma_m"] == DEFAULT_SIGMA_M  # ce='9999999.0' is CoT for "unknown"
    assert rep["cot_type"] == "a-f-G-U-C"


@pytest.mark.parametrize("name", ["marker_2525.cot", "marker_spot.cot", "route.cot",
                                  "geofence.cot", "rectangle.cot"])
def test_real_cot_events_that_are_not_friendly_units_are_refused(name: str,
                                                                  shared_data: Path) -> None:
    with pytest.raises(ReadingError) as err:
        decode_cot((shared_data / "cot" / "takcot" / name).read_text())
    assert err.value.reason == "not_friendly" and "a-f-" in err.value.message


def test_bad_cot_is_refused_with_a_reason() -> None:
    ok = ("<event version='2.0' uid='U1' type='a-f-G' time='2024-06-01T03:30:00.000Z'>"
          "<point lat='51.5' lon='30.5' ce='4.0'/></event>")
    assert decode_cot(ok)["sigma_m"] == 4.0
    cases = {
        "<event": "malformed_xml",
        "<!DOCTYPE x [<!ENTITY a 'b'>]><event/>": "bad_value",
        ok.replace("<point lat='51.5' lon='30.5' ce='4.0'/>", ""): "missing",
        ok.replace("lat='51.5'", "lat='95'"): "out_of_range",
        ok.replace("lat='51.5'", "lat='nan'"): "not_finite",
        ok.replace(" time='2024-06-01T03:30:00.000Z'", ""): "missing",
        ok.replace("2024-06-01T03:30:00.000Z", "yesterday"): "bad_value",
    }
    for text, reason in cases.items():
        with pytest.raises(ReadingError) as err:
            decode_cot(text)
        assert err.value.reason == reason, text


def test_plain_and_cot_readings_validate_and_mix_up_is_refused() -> None:
    plain = {"sensor_id": "TAK1", "t": T, "unit_id": "V3", "lat": 51.5, "lon": 30.5}
    validate_reading("friendly", plain, now=math.nan)
    assert friendly_report(plain)["sigma_m"] == DEFAULT_SIGMA_M
    with pytest.raises(ReadingError) as err:
        friendly_report({"sensor_id": "TAK1", "t": T, "unit_id": "V3", "lat": 51.5})
    assert (err.value.field, err.value.reason) == ("lon", "missing")
    with pytest.raises(ReadingError) as err:
        validate_reading("friendly", {**plain, "lat": 91.0}, now=math.nan)
    assert err.value.reason == "out_of_range"
    cot = ("<event uid='U1' type='a-f-G' time='2020-12-16T19:59:34.910Z'>"
           "<point lat='51.5' lon='30.5'/></event>")
    with pytest.raises(ReadingError) as err:
        friendly_report({"sensor_id": "TAK1", "t": T, "cot": cot, "unit_id": "x"})
    assert err.value.field == "unit_id"
    with pytest.raises(ReadingError) as err:  # the event's clock is far from the feed's
        friendly_report({"sensor_id": "TAK1", "t": T + 3600, "cot": cot})
    assert err.value.field == "cot" and "from the reading's t" in err.value.message


def test_registry_friendly_feed_is_left_out_of_the_centroid() -> None:
    doc = {"sensors": [{"id": "R1", "type": "radar", "lat": 51.0, "lon": 30.0},
                       {"id": "TAK1", "type": "friendly", "lat": 40.0, "lon": 10.0}]}
    reg = SensorRegistry.from_dict(doc)
    assert reg.get("TAK1").type == "friendly"
    assert reg.centroid() == (51.0, 30.0)
    with pytest.raises(RegistryError, match="unknown field 'heading_deg'"):
        SensorRegistry.from_dict({"sensors": [{**doc["sensors"][1], "heading_deg": 3}]})


def test_the_ingest_stage_turns_reports_into_friendly_observations_or_dead_letters() -> None:
    from fusion.sectors import Sectorizer
    from streams.engine import Context, IngestStage

    reg = SensorRegistry.from_dict({"sensors": [
        {"id": "R1", "type": "radar", "lat": 51.5, "lon": 30.5},
        {"id": "TAK1", "type": "friendly", "lat": 51.5, "lon": 30.5}]})
    st = IngestStage(Context(reg, Sectorizer.from_zones(None, reg.centroid())),
                     now=lambda: math.nan)
    cot = ("<event uid='BFT-V3' type='a-f-G-U-C' time='2020-12-16T19:59:34.910Z'>"
           "<point lat='51.49' lon='30.51' ce='5.0'/></event>")
    res = st.ingest("readings.friendly", json.dumps({"sensor_id": "TAK1", "t": T, "cot": cot}))
    (obs,) = res.observations
    assert (obs.kind, obs.attrs["unit_id"], obs.lat, obs.lon) == ("friendly", "BFT-V3",
                                                                  51.49, 30.51)
    assert obs.cov_en == [[25.0, 0.0], [0.0, 25.0]] and obs.sector
    hostile = cot.replace("a-f-G-U-C", "a-h-G")
    res = st.ingest("readings.friendly", json.dumps({"sensor_id": "TAK1", "t": T,
                                                     "cot": hostile}))
    (dl,) = res.deadletters
    assert (dl.reason, dl.field, dl.sensor_id) == ("not_friendly", "cot", "TAK1")
    res = st.ingest("readings.friendly", json.dumps({"sensor_id": "R1", "t": T, "cot": cot}))
    assert res.deadletters[0].reason == "wrong_sensor_type"


def test_simulated_patrols_report_bft_without_changing_any_other_reading(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sensors.simulate import build_scenario
    from sensors.simulate import scenario as scen_mod

    with_bft = build_scenario(seed=3, duration=300, layout="mixed")
    monkeypatch.setitem(scen_mod.MODELS, "friendly", lambda *a: [])
    without = build_scenario(seed=3, duration=300, layout="mixed")
    others = [r for r in with_bft.readings if r.topic != "readings.friendly"]
    assert [(r.topic, r.value) for r in others] == [(r.topic, r.value) for r in without.readings]
    bft = [r for r in with_bft.readings if r.topic == "readings.friendly"]
    patrols = {tg.id: tg for tg in with_bft.targets if tg.role == "patrol"}
    assert bft and {r.origin for r in bft} <= set(patrols)
    lay = with_bft.layout
    for r in bft:
        rep = friendly_report(validate_reading("friendly", r.value, now=math.nan))
        tg = patrols[r.origin]
        e, n = tg.path.at(np.array([rep["t"] - with_bft.start]))
        te, tn = lay.frame.to_en(rep["lat"], rep["lon"])
        assert math.hypot(float(te) - float(e[0]), float(tn) - float(n[0])) < 30.0
        assert rep["unit_id"] == f"ANDROID-BFT-{r.origin}"
    gaps = np.diff(sorted(r.t for r in bft if r.origin == next(iter(patrols))))
    assert np.median(gaps) == pytest.approx(5.0, abs=0.01)


def test_the_gateway_takes_friendly_units_and_refuses_other_cot_at_the_edge(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time

    from sensors.gateway.auth import Credential
    from sensors.gateway.core import IngestCore
    from sensors.gateway.forward import Forwarder
    from sensors.gateway.spool import Spool

    def unreachable():  # type: ignore[no-untyped-def]
        raise ConnectionRefusedError("kafka down")

    reg = SensorRegistry.from_dict({"sensors": [
        {"id": "TAK1", "type": "friendly", "lat": 51.5, "lon": 30.5}]})
    core = IngestCore(reg, Forwarder(Spool.open(tmp_path / "spool"), unreachable, retry_s=60.0))
    now = time.time()
    when = datetime_iso(now)
    cot = (f"<event uid='BFT-P6' type='a-f-G-U-C-I' time='{when}'>"
           "<point lat='51.49' lon='30.51' ce='5.0'/></event>")
    batch = [{"sensor_id": "TAK1", "t": now, "cot": cot},
             {"sensor_id": "TAK1", "t": now, "cot": cot.replace("a-f-G-U-C-I", "a-u-G")}]
    result = core.ingest("friendly", batch, Credential("test-all", None))
    assert result.accepted == [0]
    assert [(r["index"], r["reason"]) for r in result.rejected] == [(1, "not_friendly")]
    spooled = [r for r, _ in core.forwarder.spool.peek(100)]
    assert [r.topic for r in spooled if r.topic != "deadletter"] == ["readings.friendly"]


def datetime_iso(t: float) -> str:
    from sensors.simulate.friendly import _iso

    return _iso(t)
