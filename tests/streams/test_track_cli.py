"""`borderfusion track` end to end on a small generated detections file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from fusion.geodesy import LocalFrame

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
