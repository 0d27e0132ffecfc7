"""``borderfusion worker``: a Faust worker running all agents or one role."""

from __future__ import annotations

import argparse

from streams.app import ROLES
from streams.commands.common import (
    add_bootstrap_flag,
    bootstrap_overrides,
    formatter,
    settings_from_args,
    setup_logging,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "worker",
        help="run a Faust worker (all agents, or one role)",
        description="Run a stream-processing worker. Roles:\n"
        "  ingest  validate/decode readings.* → observations (+ deadletter)\n"
        "  fusion  observations → tracks, tracker state in a Faust table\n"
        "  alerts  tracks + alerts.acks → alerts (geofences, rules, lifecycle)\n"
        "          (with fusion in the same worker: applied in the fusion agent,\n"
        "          one Kafka hop fewer; BORDERFUSION_ALERTS_INLINE=false: not)\n"
        "  web     status page, map, REST API and /metrics\n"
        "  delivery  alerts → CoT/TAK and webhooks;  archive  topics → hash-chained archive\n"
        "Scale out by running more workers: Kafka spreads partitions (sectors)\n"
        "across them and moves tracker state with them.",
        epilog="example:\n  BORDERFUSION_SENSORS_FILE=sensors.yaml BORDERFUSION_ZONES_FILE=zones.geojson \\\n"
        "    borderfusion worker --role all --bootstrap 127.0.0.1:9092",
        formatter_class=formatter(),
    )
    p.add_argument(
        "--role",
        action="append",
        choices=(*ROLES, "all"),
        help="role to run; repeat for several (default: all)",
    )
    add_bootstrap_flag(p)
    p.add_argument("--sensors", metavar="FILE", help="sensor registry (sensors.yaml)")
    p.add_argument("--zones", metavar="FILE", help="zones.geojson")
    p.add_argument("--rules", metavar="FILE", help="rules.yaml")
    p.add_argument("--web-port", type=int, help="web port (default: BORDERFUSION_WEB_PORT)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sensors.tls import TlsConfigError
    from streams.app import web_tls_context
    from streams.worker import run_worker

    settings = settings_from_args(
        args,
        **bootstrap_overrides(args),
        sensors_file=args.sensors,
        zones_file=args.zones,
        rules_file=args.rules,
        web_port=args.web_port,
    )
    setup_logging(settings.log_level, settings.secret_values())
    roles = tuple(ROLES) if not args.role or "all" in args.role else tuple(dict.fromkeys(args.role))
    try:
        web_tls_context(settings)  # a bad certificate: say so before anything starts
    except TlsConfigError as exc:
        raise SystemExit(f"borderfusion worker: {exc}") from exc
    return run_worker(settings, roles)
