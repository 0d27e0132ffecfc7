"""Offline detection, coincidence across stations, classification, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sensors.seismic.classify import classify
from sensors.seismic.detect import ChannelDetection, coincidence, detect_trace
from sensors.seismic.filters import bandpass, mask_runs, sta_lta, trigger_mask
from sensors.seismic.mseed import Trace, read_mseed
from sensors.seismic.synthetic import footsteps, noise, vehicle

RJOB = "seismic/obspy/BW.RJOB.example_2009-08-24.mseed"
RATE = 200.0
ROOT = Path(__file__).resolve().parents[2]


def test_sta_lta_matches_the_recursion() -> None:
    """lfilter form == the textbook per-sample recursion (after the expanding-mean start)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    nsta, nlta = 5, 50
    cft, _ = sta_lta(x, nsta, nlta, warmup=0)
    sta = lta = 0.0
    ref = np.zeros(len(x))
    for i, v in enumerate(x):  # reference only: the library never loops per sample
        e = v * v
        sta = (sta * i + e) / (i + 1) if i < nsta else sta + (e - sta) / nsta
        lta = (lta * i + e) / (i + 1) if i < nlta else lta + (e - lta) / nlta
        ref[i] = sta / lta
    np.testing.assert_allclose(cft, ref, rtol=1e-10)


def test_trigger_hysteresis() -> None:
    cft = np.array([0, 5, 3, 2, 0.5, 3, 6, 6, 0.9, 0])
    mask = trigger_mask(cft, on=4.0, off=1.0)
    assert mask.tolist() == [0, 1, 1, 1, 0, 0, 1, 1, 0, 0]
    s, e = mask_runs(mask)
    assert s.tolist() == [1, 6] and e.tolist() == [4, 8]
    assert trigger_mask(cft[2:4], 4.0, 1.0, active=True).tolist() == [1, 1]


def test_rjob_event_detected(shared_data: Path) -> None:
    traces = read_mseed(shared_data / RJOB)
    dets = [d for t in traces for d in detect_trace(t)]
    assert {d.channel for d in dets} == {t.id for t in traces}
    events = coincidence(dets, min_stations=1)
    assert len(events) == 1
    ev = events[0]
    # energy jumps at ~4.7 s after the 00:20:03 start (sample ~470 of EHZ/EHN/EHE)
    assert 4.5 <= ev.t_on - traces[0].starttime <= 5.0
    assert 2.0 <= ev.t_off - ev.t_on <= 8.0
    assert ev.stations == ["BW.RJOB"]  # three channels, one station
    assert coincidence(dets, min_stations=2) == []
    # an earthquake is neither a walker nor a vehicle
    assert ev.kind == "unknown"


def test_manz_onset_offline(shared_data: Path) -> None:
    import gzip

    with gzip.open(shared_data / "seismic/obspy/manz_waldk.a01.gz") as f:
        x = np.loadtxt(f)
    dets = detect_trace(Trace("XX", "MANZ", "", "EHZ", 0.0, 200.0, x))
    assert abs(round(dets[0].t_on * 200.0) - 17545) <= 10  # see test_seismic_stream


def _station_trace(sta: str, x: np.ndarray) -> Trace:
    return Trace("XX", sta, "", "HHZ", 1.7e9, RATE, x)


def test_coincidence_across_synthetic_stations() -> None:
    rng = np.random.default_rng(3)
    n = int(40 * RATE)
    xs = {s: noise(n, rng) for s in ("A", "B", "C")}
    # a vehicle seen by A and B 0.4 s apart; a burst seen by C alone at 30 s
    veh = vehicle(RATE, 10, rng, amplitude=10)
    xs["A"][int(10 * RATE) : int(20 * RATE)] += veh
    xs["B"][2080 : 2080 + len(veh)] += 0.8 * veh  # 10.4 s
    xs["C"][int(30 * RATE) : int(31 * RATE)] += 20 * np.sin(np.arange(int(RATE)) * 0.9)
    dets = [d for s, x in xs.items() for d in detect_trace(_station_trace(s, x))]
    assert {d.station for d in dets} == {"XX.A", "XX.B", "XX.C"}
    two = coincidence(dets, min_stations=2)
    assert len(two) == 1 and two[0].stations == ["XX.A", "XX.B"]
    assert 10.0 <= two[0].t_on - 1.7e9 <= 16.0
    assert two[0].kind == "vehicle"
    one = coincidence(dets, min_stations=1)
    assert [e.stations for e in one] == [["XX.A", "XX.B"], ["XX.C"]]
    assert coincidence(dets, min_stations=3) == []


def test_coincidence_window() -> None:
    def det(sta: str, t: float) -> ChannelDetection:
        return ChannelDetection(f"XX.{sta}", f"XX.{sta}..HHZ", t, t + 1.0, "footstep", 0.9, 1.0)

    dets = [det("A", 0.0), det("B", 2.5)]  # B starts 1.5 s after A ends
    assert coincidence(dets, 2, window_s=1.0) == []
    ev = coincidence(dets, 2, window_s=2.0)
    assert len(ev) == 1 and ev[0].t_off - ev[0].t_on == pytest.approx(3.5)
    assert ev[0].kind == "footstep"


@pytest.mark.parametrize("seed", range(6))
def test_classification_synthetic(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(8 * RATE)
    walker = footsteps(RATE, 8, rng, cadence_hz=rng.uniform(1.6, 2.4)) + noise(n, rng)
    car = vehicle(RATE, 8, rng) + noise(n, rng)
    hiss = 5 * noise(n, rng)
    rattle = footsteps(RATE, 8, rng, cadence_hz=5.0) + noise(n, rng)  # too fast for steps
    cls = {
        name: classify(bandpass(x, 2, 40, RATE), RATE)
        for name, x in [("walker", walker), ("car", car), ("hiss", hiss), ("rattle", rattle)]
    }
    assert cls["walker"].kind == "footstep" and cls["walker"].confidence >= 0.5
    assert 1.5 <= cls["walker"].cadence_hz <= 2.5
    assert cls["car"].kind == "vehicle" and cls["car"].confidence >= 0.5
    assert cls["hiss"].kind == "unknown"
    assert cls["rattle"].kind == "unknown"


def test_cli_detect(shared_data: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "streams.cli",
        "seismic",
        "detect",
        str(shared_data / RJOB),
        "--bandpass",
        "2",
        "40",
        "--sta",
        "0.3",
        "--lta",
        "10",
        "--on",
        "4",
        "--off",
        "1",
        "--min-stations",
        "1",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) == 1
    ev = lines[0]
    assert ev["time"].startswith("2009-08-24T00:20:07.7") and ev["time"].endswith("Z")
    assert ev["stations"] == ["BW.RJOB"] and ev["kind"] in {"footstep", "vehicle", "unknown"}
    assert ev["duration_s"] > 0
    res2 = subprocess.run(cmd[:-1] + ["2"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res2.returncode == 0 and res2.stdout == ""


def test_cli_bad_file_reports_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "junk.mseed"
    bad.write_bytes(b"this is not miniSEED" * 50)
    res = subprocess.run(
        [sys.executable, "-m", "streams.cli", "seismic", "detect", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert res.returncode == 1 and res.stdout == ""
    assert "record at byte 0" in res.stderr
