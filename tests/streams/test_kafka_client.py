"""The workers' consumers take their fetch wait from our settings, not Faust's fixed 1.5 s."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import faust
import pytest

from streams.app import create_app
from streams.settings import Settings


async def _worker_fetch_wait_ms(app: faust.App) -> int:
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        return int(consumer._fetch_max_wait_ms)
    finally:
        await consumer.stop()


@pytest.mark.parametrize("wait_s, expected_ms", [(0.05, 50), (0.2, 200)])
def test_worker_consumer_uses_the_configured_fetch_wait(
    tmp_path: Path, wait_s: float, expected_ms: int
) -> None:
    async def run() -> int:
        handle = create_app(Settings(kafka_fetch_max_wait_s=wait_s, data_dir=tmp_path), ("web",))
        return await _worker_fetch_wait_ms(handle.app)

    assert asyncio.run(run()) == expected_ms


def test_plain_faust_would_wait_one_and_a_half_seconds(tmp_path: Path) -> None:
    """The control: what the setting replaces (if Faust ever makes it configurable, this
    test says so and streams/kafka_client.py can go)."""

    async def run() -> int:
        app = faust.App("bf-control", broker="kafka://127.0.0.1:9", datadir=str(tmp_path),
                        autodiscover=False)
        return await _worker_fetch_wait_ms(app)

    assert asyncio.run(run()) == 1500


def _lz4_batch(values: list[bytes]) -> bytes:
    """An lz4 record batch as aiokafka's producer builds it (the Cython builder if present)."""
    from aiokafka.record.default_records import DefaultRecordBatchBuilder

    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=3, is_transactional=0,  # 3: lz4
        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 22)
    for i, value in enumerate(values):
        builder.append(i, timestamp=1_700_000_000_000 + i, key=b"sector-1", value=value,
                       headers=[])
    return bytes(builder.build())


def _observation_values() -> list[bytes]:
    import json
    import random

    rng = random.Random(7)
    return [json.dumps([{"obs_id": f"R{rng.randint(1, 99)}-{i}-{j}", "sensor_id": "R12",
                         "kind": "radar", "t": 1.7e9 + i + j / 80, "lat": 51.5 + rng.random() / 9,
                         "lon": 23.6 + rng.random() / 9, "cov_en": [[rng.random() * 99, 1.5],
                                                                  [1.5, rng.random() * 99]]}
                        for j in range(80)]).encode() for i in range(20)]


def test_workers_compress_lz4_in_fast_mode_and_any_client_reads_it(tmp_path: Path) -> None:
    """aiokafka compresses lz4 at level 9 (LZ4 HC, ~10x the CPU: 12 % of a saturated worker);
    a worker's app sets the fast level, and the batches still decode — with aiokafka (the
    workers) and kafka-python (gateways, tests, tools) — to the same records."""
    from aiokafka.record.default_records import DefaultRecordBatch as AioBatch
    from kafka.record.default_records import DefaultRecordBatch as KpBatch

    from streams import kafka_client

    values = _observation_values()
    try:
        kafka_client.set_compression_level(None)
        hc = _lz4_batch(values)
        create_app(Settings(data_dir=tmp_path), ("web",))  # default kafka_compression_level: 1
        fast = _lz4_batch(values)
    finally:
        kafka_client.set_compression_level(Settings().kafka_compression_level)
    # HC packs this JSON tighter: the two batches really were compressed differently
    assert len(hc) < len(fast) < sum(map(len, values)) // 2
    for batch in (hc, fast):
        assert [r.value for r in AioBatch(batch)] == values
        assert [bytes(r.value) for r in KpBatch(batch)] == values


@pytest.mark.parametrize("codec, level", [("gzip", 12), ("lz4", -1)])
def test_a_level_the_codec_refuses_is_a_startup_error(tmp_path: Path, codec: str,
                                                      level: int) -> None:
    """Not a failure of every produce once the worker runs."""
    from streams import kafka_client

    try:
        with pytest.raises(ValueError, match=f"kafka_compression_level {level} .*{codec}"):
            create_app(Settings(data_dir=tmp_path, kafka_compression=codec,
                                kafka_compression_level=level), ("web",))
    finally:
        kafka_client.set_compression_level(Settings().kafka_compression_level)


@pytest.mark.broker
def test_seek_back_covers_partitions_without_a_commit(kafka_bootstrap: str,
                                                      topic_prefix: str) -> None:
    """After a rebalance Faust seeks its partitions back to their committed offsets; a
    partition with no commit yet must go back to its beginning. aiokafka's own seek leaves
    it where the fetcher was, past records Faust had dropped (the control below): lost."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from kafka import KafkaProducer

    from streams.kafka_client import seek_to_committed_or_beginning
    from streams.topics import TopicSpec, ensure_topics

    topic = topic_prefix + "readings.radar"
    ensure_topics(Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix,
                           partitions=2), extra=[TopicSpec(topic_prefix + "skipped", 1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for p in (0, 1):
        for i in range(10):
            producer.send(topic, f"{p}-{i}".encode(), partition=p)
    for _ in range(3):
        producer.send(topic_prefix + "skipped", b"x", partition=0)
    producer.flush()
    producer.close()
    tp0, tp1, skipped = (TopicPartition(topic, 0), TopicPartition(topic, 1),
                         TopicPartition(topic_prefix + "skipped", 0))

    async def run() -> tuple[dict[Any, Any], dict[Any, int], dict[Any, int]]:
        consumer = AIOKafkaConsumer(topic, topic_prefix + "skipped",
                                    bootstrap_servers=kafka_bootstrap,
                                    group_id=topic_prefix + "g", enable_auto_commit=False,
                                    auto_offset_reset="earliest", session_timeout_ms=6000,
                                    heartbeat_interval_ms=1000)
        await consumer.start()
        try:
            seen = 0
            deadline = asyncio.get_running_loop().time() + 60
            while seen < 23 and asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                seen += sum(len(v) for v in batch.values())
            assert seen == 23
            await consumer.commit({tp0: 4})
            await consumer.seek_to_committed()  # aiokafka alone: tp1 and skipped stay at the end
            control = {tp: await consumer.position(tp) for tp in (tp0, tp1, skipped)}
            committed = await seek_to_committed_or_beginning(
                consumer, skip_topics={topic_prefix + "skipped"})
            after = {tp: await consumer.position(tp) for tp in (tp0, tp1, skipped)}
            return dict(committed), control, after
        finally:
            await consumer.stop()

    committed, control, after = asyncio.run(run())
    assert committed[tp0] == 4 and not committed[tp1]
    assert control == {tp0: 4, tp1: 10, skipped: 3}
    assert after == {tp0: 4, tp1: 0, skipped: 3}
