"""``borderfusion push FILE``: send recorded readings (DESIGN §8) to Kafka or a gateway."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

from streams.commands.common import (
    add_bootstrap_flag,
    bootstrap_overrides,
    formatter,
    settings_from_args,
)

if TYPE_CHECKING:
    from sensors.gateway.client import GatewayClient
    from sensors.push import KafkaPusher


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "push",
        help="send readings (JSON lines) to Kafka or to an HTTP gateway",
        description="Send readings from a JSON-lines file, one per line in the recorded\n"
        'stream format: {"topic": "readings.radar", "value": {...reading...}}.\n'
        "Each reading goes to its topic keyed by sensor_id. Lines that are not\n"
        "JSON or name no readings topic are reported here and dead-lettered;\n"
        "readings that break their schema are dead-lettered by the ingest agent\n"
        "(or refused by the gateway with --http). The run never stops on a bad line.",
        epilog="examples:\n  borderfusion push scenario/readings.jsonl\n"
        "  borderfusion push - --http http://127.0.0.1:8088 --token $TOKEN < readings.jsonl\n"
        "  borderfusion push readings.jsonl --http https://gw.post3:8088 --ca-file ca.pem "
        "--token $TOKEN",
        formatter_class=formatter(),
    )
    p.add_argument("file", metavar="FILE", help="JSON lines file, or - for stdin")
    add_bootstrap_flag(p)
    p.add_argument("--http", metavar="URL", help="send to an HTTP gateway instead of Kafka")
    p.add_argument("--token", help="gateway token (with --http)")
    p.add_argument(
        "--batch",
        type=int,
        default=500,
        help="readings per HTTP request (with --http; default 500)",
    )
    p.add_argument(
        "--ca-file",
        metavar="PEM",
        help="with an https:// gateway: trust the CA in this file (default: the system's)",
    )
    p.add_argument(
        "--client-cert",
        metavar="PEM",
        help="with a gateway that asks for mutual TLS: this client certificate",
    )
    p.add_argument("--client-key", metavar="PEM", help="its private key (default: in the cert)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sensors.recorded import BadLine, iter_recorded

    settings = settings_from_args(args, **bootstrap_overrides(args))
    source = sys.stdin if args.file == "-" else args.file
    bad: Counter[str] = Counter()
    sent = 0
    t0 = time.monotonic()
    sink: GatewayClient | KafkaPusher
    gateway: GatewayClient | None = None
    if args.http:
        from sensors.gateway.client import GatewayClient
        from sensors.tls import TlsConfigError, client_context

        try:
            tls = (
                client_context(args.ca_file, args.client_cert, args.client_key)
                if args.ca_file or args.client_cert
                else None
            )
        except TlsConfigError as exc:
            raise SystemExit(f"borderfusion push: {exc}") from exc
        sink = gateway = GatewayClient(args.http, args.token, batch=args.batch, tls=tls)
    else:
        from sensors.push import KafkaPusher
        from streams.kafka_security import client_options

        sink = KafkaPusher(
            settings.kafka_bootstrap, settings.topic_prefix, **client_options(settings)
        )
    try:
        for item in iter_recorded(source):
            if isinstance(item, BadLine):
                bad[item.reason] += 1
                print(f"push: {item.message}", file=sys.stderr)
                sink.send(
                    "deadletter",
                    {
                        "source": "push",
                        "reason": item.reason,
                        "raw": item.raw[:4096],
                        "t": time.time(),
                        "line": item.line_no,
                    },
                    key="push",
                )
                continue
            sink.send(item.topic, item.value)
            sent += 1
        sink.flush()
    finally:
        sink.close()
    summary = {
        "sent": sent,
        "rejected": sum(bad.values()),
        "rejected_by_reason": dict(bad),
        "seconds": round(time.monotonic() - t0, 3),
    }
    if gateway is not None:  # what the gateway answered
        summary.update(
            accepted=gateway.accepted, spooled=gateway.spooled, refused=gateway.rejected
        )
    print(json.dumps(summary), file=sys.stderr)
    return 0
