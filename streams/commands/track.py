"""``borderfusion track``: the offline tracker over a file of detections (DESIGN §7).

Thin glue: read JSON lines, group them by scan time, feed ``fusion.tracker.SectorTracker``
(the same code the fusion agent runs), print every live track after each scan time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from fusion.tracker import SectorTracker, TrackerConfig
from fusion.types import Observation

EPILOG = """\
input, one JSON object a line (sorted by t or not; they are sorted):
  {"t": 1700000000.0, "lat": 51.5012, "lon": 23.6101, "sigma_m": 15, "sensor": "R1"}
output, one line per live (confirmed or coasting) track per scan time:
  {"t": 1700000000.0, "track_id": "track-T3", "lat": ..., "lon": ..., "vel_e": ..., "vel_n": ...,
   "status": "confirmed"}

example:
  borderfusion track detections.jsonl --stats > tracks.jsonl
  borderfusion track detections.jsonl --q 0.1 --confirm 2/3 --include-tentative
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "track",
        help="offline tracker: detections (JSON lines) in, tracks out",
        description="Run the sector tracker over position detections: JSON lines "
        "`t, lat, lon, sigma_m[, sensor]` in, JSON lines `t, track_id, lat, lon, vel_e, vel_n, "
        "status` out (one per live track per scan time). The local frame is centred on the "
        "first detection unless --origin is given.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("detections", metavar="DETECTIONS", help="JSON-lines file, or - for stdin")
    p.add_argument(
        "--origin",
        nargs=2,
        type=float,
        metavar=("LAT", "LON"),
        help="sector frame origin (default: first detection)",
    )
    p.add_argument("--sector", default="track", help="sector name used in track ids")
    p.add_argument(
        "--q",
        type=float,
        default=TrackerConfig.q,
        help="process noise, m²/s³ (default %(default)s)",
    )
    p.add_argument(
        "--confirm",
        default=f"{TrackerConfig.confirm_m}/{TrackerConfig.confirm_n}",
        metavar="M/N",
        help="M-of-N confirmation (default %(default)s)",
    )
    p.add_argument(
        "--max-misses",
        type=int,
        default=TrackerConfig.max_misses,
        help="missed scans that delete a confirmed track (default %(default)s)",
    )
    p.add_argument("--association", choices=("gnn", "jpda"), default="gnn")
    p.add_argument("--include-tentative", action="store_true", help="also print tentative tracks")
    p.add_argument(
        "--stats", action="store_true", help="print one JSON object of run statistics on stderr"
    )
    p.set_defaults(func=run)


def _read(stream: TextIO) -> list[dict[str, Any]]:
    rows = []
    for line in stream:
        line = line.strip()
        if line:
            rows.append(json.loads(line))
    rows.sort(key=lambda d: float(d["t"]))
    return rows


def run(args: argparse.Namespace) -> int:
    if args.detections == "-":
        rows = _read(sys.stdin)
    else:
        with open(args.detections, encoding="utf-8") as fh:
            rows = _read(fh)
    m, n = (int(v) for v in args.confirm.split("/"))
    cfg = TrackerConfig(
        q=args.q, confirm_m=m, confirm_n=n, max_misses=args.max_misses, association=args.association
    )
    lat0, lon0 = (
        args.origin
        if args.origin
        else ((float(rows[0]["lat"]), float(rows[0]["lon"])) if rows else (0.0, 0.0))
    )
    tracker = SectorTracker(args.sector, lat0, lon0, cfg)
    out = sys.stdout
    busy, scans, confirmed = 0.0, 0, set()
    i = 0
    while i < len(rows):
        t = float(rows[i]["t"])
        batch = []
        while i < len(rows) and float(rows[i]["t"]) == t:
            d = rows[i]
            var = float(d["sigma_m"]) ** 2
            batch.append(
                Observation(
                    obs_id=f"d{i}",
                    sensor_id=str(d.get("sensor", "S")),
                    kind="radar",
                    t=t,
                    lat=float(d["lat"]),
                    lon=float(d["lon"]),
                    cov_en=[[var, 0.0], [0.0, var]],
                )
            )
            i += 1
        t0 = time.perf_counter()
        tracker.process(batch)
        live = tracker.live_tracks(t, include_tentative=args.include_tentative)
        busy += time.perf_counter() - t0
        scans += 1
        for u in live:
            if u.status != "tentative":
                confirmed.add(u.track_id)
            out.write(
                json.dumps(
                    {
                        "t": u.t,
                        "track_id": u.track_id,
                        "lat": u.lat,
                        "lon": u.lon,
                        "vel_e": u.vel_e,
                        "vel_n": u.vel_n,
                        "status": u.status,
                    }
                )
                + "\n"
            )
    out.flush()
    if args.stats:
        stats = {
            "detections": len(rows),
            "scans": scans,
            "tracks_confirmed": len(confirmed),
            "tracks_started": tracker.counter,
            "late": tracker.n_late,
            "tracker_seconds": round(busy, 6),
        }
        print(json.dumps(stats), file=sys.stderr)
    return 0
