"""``borderfusion radar decode``: ASTERIX CAT048 (raw blocks or pcap) to radar readings."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from streams.commands.common import command_group

DESCRIPTION = """\
Decode EUROCONTROL ASTERIX CAT048 monoradar plots to radar readings (DESIGN §4), one JSON
object a line on stdout: sensor_id, t (UTC epoch s), range_m, bearing_deg, sac, sic, the
edition used, and an "asterix" object with mode-3/A, flight level, track number, Mode S
address, callsign and track velocity where the plot carries them.

FILE is either a classic libpcap capture of the UDP feed (auto-detected) or a file of
concatenated raw data blocks. Other categories (CAT034 service messages, CAT062 tracks…)
are counted and skipped; malformed blocks are reported on stderr and never stop the run.

The edition matters: decoding with the wrong one gives plausible nonsense, not an error.
Pick the one your radar sends with --edition; --list-editions shows those known.
"""

EPILOG = """\
examples:
  borderfusion radar decode capture.pcap > plots.jsonl
  borderfusion radar decode feed.raw --edition 1.31 --date 2016-05-05
  borderfusion radar decode capture.pcap --sensor 25/201=R1 --sensor 25/202=R2
  borderfusion radar decode --list-editions

Times: ASTERIX carries only the time of day. The date is --date, else each pcap packet's
capture date (the nearest day to the capture time), else today (UTC).
"""


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(subparsers: Any) -> None:
    _, radar_sub = command_group(
        subparsers,
        "radar",
        dest="radar_command",
        metavar="COMMAND",
        help="radar decoders (ASTERIX CAT048)",
        description="Radar decoders. See `borderfusion radar decode --help`.",
        epilog="example:\n  borderfusion radar decode capture.pcap > plots.jsonl",
    )
    p = radar_sub.add_parser(
        "decode",
        help="ASTERIX CAT048 (raw blocks or pcap) to JSON-lines radar readings",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="pcap capture or raw ASTERIX blocks")
    p.add_argument(
        "--edition",
        metavar="X.Y",
        help="CAT048 edition (default: the newest known, see --list-editions)",
    )
    p.add_argument(
        "--date",
        type=_date,
        metavar="YYYY-MM-DD",
        help="UTC date of the recording (default: pcap capture date, else today)",
    )
    p.add_argument(
        "--sensor",
        action="append",
        default=[],
        metavar="SAC/SIC=ID",
        help="map a radar's SAC/SIC to a sensor registry id (repeatable); "
        "unmapped radars get asterix-SAC-SIC",
    )
    p.add_argument("--list-editions", action="store_true", help="print known editions and exit")
    p.add_argument("--quiet", action="store_true", help="no per-problem lines on stderr")
    p.set_defaults(func=run_decode)


def run_decode(args: argparse.Namespace) -> int:
    from sensors.radar import (
        DecodeStats,
        EditionError,
        PcapError,
        decode_asterix_file,
        known_editions,
        parse_sensor_map,
        resolve_edition,
    )

    if args.list_editions:
        print("\n".join(known_editions()))
        return 0
    if not args.file:
        print("radar decode: FILE is required", file=sys.stderr)
        return 2
    try:
        edition = resolve_edition(args.edition)
        sensor_ids = parse_sensor_map(args.sensor)
    except (EditionError, ValueError) as exc:
        print(f"radar decode: {exc}", file=sys.stderr)
        return 2
    stats = DecodeStats()
    try:
        readings, problems = decode_asterix_file(
            args.file, edition, args.date, sensor_ids=sensor_ids, stats=stats
        )
    except (OSError, PcapError) as exc:
        print(f"radar decode: {exc}", file=sys.stderr)
        return 1
    out = sys.stdout
    for reading in readings:
        out.write(json.dumps(reading, separators=(",", ":")) + "\n")
    if not args.quiet:
        for problem in problems:
            print(f"problem: {problem}", file=sys.stderr)
    skipped = ", ".join(f"CAT{c:03d}: {n}" for c, n in sorted(stats.skipped_categories.items()))
    print(
        f"radar decode: edition {edition}: {stats.plots} CAT048 plots, {stats.readings} readings,"
        f" skipped {sum(stats.skipped_categories.values())} blocks ({skipped or 'none'}),"
        f" {stats.malformed} malformed, {len(problems)} problems",
        file=sys.stderr,
    )
    return 0
