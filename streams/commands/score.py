"""``borderfusion score SCENARIO_DIR ALERTS``: alert quality against simulated ground truth."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fusion.scoring import ScoreParams, format_table, score_files

EPILOG = """\
ALERTS is a JSON-lines file of alerts (DESIGN §6), e.g. the alerts.jsonl that
`borderfusion replay` writes; several records of one alert_id count as one alert.
SCENARIO_DIR must hold truth.jsonl (simulated scenarios do) and may hold zones.geojson
(its sector polygons turn false alerts/hour into false alerts per sector-hour).

An alert matches a truth event when its rule fits the event kind (border_crossing ↔
crossing, dark_vessel ↔ dark_vessel, ...), it falls within [-before, +after] seconds of
the event, crossing directions agree, and its track is the event's target (nearest truth
track within --assoc metres) or, with no target, it lies within --max-distance metres.

example:
  borderfusion replay scenarios/river --out out/
  borderfusion score scenarios/river out/alerts.jsonl
  borderfusion score scenarios/river out/alerts.jsonl --json | jq .overall
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "score",
        help="recall, precision and time-to-alert of alerts against truth.jsonl",
        description="Compare alerts with a scenario's ground truth: recall and precision per "
        "rule, time-to-alert (median and worst), false alerts per hour.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario_dir", metavar="SCENARIO_DIR", help="scenario with truth.jsonl")
    p.add_argument("alerts", metavar="ALERTS", help="alerts as JSON lines")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    d = ScoreParams()
    p.add_argument(
        "--before",
        type=float,
        default=d.before_s,
        metavar="S",
        help=f"an alert up to S s before the event counts (default {d.before_s:g})",
    )
    p.add_argument(
        "--after",
        type=float,
        default=d.after_s,
        metavar="S",
        help=f"... and up to S s after it (default {d.after_s:g})",
    )
    p.add_argument(
        "--max-distance",
        type=float,
        default=d.max_distance_m,
        metavar="M",
        help=f"alert-to-event distance when no target is known (default {d.max_distance_m:g} m)",
    )
    p.add_argument(
        "--assoc",
        type=float,
        default=d.assoc_m,
        metavar="M",
        help=f"alert-to-truth-target association radius (default {d.assoc_m:g} m)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    params = ScoreParams(args.before, args.after, args.max_distance, args.assoc)
    try:
        result = score_files(args.scenario_dir, args.alerts, params)
    except (OSError, ValueError, KeyError) as exc:
        print(f"borderfusion score: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(format_table(result))
    return 0
