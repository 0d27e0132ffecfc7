"""Check and time the client stacks borderfusion uses against Apache Kafka 4.x (KRaft).

Starts a throw-away broker with ``tests/kafka_kraft.py`` and runs: admin topic creation with
explicit partitions, a kafka-python producer, kafka-python group and assign/seek consumers,
an aiokafka group consumer, end offsets and ``offsets_for_times``, and a Faust worker
(subprocess) relaying one topic to another. Prints one line per figure (docs/kafka.md).

    .venv/bin/python scripts/kafka/verify.py [--records 100000] [--keep-logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402

from tests.kafka_kraft import start_kraft  # noqa: E402

FAUST_APP = textwrap.dedent(
    """
    import os
    import faust

    app = faust.App(
        "kraftcheck",
        broker="kafka://" + os.environ["KRAFT_BOOTSTRAP"],
        store="memory://",
        broker_session_timeout=float(os.environ["KRAFT_SESSION_S"]),
        broker_heartbeat_interval=min(1.0, float(os.environ["KRAFT_SESSION_S"]) / 3),
        topic_partitions=4,
    )
    src = app.topic(os.environ["KRAFT_IN"], value_serializer="raw")
    dst = app.topic(os.environ["KRAFT_OUT"], value_serializer="raw")


    @app.agent(src)
    async def relay(stream):
        async for value in stream:
            await dst.send(value=value)
    """
)


def report(name: str, value: float | str, unit: str = "") -> None:
    shown = f"{value:.2f}" if isinstance(value, float) else value
    print(f"{name:<58} {shown} {unit}".rstrip(), flush=True)


def produce(bootstrap: str, topic: str, n: int, partition: int | None = None) -> float:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    t0 = time.monotonic()
    for i in range(n):
        producer.send(topic, value=json.dumps({"i": i}).encode(), partition=partition)
    producer.flush(60)
    dt = time.monotonic() - t0
    producer.close()
    return dt


def kafka_python_group(bootstrap: str, topic: str, n: int) -> tuple[int, float, float]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"kp-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    t0 = time.monotonic()
    first, count = 0.0, 0
    while count < n and time.monotonic() - t0 < 60:
        got = sum(len(r) for r in consumer.poll(timeout_ms=500, max_records=10000).values())
        if got and not first:
            first = time.monotonic() - t0
        count += got
    consumer.close()
    return count, first, time.monotonic() - t0


def aiokafka_group(bootstrap: str, topic: str, n: int) -> tuple[int, float, float]:
    from aiokafka import AIOKafkaConsumer

    async def run() -> tuple[int, float, float]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"ak-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
        )
        t0 = time.monotonic()
        await consumer.start()
        first, count = 0.0, 0
        while count < n and time.monotonic() - t0 < 60:
            batches = await consumer.getmany(timeout_ms=500, max_records=10000)
            got = sum(len(b) for b in batches.values())
            if got and not first:
                first = time.monotonic() - t0
            count += got
        await consumer.stop()
        return count, first, time.monotonic() - t0

    return asyncio.run(run())


def time_lookup(bootstrap: str, admin: KafkaAdminClient) -> None:
    """100 records stamped base + 10 ms * i: offsets_for_times(base + 500 ms) must be 50."""
    topic = f"ts-{uuid.uuid4().hex[:6]}"
    admin.create_topics([NewTopic(topic, 1, 1)])
    base = int(time.time() * 1000) - 3_600_000
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(100):
        producer.send(topic, value=b"x", partition=0, timestamp_ms=base + 10 * i)
    producer.flush(30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    tp = TopicPartition(topic, 0)
    hit = consumer.offsets_for_times({tp: base + 500})[tp]
    end = consumer.end_offsets([tp])[tp]
    consumer.close()
    got = None if hit is None else (hit.offset, hit.timestamp - base)
    report("offsets_for_times(base+500 ms) -> (offset, ts-base)", f"{got} (expected (50, 500))")
    report("end offset of a 100-record topic", f"{end} (expected 100)")


def faust_relay(
    bootstrap: str, admin: KafkaAdminClient, n: int, logs: Path, session_s: float
) -> None:
    tag = uuid.uuid4().hex[:6]
    src, dst = f"fin-{tag}", f"fout-{tag}"
    admin.create_topics([NewTopic(t, 4, 1) for t in (src, dst)])
    produce(bootstrap, src, n)
    appdir = Path(tempfile.mkdtemp(prefix="faustapp-"))
    (appdir / "kraftapp.py").write_text(FAUST_APP)
    env = dict(os.environ, KRAFT_BOOTSTRAP=bootstrap, KRAFT_IN=src, KRAFT_OUT=dst)
    env["KRAFT_SESSION_S"] = str(session_s)
    env["PYTHONPATH"] = str(appdir)
    log_path = logs / "faust-worker.log"
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(dst, p) for p in range(4)])
    with open(log_path, "wb") as out:
        t0 = time.monotonic()
        worker = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "kraftapp", "--datadir", str(appdir / "data"),
             "worker", "-l", "info", "--without-web"],
            cwd=appdir, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        first, count = 0.0, 0
        while count < n and time.monotonic() - t0 < 180 and worker.poll() is None:
            got = sum(len(r) for r in consumer.poll(timeout_ms=500).values())
            if got and not first:
                first = time.monotonic() - t0
            count += got
        all_s = time.monotonic() - t0
        text = log_path.read_text(errors="replace")
        report("faust: records relayed", f"{count}/{n}")
        report("faust: spawn -> first relayed record", first, "s")
        report(f"faust: spawn -> all {n} relayed", all_s, "s")
        stamps = {}
        for key, pattern in (
            ("start", r"\[\^Worker\]: Starting"),
            ("joined", r"Joined group"),
            ("ready", r"Worker ready"),
        ):
            m = re.search(r"^\[([\d-]+ [\d:,]+)\].*" + pattern, text, re.M)
            if m:
                stamps[key] = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if "start" in stamps and "joined" in stamps:
            report(
                "faust: 'Worker Starting' -> 'Joined group'",
                stamps["joined"] - stamps["start"],
                "s",
            )
        if "start" in stamps and "ready" in stamps:
            report(
                "faust: 'Worker Starting' -> 'Worker ready'", stamps["ready"] - stamps["start"], "s"
            )
    finally:
        t1 = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        try:
            rc = worker.wait(30)
            report("faust: SIGTERM -> exit", time.monotonic() - t1, f"s (rc={rc})")
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
            report("faust: SIGTERM -> exit", "did not exit in 30 s, killed")
        consumer.close()
        shutil.rmtree(appdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--faust-records", type=int, default=1000)
    parser.add_argument("--keep-logs", type=Path, default=None)
    parser.add_argument("--faust-session-timeout", type=float, default=6.0)
    parser.add_argument(
        "--broker", choices=("kafka", "tansu"), default="kafka",
        help="kafka: a fresh Apache Kafka from the jar cache; tansu: the embedded broker",
    )  # fmt: skip
    args = parser.parse_args()
    logs = args.keep_logs or Path(tempfile.mkdtemp(prefix="kraft-verify-"))
    logs.mkdir(parents=True, exist_ok=True)
    n = args.records

    t0 = time.monotonic()
    if args.broker == "tansu":
        from streams.broker import EmbeddedBroker

        cm = EmbeddedBroker(log_file=logs / "tansu.log")
    else:
        cm = start_kraft(workdir=logs / "broker")
    with cm as broker:
        report(
            f"broker ({args.broker}): start call -> Metadata answered", time.monotonic() - t0, "s"
        )
        bs = broker.bootstrap
        admin = KafkaAdminClient(bootstrap_servers=bs, request_timeout_ms=10000)
        tag = uuid.uuid4().hex[:6]
        one, four = f"one-{tag}", f"four-{tag}"
        t = time.monotonic()
        admin.create_topics([NewTopic(one, 1, 1), NewTopic(four, 4, 1)])
        report("admin: create 2 topics (1 and 4 partitions)", time.monotonic() - t, "s")
        parts = {d["name"]: len(d["partitions"]) for d in admin.describe_topics([one, four])}
        report("admin: partitions as requested", str(parts == {one: 1, four: 4}))

        dt = produce(bs, one, n, partition=0)
        report(f"kafka-python producer, linger_ms=5, {n} records", n / dt, "records/s")
        c = KafkaConsumer(bootstrap_servers=bs)
        tp = TopicPartition(one, 0)
        report("end offset after producing", f"{c.end_offsets([tp])[tp]} (expected {n})")
        c.close()

        for name, run in (("kafka-python", kafka_python_group), ("aiokafka", aiokafka_group)):
            count, first, total = run(bs, one, n)
            report(f"{name} group: records received (60 s budget)", f"{count}/{n}")
            if count:
                report(f"{name} group: subscribe -> first record", first, "s")
                report(f"{name} group: subscribe -> record {count}", total, "s")
        time_lookup(bs, admin)

        faust_relay(bs, admin, args.faust_records, logs, args.faust_session_timeout)
        admin.close()
        t = time.monotonic()
    report("broker: stop (SIGTERM -> exit)", time.monotonic() - t, "s")
    print(f"logs: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
