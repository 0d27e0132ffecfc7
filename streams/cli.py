"""The ``borderfusion`` entry point: one argparse tree, one module per subcommand.

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)`` which adds its
parser and sets ``func`` (called with the parsed args, returning an exit code).
Modules are imported lazily so ``borderfusion --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from streams.settings import SettingsError

COMMAND_MODULES: list[str] = [
    "streams.commands.config",
    "streams.commands.broker",
    "streams.commands.worker",
    "streams.commands.push",
    "streams.commands.gateway",
    "streams.commands.demo",
    "streams.commands.replay",
    "streams.commands.simulate",
    "streams.commands.score",
    "streams.commands.ais",
    "streams.commands.radar",
    "streams.commands.seismic",
    "streams.commands.users",
    "streams.commands.track",
    "streams.commands.archive",
    "streams.commands.report",
]

DESCRIPTION = """\
borderfusion fuses radar, thermal-camera, seismic and AIS readings from a border into
one live picture of tracks and a short queue of alerts.

Typical first steps:
  borderfusion demo                      everything on this machine, prints the web URL
  borderfusion broker                    the embedded Kafka-protocol broker alone
  borderfusion worker --role all         a Faust worker (ingest, fusion, alerts, web)
  borderfusion push readings.jsonl       send recorded readings to Kafka

Settings come from BORDERFUSION_* environment variables and an optional YAML file
(--config or BORDERFUSION_CONFIG); `borderfusion config show` prints what is in effect.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="borderfusion",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", metavar="FILE", help="YAML settings file (default: $BORDERFUSION_CONFIG)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # a setting found wrong where it is used (Kafka security)
        print(f"borderfusion: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
