"""``borderfusion seismic detect FILES…``: miniSEED to coincidence-triggered detection events."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from sensors.seismic.detect import coincidence, detect_trace
from sensors.seismic.mseed import MiniSeedError, read_mseed
from sensors.seismic.params import DetectorParams
from streams.commands.common import command_group

log = logging.getLogger(__name__)

_DEFAULTS = DetectorParams()

DESCRIPTION = """\
Read miniSEED files (INT16/INT32/FLOAT32/FLOAT64, Steim-1/2), band-pass each channel, run a
recursive STA/LTA trigger, and report the detections seen on at least --min-stations
stations at once (channels of one station count once). One JSON object a line on stdout:
  time        onset, ISO 8601 UTC
  duration_s  from the first trigger on to the last trigger off
  stations    NET.STA codes that triggered
  kind        footstep | vehicle | unknown (envelope cadence and tonality)
plus confidence (0..1) and channels. Bad records are reported on stderr and skipped."""

EPILOG = """\
examples:
  borderfusion seismic detect BW.RJOB.mseed --min-stations 1
  borderfusion seismic detect site/*.mseed --bandpass 5 45 --sta 0.3 --lta 15 \\
      --on 3.5 --off 1.2 --min-stations 2 --window 1.5"""


def register(subparsers: argparse._SubParsersAction) -> None:
    _, sub = command_group(
        subparsers,
        "seismic",
        dest="seismic_command",
        metavar="COMMAND",
        help="seismic ground sensors: miniSEED detection",
        description="Seismic ground-sensor tools. See `borderfusion seismic detect --help`.",
        epilog="example:\n  borderfusion seismic detect BW.RJOB.mseed --min-stations 1",
    )
    p = sub.add_parser(
        "detect",
        help="miniSEED to detection events (JSON lines)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="miniSEED files")
    p.add_argument(
        "--bandpass",
        nargs=2,
        type=float,
        metavar=("LO", "HI"),
        default=(_DEFAULTS.lo_hz, _DEFAULTS.hi_hz),
        help="band-pass corners in Hz (HI is clipped below Nyquist; default %(default)s)",
    )
    p.add_argument(
        "--sta",
        type=float,
        default=_DEFAULTS.sta_s,
        help="short-term average window, s (default %(default)s)",
    )
    p.add_argument(
        "--lta",
        type=float,
        default=_DEFAULTS.lta_s,
        help="long-term average window, s (default %(default)s)",
    )
    p.add_argument(
        "--on",
        type=float,
        default=_DEFAULTS.on,
        help="STA/LTA ratio that starts a trigger (default %(default)s)",
    )
    p.add_argument(
        "--off",
        type=float,
        default=_DEFAULTS.off,
        help="STA/LTA ratio that ends it (default %(default)s)",
    )
    p.add_argument(
        "--min-stations",
        type=int,
        default=1,
        metavar="N",
        help="stations that must trigger together (default %(default)s)",
    )
    p.add_argument(
        "--window",
        type=float,
        default=1.0,
        metavar="S",
        help="triggers this close (s) count as together (default %(default)s)",
    )
    p.add_argument(
        "--merge-gap",
        type=float,
        default=_DEFAULTS.merge_gap_s,
        metavar="S",
        help="merge triggers of one channel closer than this (default %(default)s)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        params = DetectorParams(
            lo_hz=args.bandpass[0],
            hi_hz=args.bandpass[1],
            sta_s=args.sta,
            lta_s=args.lta,
            on=args.on,
            off=args.off,
            merge_gap_s=args.merge_gap,
        )
    except ValueError as exc:
        print(f"seismic detect: {exc}", file=sys.stderr)
        return 2
    detections = []
    failed = 0
    for path in args.files:
        skipped: list[MiniSeedError] = []
        try:
            traces = read_mseed(path, errors="skip", skipped=skipped)
        except OSError as exc:
            print(f"seismic detect: {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        for err in skipped[:20]:
            print(f"seismic detect: skipped {err}", file=sys.stderr)
        if len(skipped) > 20:
            print(f"seismic detect: {path}: {len(skipped)} bad records in all", file=sys.stderr)
        if not traces and skipped:
            failed += 1
        for tr in traces:
            if tr.rate_hz <= 0 or len(tr.samples) < 2:
                continue
            try:
                detections += detect_trace(tr, params)
            except ValueError as exc:  # e.g. a band above this channel's Nyquist
                print(f"seismic detect: {tr.id}: {exc}", file=sys.stderr)
    for event in coincidence(detections, args.min_stations, args.window):
        sys.stdout.write(json.dumps(event.to_dict()) + "\n")
    return 1 if failed == len(args.files) else 0
