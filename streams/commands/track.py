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
from streams.commands.common import open_input

EPILOG = """\
input, one JSON object a line (sorted by t or not; they are sorted):
  {"t": 1700000000.0, "lat": 51.5012, "lon": 23.6101, "sigma_m": 15, "sensor": "R1"}
output, one line per live (confirmed or coasting) track per scan time:
  {"t": 1700000000.0, "track_id": "track-T3", "lat": ..., "lon": ..., "vel_e": ..., "vel_n": ...,
   "status": "confirmed"}

confirmation: a tentative track is confirmed by M hits within its first N scans
(--confirm M/N) and deleted once it can no longer get there; --confirm M/0 has no
window (M hits, however late), so give it --tentative-max-misses K to delete a
tentative track after K missed scans in a row.

examples:
  borderfusion track detections.jsonl --stats > tracks.jsonl
  borderfusion track detections.jsonl --q 0.1 --confirm 2/3 --include-tentative
  borderfusion track detections.jsonl --confirm 4/0 --tentative-max-misses 3
  cat detections.jsonl | borderfusion track - --origin 51.5 23.6
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "track",
        help="offline tracker: detections (JSON lines) in, tracks out",
        description="Run the sector tracker over position detections: JSON lines\n"
        "`t, lat, lon, sigma_m[, sensor]` in, JSON lines `t, track_id, lat, lon, vel_e,\n"
        "vel_n, status` out (one per live track per scan time). The local frame is centred\n"
        "on the first detection unless --origin is given.",
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
    p.add_argument(
        "--sector", default="track", help="sector name used in track ids (default %(default)s)"
    )
    p.add_argument(
        "--q",
        type=float,
        default=TrackerConfig.q,
        help="process noise, m²/s³ (default %(default)s)",
    )
    p.add_argument(
        "--confirm",
        type=_confirm,
        default=_confirm(f"{TrackerConfig.confirm_m}/{TrackerConfig.confirm_n}"),
        metavar="M/N",
        help="M hits within the first N scans confirm a track; N=0: no window "
        f"(default {TrackerConfig.confirm_m}/{TrackerConfig.confirm_n})",
    )
    p.add_argument(
        "--tentative-max-misses",
        type=_non_negative,
        default=TrackerConfig.tentative_max_misses,
        metavar="K",
        help="missed scans in a row that delete a tentative track; 0: off, only the "
        "M/N window deletes (default %(default)s)",
    )
    p.add_argument(
        "--max-misses",
        type=_non_negative,
        default=TrackerConfig.max_misses,
        metavar="K",
        help="missed scans that delete a confirmed track (default %(default)s)",
    )
    p.add_argument(
        "--association",
        choices=("gnn", "jpda"),
        default=TrackerConfig.association,
        help="global nearest neighbour or joint probabilistic data association "
        "(default %(default)s)",
    )
    p.add_argument("--include-tentative", action="store_true", help="also print tentative tracks")
    p.add_argument(
        "--stats", action="store_true", help="print one JSON object of run statistics on stderr"
    )
    p.set_defaults(func=run)


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _confirm(text: str) -> tuple[int, int]:
    """``M/N`` with 1 <= M and N = 0 (no window) or N >= M (else nothing ever confirms)."""
    try:
        m, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected M/N, e.g. 3/5 or 3/0, got {text!r}") from None
    if m < 1 or n < 0 or (n and n < m):
        raise argparse.ArgumentTypeError(f"need M >= 1 and N = 0 or N >= M, got {text!r}")
    return m, n


def _read(stream: TextIO) -> list[dict[str, Any]]:
    rows = []
    for line in stream:
        line = line.strip()
        if line:
            rows.append(json.loads(line))
    rows.sort(key=lambda d: float(d["t"]))
    return rows


def run(args: argparse.Namespace) -> int:
    with open_input(args.detections) as fh:
        rows = _read(fh)
    m, n = args.confirm
    cfg = TrackerConfig(
        q=args.q,
        confirm_m=m,
        confirm_n=n,
        tentative_max_misses=args.tentative_max_misses,
        max_misses=args.max_misses,
        association=args.association,
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
