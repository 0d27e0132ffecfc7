"""``borderfusion ais decode FILE``: NMEA AIS to canonical JSON lines (DESIGN §7).

Thin glue over :mod:`sensors.ais`: read lines, feed the decoder, print records on stdout and
a summary of rejections (counts by reason, first examples) on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from streams.commands.common import command_group, open_input

DESCRIPTION = """\
Decode AIS NMEA 0183 (!AIVDM / !AIVDO) into one JSON object per message on stdout:
  mmsi, msg_type, lat, lon, sog, cog, heading, nav_status, name, callsign, ship_type,
  destination, imo   (null where absent; lat/lon in degrees, sog in knots)
plus t, station_id and channel when known. Position reports carry the last static data
(name, callsign, ship type, destination, IMO) seen for their MMSI.

The sentence is found wherever it sits in the line: plain NMEA, NMEA 4 tag blocks
(\\s:station,c:time*hh\\!AIVDM...), receiver metadata after the checksum, $PGHP gatehouse
wrappers, recorded readings as JSON lines. Multipart messages are reassembled.
Bad sentences never abort the run: they are counted by reason (checksum, empty_payload,
orphan_fragment, unsupported_type, nonstandard_part, bad_position, malformed, not_ais)
and summarised on stderr with the first examples of each.
"""

EPILOG = """\
examples:
  borderfusion ais decode capture.nmea > vessels.jsonl
  nc -u -l 10110 | borderfusion ais decode - --station rx1
  borderfusion ais decode capture.nmea --rejections rejected.jsonl
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _, ais_sub = command_group(
        subparsers,
        "ais",
        dest="ais_command",
        metavar="SUBCOMMAND",
        help="AIS tools (decode NMEA to JSON lines)",
        description="AIS tools. See `borderfusion ais decode --help`.",
        epilog="example:\n  borderfusion ais decode capture.nmea > vessels.jsonl",
    )
    p = ais_sub.add_parser(
        "decode",
        help="decode NMEA AIS sentences to canonical JSON lines",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="capture file, or - for stdin")
    p.add_argument("--station", default="", help="station id for lines that carry none")
    p.add_argument(
        "--fragment-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the rest of a multipart message (default 10)",
    )
    p.add_argument(
        "--allow-missing-checksum",
        action="store_true",
        help="accept sentences without a *hh checksum (default: reject them)",
    )
    p.add_argument(
        "--rejections",
        metavar="FILE",
        help="also write every rejection as a JSON line (reason, message, raw) to FILE",
    )
    p.add_argument(
        "--examples", type=int, default=3, metavar="N", help="examples per reason on stderr"
    )
    p.set_defaults(func=run_decode)


def run_decode(args: argparse.Namespace) -> int:
    from sensors.ais import AisDecoder, AisRecord, RejectionSummary
    from sensors.ais.inputs import feed_args

    decoder = AisDecoder(
        fragment_timeout_s=args.fragment_timeout,
        require_checksum=not args.allow_missing_checksum,
    )
    summary = RejectionSummary(examples_per_reason=args.examples)
    with contextlib.ExitStack() as files:
        try:
            src = files.enter_context(open_input(args.file, errors="replace"))
        except OSError as e:
            print(f"borderfusion ais decode: cannot read {args.file}: {e}", file=sys.stderr)
            return 2
        rej_out = (
            files.enter_context(open(args.rejections, "w", encoding="utf-8"))
            if args.rejections
            else None
        )
        out = sys.stdout
        try:
            for nmea, station, t in feed_args(src, args.station):
                for item in decoder.feed(nmea, station, t):
                    summary.add(item)
                    if isinstance(item, AisRecord):
                        out.write(json.dumps(item.to_dict()) + "\n")
                    elif rej_out is not None:
                        rej_out.write(json.dumps(item.to_dict()) + "\n")
            for item in decoder.flush():
                summary.add(item)
                if rej_out is not None:
                    rej_out.write(json.dumps(item.to_dict()) + "\n")
            out.flush()
        except BrokenPipeError:
            return 0
    print(summary.format(), file=sys.stderr)
    return 0
