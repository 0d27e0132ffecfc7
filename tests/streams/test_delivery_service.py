"""The delivery service on a real broker: alerts and tracks produced on Kafka reach a TAK
listener and webhooks, each alert version once, a redelivered record is not sent twice,
a dead endpoint's alerts land on ``deadletter``, and a restart resumes after what it
committed."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from kafka import KafkaProducer

from fusion.types import Alert, TrackUpdate
from streams import topics as T
from streams.delivery import cot
from streams.delivery.config import AlertFilter, DeliveryConfig, TakTarget, WebhookTarget
from streams.delivery.service import DeliveryService
from streams.settings import Settings
from tests.kafka_utils import TopicReader
from tests.streams.test_delivery_tak import Listener
from tests.streams.test_delivery_webhooks import SECRET, Receiver

pytestmark = [pytest.mark.broker, pytest.mark.slow]
T0 = 1_718_000_000.0


def alert(aid: str, t_last: float, status: str = "open", severity: str = "high") -> dict[str, Any]:
    return Alert(
        alert_id=aid,
        rule="dark_vessel",
        severity=severity,
        score=0.9,
        status=status,
        t_first=T0,
        t_last=t_last,
        lat=51.9,
        lon=23.7,
        sector="s3",
        zone_id="river",
        track_ids=["s3-T2"],
        summary=f"{aid} at {t_last}",
        evidence={},
    ).to_dict()


def track(tid: str, t: float) -> dict[str, Any]:
    return TrackUpdate(
        track_id=tid,
        t=t,
        lat=51.9,
        lon=23.7,
        vel_e=2.0,
        vel_n=0.0,
        cov=[[25.0, 0, 0, 0], [0, 25.0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
        status="confirmed",
        sources=["R1"],
        sector="s3",
        classification="boat",
    ).to_dict()


def produce(bootstrap: str, topic: str, items: list[tuple[str, Any]]) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for key, value in items:
        p.send(topic, key=key.encode(), value=json.dumps(value).encode())
    p.flush()
    p.close()


async def wait_until(pred: Any, timeout_s: float = 45.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def test_alerts_on_kafka_reach_tak_and_webhooks_once_per_version(kafka_bootstrap, topic_prefix):
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        app_id=topic_prefix + "app",
        partitions=2,
        broker_session_timeout_s=6.0,
        broker_heartbeat_interval_s=1.0,
    )
    T.ensure_topics(settings)
    alerts_topic, tracks_topic = settings.topic(T.ALERTS), settings.topic(T.TRACKS)

    first = [
        ("s3:aa", alert("s3:aa", T0)),
        ("s3:aa", alert("s3:aa", T0)),  # the same version published again
        ("s3:bb", alert("s3:bb", T0 + 1, severity="low")),
        ("s3:aa", alert("s3:aa", T0 + 5)),  # refreshed
        ("s3:aa", alert("s3:aa", T0 + 5, status="acknowledged")),  # acked, same t_last
        ("s3:aa", alert("s3:aa", T0 + 5, status="acknowledged")),  # redelivered
    ]

    async def run_phase(
        items: list[tuple[str, Any]], n_tak: int, n_hook: int, tracks: list[Any] | None = None
    ) -> tuple[Listener, Receiver, Any]:
        lis = await Listener().start()
        rx = await Receiver(statuses=[500]).start()  # the first post fails once
        dead_rx = await Receiver(default=500).start()
        cfg = DeliveryConfig(
            tak=(
                TakTarget(
                    name="tak", host="127.0.0.1", port=lis.port, tracks=True, backoff_base_s=0.05
                ),
            ),
            webhooks=(
                WebhookTarget(name="ops", url=rx.url, secret=SECRET, backoff_base_s=0.01),
                WebhookTarget(
                    name="dead",
                    url=dead_rx.url,
                    secret=SECRET,
                    attempts=2,
                    backoff_base_s=0.01,
                    filters=AlertFilter(min_severity="high", statuses=frozenset({"open"})),
                ),
            ),
            track_min_interval_s=0.0,
        )
        service = DeliveryService(settings, cfg)
        ready = asyncio.Event()
        task = asyncio.create_task(service.run(ready))
        await asyncio.wait_for(ready.wait(), 30)
        await asyncio.to_thread(produce, kafka_bootstrap, alerts_topic, items)
        if tracks:
            await asyncio.to_thread(produce, kafka_bootstrap, tracks_topic, tracks)
        ok = lambda: [r for r in rx.requests if r["valid"]]  # noqa: E731
        await wait_until(
            lambda: (
                len(lis.events) >= n_tak
                and len(ok()) >= n_hook + 1
                and service.hooks[1].dead_lettered >= (2 if n_hook > 1 else 0)
            )
        )
        await asyncio.sleep(1.0)  # anything extra (a duplicate) would show up by now
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await lis.stop()
        await rx.stop()
        await dead_rx.stop()
        return lis, rx, service

    lis, rx, service = asyncio.run(
        run_phase(
            first, n_tak=6, n_hook=4, tracks=[("s3", [track("s3-T2", T0 + 2), track("s3-T9", T0)])]
        )
    )

    alert_events = [e for e in lis.events if cot.uids([e])[0].startswith("borderfusion.alert.")]
    track_events = [e for e in lis.events if cot.uids([e])[0].startswith("borderfusion.track.")]
    assert len(alert_events) == 4 and len(track_events) == 2
    stamps = [(cot.uids([e])[0], e.count(b"acknowledged") > 0) for e in alert_events]
    aa = [s for s in stamps if s[0].endswith("s3:aa")]
    assert aa == [("borderfusion.alert.s3:aa", False)] * 2 + [("borderfusion.alert.s3:aa", True)]
    assert sorted(cot.uids(track_events)) == [
        "borderfusion.track.s3-T2",
        "borderfusion.track.s3-T9",
    ]

    keys = [r["headers"]["Idempotency-Key"] for r in rx.requests if r["valid"]]
    # 5 posts: the first failed with a 500 and was retried, then one per alert version
    assert len(keys) == 5 and keys[0] == keys[1]
    assert len(set(keys)) == 4
    assert service.counts["duplicates"] == 2

    # the always-failing subscription saw the two open high versions of s3:aa, and each
    # became exactly one dead letter on the real topic
    dl = TopicReader(kafka_bootstrap, settings.topic(T.DEADLETTER))
    try:
        recs = dl.wait_for(lambda v: len(v) >= 2, timeout_s=20)
    finally:
        dl.close()
    assert len(recs) == 2
    assert {r["source"] for r in recs} == {"webhook"}
    assert {r["reason"] for r in recs} == {"retries_exhausted"}
    assert sorted(json.loads(r["raw"])["alert"]["t_last"] for r in recs) == [T0, T0 + 5]

    # a new service in the same group resumes after its committed offsets: only the new
    # alert version is delivered, nothing from the first phase again
    lis2, rx2, _ = asyncio.run(
        run_phase([("s3:bb", alert("s3:bb", T0 + 9, severity="low"))], n_tak=1, n_hook=1)
    )
    assert len(lis2.events) == 1
    assert b"s3:bb" in lis2.events[0]
    assert [json.loads(r["body"])["alert"]["t_last"] for r in rx2.requests if r["valid"]] == [
        T0 + 9,
        T0 + 9,
    ]


def test_worker_with_the_delivery_role_delivers_to_tak(kafka_bootstrap, topic_prefix, tmp_path):
    """The real path: ``borderfusion worker --role delivery`` runs the service as a Faust
    task in the worker's event loop."""
    from tests.kafka_utils import start_worker, stop_process

    sensors = tmp_path / "sensors.yaml"  # the worker loads a registry whatever its role
    sensors.write_text("sensors:\n  - {id: A1, type: ais, lat: 51.9, lon: 23.7, height_m: 5}\n")
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        app_id=topic_prefix + "app",
        partitions=2,
    )
    T.ensure_topics(settings)

    async def main() -> list[bytes]:
        lis = await Listener().start()
        delivery = tmp_path / "delivery.yaml"
        delivery.write_text(f"tak:\n  - {{name: tak, host: 127.0.0.1, port: {lis.port}}}\n")
        proc = start_worker(
            kafka_bootstrap,
            topic_prefix,
            {
                "BORDERFUSION_SENSORS_FILE": str(sensors),
                "BORDERFUSION_DELIVERY_FILE": str(delivery),
                "BORDERFUSION_DATA_DIR": str(tmp_path / "var"),
            },
            ["delivery"],
            tmp_path / "w.log",
        )
        try:
            await asyncio.to_thread(
                produce,
                kafka_bootstrap,
                settings.topic(T.ALERTS),
                [
                    ("s3:cc", alert("s3:cc", T0)),
                    ("s3:cc", alert("s3:cc", T0 + 3, status="resolved")),
                ],
            )
            await wait_until(lambda: len(lis.events) >= 2, timeout_s=90)
        finally:
            await asyncio.to_thread(stop_process, proc)
            await lis.stop()
        return lis.events

    events = asyncio.run(main())
    assert cot.uids(events) == ["borderfusion.alert.s3:cc"] * 2
    assert b'status="resolved"' in events[1]
