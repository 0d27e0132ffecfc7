"""``borderfusion replay SCENARIO_DIR --out OUT_DIR``: the pipeline over a recording."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from streams.commands.common import add_bootstrap_flag, formatter, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "replay", help="run ingest → fusion → alerts over a recorded scenario",
        description="Replay a scenario directory (readings.jsonl, sensors.yaml, zones.geojson,\n"
                    "optional rules.yaml) through the same engine the live agents use, and\n"
                    "write OUT_DIR/tracks.jsonl and OUT_DIR/alerts.jsonl. In-process by\n"
                    "default; --via-kafka pushes it through a broker and real workers in\n"
                    "their own topic namespace. Both give the same alert ids.\n"
                    "Backtest a rule change with --rules FILE.",
        epilog="examples:\n  borderfusion simulate --seed 3 --out /tmp/s3\n"
               "  borderfusion replay /tmp/s3 --out /tmp/r3\n"
               "  borderfusion score /tmp/s3 /tmp/r3/alerts.jsonl\n"
               "  borderfusion replay /tmp/s3 --out /tmp/r3k --via-kafka --bootstrap 127.0.0.1:9092",
        formatter_class=formatter())
    p.add_argument("scenario", metavar="SCENARIO_DIR")
    p.add_argument("--out", required=True, metavar="OUT_DIR")
    p.add_argument("--rules", metavar="FILE", help="rules.yaml to use instead of the scenario's")
    p.add_argument("--via-kafka", action="store_true",
                   help="push through Kafka and live workers instead of in-process")
    p.add_argument("--embedded-broker", action="store_true",
                   help="with --via-kafka: start the embedded broker for the run")
    p.add_argument("--speed", type=float, default=10.0,
                   help="with --via-kafka: pacing, × real time (default 10)")
    p.add_argument("--reorder-window", type=float, default=10.0,
                   help="event-time reorder window, s (default 10; same in both modes)")
    add_bootstrap_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scenario = Path(args.scenario)
    if not (scenario / "readings.jsonl").exists() or not (scenario / "sensors.yaml").exists():
        print(f"replay: {scenario} is not a scenario directory (needs readings.jsonl and "
              "sensors.yaml)", file=sys.stderr)
        return 2

    def progress(msg: object) -> None:
        text = f"{msg} readings" if isinstance(msg, int) else str(msg)
        print(f"replay: {text}", file=sys.stderr, flush=True)

    if args.via_kafka:
        from streams.replay_kafka import replay_via_kafka

        settings = settings_from_args(args, kafka_bootstrap=args.bootstrap,
                                      topic_prefix=args.topic_prefix)
        if args.embedded_broker:
            from streams.broker import EmbeddedBroker

            with EmbeddedBroker() as broker:
                settings = settings.with_overrides(kafka_bootstrap=broker.bootstrap)
                result = replay_via_kafka(scenario, args.out, settings, args.rules, args.speed,
                                          args.reorder_window, progress=progress)
        else:
            result = replay_via_kafka(scenario, args.out, settings, args.rules, args.speed,
                                      args.reorder_window, progress=progress)
    else:
        from streams.replay import replay_scenario

        result = replay_scenario(scenario, args.out, args.rules, progress=progress,
                                 reorder_window_s=args.reorder_window)
    print(json.dumps(result.summary()), file=sys.stderr)
    return 0
