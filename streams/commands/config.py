"""``borderfusion config show``: the effective settings, secrets masked."""

from __future__ import annotations

import argparse
import json

import yaml

from streams.commands.common import formatter, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "config",
        help="show the effective settings",
        description="Inspect configuration. Settings come from defaults, then the YAML file\n"
        "(--config or BORDERFUSION_CONFIG), then BORDERFUSION_* variables.",
        epilog="example:\n  BORDERFUSION_PARTITIONS=8 borderfusion config show --format json",
        formatter_class=formatter(),
    )
    csub = p.add_subparsers(dest="config_cmd", metavar="ACTION", required=True)
    show = csub.add_parser(
        "show",
        help="print the settings in effect (secrets masked)",
        description="Print the settings in effect (defaults, then the YAML file, then\n"
        "BORDERFUSION_* variables); passwords show as ***.",
        epilog="examples:\n"
        "  borderfusion --config site.yaml config show\n"
        "  BORDERFUSION_PARTITIONS=8 borderfusion config show --format json",
        formatter_class=formatter(),
    )
    show.add_argument(
        "--format", choices=("yaml", "json"), default="yaml", help="output format (default yaml)"
    )
    show.set_defaults(func=run_show)


def run_show(args: argparse.Namespace) -> int:
    data = settings_from_args(args).redacted()
    if args.format == "json":
        print(json.dumps(data, indent=2))
    else:
        print(yaml.safe_dump(data, sort_keys=False), end="")
    return 0
