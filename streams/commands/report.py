"""``borderfusion report --alert ID --out FILE.html``: a self-contained incident report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from streams.commands.common import add_config_file_flags, formatter, settings_from_args

DESCRIPTION = """\
Write a self-contained HTML incident report for one alert: a map of the tracks and
zones around it (inline SVG), the observations by sensor on a timeline, every archived
version of the alert with who acknowledged, dismissed or escalated it and when, and the
tracks as GeoJSON (embedded, and written beside it as FILE.geojson). With matplotlib
installed, a PNG of the map (FILE.png) is written too, for documents.

Alerts and acks come from the archive; tracks and observations from a replay of the
window around the alert (--before/--after seconds).
"""

EPILOG = """\
example:
  borderfusion report --alert sector-2:1758dc321c6b696d --out incident.html
  borderfusion report --alert sector-2:1758dc321c6b696d --archive /srv/archive \\
      --before 300 --after 120 --out incident.html
"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "report",
        help="self-contained HTML incident report for one alert",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter(),
    )
    p.add_argument("--alert", required=True, metavar="ID", help="alert id")
    p.add_argument(
        "--archive",
        type=Path,
        metavar="DIR",
        help="archive root (default: BORDERFUSION_ARCHIVE_DIR or <data_dir>/archive)",
    )
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="FILE.html",
        help="report to write (FILE.geojson and FILE.png go beside it)",
    )
    add_config_file_flags(p)
    p.add_argument("--rules", type=Path, help="rules.yaml (default: configured file)")
    p.add_argument(
        "--before",
        type=float,
        default=180.0,
        help="seconds of context before the alert's first time (default 180)",
    )
    p.add_argument(
        "--after", type=float, default=60.0, help="seconds after its last time (default 60)"
    )
    p.add_argument("--no-png", action="store_true", help="skip the PNG even with matplotlib")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streams.report.build import ReportError, build_report

    settings = settings_from_args(args)
    sensors = args.sensors or settings.sensors_file
    if sensors is None:
        print(
            "report: no sensor registry: pass --sensors or set BORDERFUSION_SENSORS_FILE",
            file=sys.stderr,
        )
        return 2
    try:
        written = build_report(
            args.archive or settings.archive_path,
            args.alert,
            args.out,
            sensors_file=Path(sensors),
            zones_file=args.zones or settings.zones_file,
            rules_file=args.rules or settings.rules_file,
            before_s=args.before,
            after_s=args.after,
            reorder_window_s=settings.reorder_window_s,
            png=not args.no_png,
        )
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: str(v) for k, v in written.items()}), file=sys.stderr)
    return 0
