"""Throughput of HTTP ingest → Kafka (or → spool with Kafka down), for ``docs/gateway.md``.

    borderfusion broker --port 19092 &
    python -m sensors.gateway.bench --bootstrap 127.0.0.1:19092 --readings 50000 --batch 500
    python -m sensors.gateway.bench --outage --readings 50000   # spool, then drain

``--outage`` pushes with no broker at all (everything is spooled), then starts
``borderfusion broker`` on that port and times the drain.

Gateway and client run in one process (one GIL): the figure is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from sensors.gateway.auth import hash_token
from sensors.gateway.client import GatewayClient
from sensors.gateway.service import Gateway, GatewayConfig


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--bootstrap", help="Kafka bootstrap (not with --outage)")
    p.add_argument(
        "--outage",
        action="store_true",
        help="push with Kafka down, then start an embedded broker and time the drain",
    )
    p.add_argument("--readings", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--sensors", type=int, default=4, help="radar sensors to spread over")
    args = p.parse_args(argv)
    broker: subprocess.Popen[bytes] | None = None
    if args.outage:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args.bootstrap = f"127.0.0.1:{port}"
    elif not args.bootstrap:
        p.error("--bootstrap or --outage is needed")

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        ids = [f"R{i}" for i in range(args.sensors)]
        (d / "sensors.yaml").write_text(
            yaml.safe_dump(
                {"sensors": [{"id": s, "type": "radar", "lat": 51.5, "lon": 23.6} for s in ids]}
            )
        )
        (d / "tokens.yaml").write_text(
            yaml.safe_dump(
                {
                    "tokens": [
                        {"name": "bench", "token_sha256": hash_token("bench"), "sensors": ["*"]}
                    ]
                }
            )
        )
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        cfg = GatewayConfig(
            bootstrap=args.bootstrap,
            topic_prefix=prefix,
            spool_dir=d / "spool",
            sensors_file=d / "sensors.yaml",
            tokens_file=d / "tokens.yaml",
            port=0,
            send_timeout_s=2.0,
        )
        cfg.http.rate_per_s = cfg.http.burst = 1e9
        cfg.sensor_rate.enabled = False  # measure throughput, not the flood guard
        with Gateway(cfg) as gw:
            client = GatewayClient(gw.url, "bench", batch=args.batch)
            now = time.time()
            t0 = time.perf_counter()
            for i in range(args.readings):
                client.send(
                    "readings.radar",
                    {
                        "sensor_id": ids[i % len(ids)],
                        "t": now,
                        "range_m": 100.0 + i % 1000,
                        "bearing_deg": float(i % 360),
                    },
                )
            client.flush()
            elapsed = time.perf_counter() - t0
            if args.outage:
                broker = subprocess.Popen(
                    [sys.executable, "-m", "streams.cli", "broker", "--port", str(port)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            drain_t0 = time.perf_counter()
            drained = (
                gw.forwarder.wait_drained(60.0) if args.outage or gw.forwarder.kafka_ok else False
            )
            drain_s = time.perf_counter() - drain_t0
        print(
            json.dumps(
                {
                    "readings": args.readings,
                    "batch": args.batch,
                    "seconds": round(elapsed, 3),
                    "readings_per_s": round(args.readings / elapsed),
                    "accepted": client.accepted,
                    "spooled": client.spooled,
                    "rejected": client.rejected,
                    "drained": drained,
                    "drain_s": round(drain_s, 3),
                }
            )
        )
    if broker is not None:
        broker.terminate()
        broker.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
