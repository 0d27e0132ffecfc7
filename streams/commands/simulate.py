"""``borderfusion simulate``: write a simulated scenario directory, or stream it live."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path

from streams.commands.common import (
    add_bootstrap_flag,
    bootstrap_overrides,
    formatter,
    settings_from_args,
)

log = logging.getLogger(__name__)

DESCRIPTION = """\
Simulate a stretch of the Belarus–Ukraine border (synthetic, near 51.5°N 30.55°E): a
river section (blue border on the centreline) and a forest section (green border),
watched by radars, thermal cameras, seismic sensors and an AIS shore station.

Targets: AIS and dark boats on the river, boats crossing it, a rendezvous on the water,
people and vehicles crossing the forest border past seismic sensors, a legal checkpoint
crossing, someone loitering at the border, an intruder in a restricted zone, patrols,
AIS traffic and animals that must not alert. Sensors have noise, Pd < 1 and clutter.

Writes OUT/readings.jsonl (recorded stream, sorted by t), sensors.yaml, zones.geojson
and truth.jsonl (1 Hz positions + crossing, dark_vessel, rendezvous, restricted_entry,
loitering and approach events) — the same seed gives byte-identical files.
"""

EPILOG = """\
examples:
  borderfusion simulate --out scen1                      10 min, mixed layout, seed 0
  borderfusion simulate --out scen2 --layout river --seed 7 --duration 1800 --targets 2
  borderfusion replay scen1 --out run1 && borderfusion score scen1 run1/alerts.jsonl
  borderfusion simulate --live --speed 10 --duration 600  stream 10 min in 1 min
  borderfusion simulate --live --duration 0 --out demo    endless, real time; writes
                                                          demo/sensors.yaml, zones.geojson
"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "simulate",
        help="write a simulated scenario, or stream it live",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter(),
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="scenario directory to write (required unless --live)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--duration",
        type=float,
        default=600.0,
        metavar="S",
        help="scenario length in seconds (default 600; 0 with --live: endless)",
    )
    p.add_argument(
        "--layout",
        choices=("river", "forest", "mixed"),
        default="mixed",
        help="border type(s) in the area (default mixed)",
    )
    p.add_argument(
        "--start",
        metavar="ISO",
        help="event time of the start, e.g. 2024-06-01T03:30:00Z "
        "(default: that date for files, now for --live)",
    )
    p.add_argument(
        "--targets",
        type=float,
        default=1.0,
        metavar="DENSITY",
        help="target density: 1 ≈ 20 targets, 2 doubles the populations",
    )
    p.add_argument("--live", action="store_true", help="stream readings into Kafka")
    p.add_argument(
        "--speed",
        default="1",
        metavar="N|max",
        help="with --live: N× real time, or 'max' as fast as possible (default 1)",
    )
    add_bootstrap_flag(p)
    p.set_defaults(func=run)


def _parse_start(text: str | None, live: bool) -> float:
    from sensors.simulate import DEFAULT_START

    if text is None:
        return float(int(time.time())) if live else DEFAULT_START
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise SystemExit("simulate: --start needs a time zone, e.g. 2024-06-01T03:30:00Z")
    return dt.timestamp()


def run(args: argparse.Namespace) -> int:
    from sensors.simulate import build_scenario, write_scenario

    start = _parse_start(args.start, args.live)
    if args.duration < 0 or (args.duration == 0 and not args.live):
        raise SystemExit("simulate: --duration must be positive (0 means endless, with --live)")
    if not args.live:
        if args.out is None:
            raise SystemExit("simulate: --out DIR is required (or use --live)")
        t0 = time.monotonic()
        sc = build_scenario(args.seed, args.duration, args.layout, start, args.targets)
        counts = write_scenario(sc, args.out)
        events: dict[str, int] = {}
        for rec in sc.truth:
            if rec["kind"] == "event":
                events[rec["event"]] = events.get(rec["event"], 0) + 1
        print(
            json.dumps(
                {
                    "out": str(args.out),
                    "targets": len(sc.targets),
                    **counts,
                    "events": events,
                    "seconds": round(time.monotonic() - t0, 2),
                }
            ),
            file=sys.stderr,
        )
        return 0
    return _run_live(args, start)


def _run_live(args: argparse.Namespace, start: float) -> int:
    from sensors.push import KafkaPusher
    from sensors.simulate import build_layout, build_scenario, endless, iter_timed, stream
    from sensors.simulate.writer import write_layout
    from streams.kafka_security import client_options

    speed: float | str = "max" if args.speed == "max" else float(args.speed)
    settings = settings_from_args(args, **bootstrap_overrides(args))
    if args.out is not None:
        write_layout(build_layout(args.layout), args.out)
    if args.duration == 0:
        readings = endless(args.seed, args.layout, start, args.targets)
    else:
        readings = iter(
            build_scenario(args.seed, args.duration, args.layout, start, args.targets).readings
        )
    pusher = KafkaPusher(
        settings.kafka_bootstrap, settings.topic_prefix, **client_options(settings)
    )
    log.info("simulate: streaming to %s at speed %s", settings.kafka_bootstrap, speed)
    sent = 0
    try:
        sent = stream(iter_timed(readings, speed, t_ref=start), pusher.send, pusher.flush)
    finally:
        pusher.close()
        print(json.dumps({"sent": sent}), file=sys.stderr)
    return 0
