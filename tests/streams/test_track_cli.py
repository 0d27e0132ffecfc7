"""`borderfusion track` end to end on a small generated detections file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fusion.geodesy import LocalFrame
from streams.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_track_cli_follows_two_walkers(tmp_path: Path) -> None:
    frame = LocalFrame(51.5, 23.6)
    rng = np.random.default_rng(2)
    lines = []
    for s in range(15):
        for start, vel in (((0.0, 0.0), (1.5, 0.0)), ((400.0, 300.0), (0.0, -1.0))):
            e, n = np.add(start, np.multiply(vel, s)) + rng.normal(0, 5, 2)
            lat, lon = frame.to_latlon(e, n)
            lines.append(
                {
                    "t": 1000.0 + s,
                    "lat": float(lat),
                    "lon": float(lon),
                    "sigma_m": 5,
                    "sensor": "R1",
                }
            )
    path = tmp_path / "det.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in lines) + "\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "track",
            str(path),
            "--origin",
            "51.5",
            "23.6",
            "--stats",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    stats = json.loads(proc.stderr.strip().splitlines()[-1])
    assert stats["scans"] == 15 and stats["tracks_confirmed"] == 2 and stats["tracker_seconds"] > 0
    assert set(out[0]) == {"t", "track_id", "lat", "lon", "vel_e", "vel_n", "status"}
    last = [d for d in out if d["t"] == 1014.0]
    assert len(last) == 2
    vels = sorted((d["vel_e"], d["vel_n"]) for d in last)  # truth: (0, -1) and (1.5, 0) m/s
    assert np.allclose(vels, [(0.0, -1.0), (1.5, 0.0)], atol=1.5)


def _walker_and_clutter(path: Path) -> None:
    """One walker seen every second for 15 s, and one clutter plot 2 km away at the start."""
    frame = LocalFrame(51.5, 23.6)
    rows = []
    for s in range(15):
        lat, lon = frame.to_latlon(1.5 * s, 0.0)
        rows.append({"t": 1000.0 + s, "lat": float(lat), "lon": float(lon), "sigma_m": 5})
    lat, lon = frame.to_latlon(2000.0, 2000.0)
    rows.append({"t": 1000.0, "lat": float(lat), "lon": float(lon), "sigma_m": 5})
    path.write_text("\n".join(json.dumps(d) for d in rows) + "\n")


def _run_track(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "track", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tentative_max_misses_deletes_unconfirmed_clutter_without_a_window(
    tmp_path: Path,
) -> None:
    path = tmp_path / "det.jsonl"
    _walker_and_clutter(path)
    common = (str(path), "--origin", "51.5", "23.6", "--confirm", "3/0", "--include-tentative")

    def tracks_at_end(*extra: str) -> list[dict[str, object]]:
        proc = _run_track(*common, *extra)
        assert proc.returncode == 0, proc.stderr
        out = [json.loads(x) for x in proc.stdout.splitlines()]
        return [d for d in out if d["t"] == 1014.0]

    # --confirm 3/0 has no window: without a miss limit the clutter stays tentative forever
    kept = tracks_at_end()
    assert sorted(d["status"] for d in kept) == ["confirmed", "tentative"]
    # ... and 2 missed scans in a row delete it, while the walker stays confirmed
    pruned = tracks_at_end("--tentative-max-misses", "2")
    assert [d["status"] for d in pruned] == ["confirmed"]


def test_track_cli_rejects_impossible_confirmation(capsys: pytest.CaptureFixture[str]) -> None:
    for flag, bad in (
        ("--confirm", "3/2"),
        ("--confirm", "0/5"),
        ("--confirm", "three/5"),
        ("--confirm", "3"),
        ("--tentative-max-misses", "-1"),
    ):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(["track", "det.jsonl", flag, bad])
        assert exc.value.code == 2
        assert flag in capsys.readouterr().err, bad
    args = build_parser().parse_args(["track", "det.jsonl", "--confirm", "4/0"])
    assert args.confirm == (4, 0) and args.tentative_max_misses == 0
