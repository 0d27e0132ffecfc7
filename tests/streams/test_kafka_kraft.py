"""Apache Kafka 4.x (KRaft) answers what the embedded Tansu gets wrong.

Tansu (memory storage) answered ListOffsets(latest)=848 after 1000 records and
``offsets_for_times`` -> offset 0 with timestamp -1, and its kafka-python group consumer
received nothing (docs/kafka.md). Consumer lag, replay-by-time and group consumption are
production behaviours, so these checks run against the real broker production uses.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from tests.kafka_kraft import KraftBroker, start_kraft

pytestmark = [pytest.mark.broker, pytest.mark.slow]

N_RECORDS = 1000
STEP_MS = 10


@pytest.fixture(scope="module")
def kraft(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KraftBroker]:
    with start_kraft(workdir=tmp_path_factory.mktemp("kraft")) as broker:
        yield broker


@pytest.fixture(scope="module")
def admin(kraft: KraftBroker) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=kraft.bootstrap, request_timeout_ms=10000)
    yield client
    client.close()


def _new_topic(admin: KafkaAdminClient, partitions: int) -> str:
    name = f"kraft-{uuid.uuid4().hex[:10]}"
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    return name


@pytest.fixture(scope="module")
def filled(kraft: KraftBroker, admin: KafkaAdminClient) -> tuple[str, int]:
    """A 2-partition topic: 1000 records on p0 with timestamps base + 10 ms * i, 7 on p1."""
    topic = _new_topic(admin, 2)
    base_ms = int(time.time() * 1000) - 3_600_000  # in the past: Kafka 4 refuses far-future stamps
    producer = KafkaProducer(bootstrap_servers=kraft.bootstrap, linger_ms=5)
    for i in range(N_RECORDS):
        producer.send(
            topic, value=f"r{i}".encode(), partition=0, timestamp_ms=base_ms + STEP_MS * i
        )
    for i in range(7):
        producer.send(topic, value=f"q{i}".encode(), partition=1)
    producer.flush(30)
    producer.close()
    return topic, base_ms


def test_topic_created_with_explicit_partition_count(admin: KafkaAdminClient) -> None:
    topic = _new_topic(admin, 3)
    (described,) = admin.describe_topics([topic])
    assert described["error_code"] == 0
    assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1, 2]


def test_end_offsets_count_every_record(kraft: KraftBroker, filled: tuple[str, int]) -> None:
    topic, _ = filled
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    consumer = KafkaConsumer(bootstrap_servers=kraft.bootstrap)
    try:
        assert consumer.beginning_offsets([p0, p1]) == {p0: 0, p1: 0}
        assert consumer.end_offsets([p0, p1]) == {p0: N_RECORDS, p1: 7}  # Tansu: p0 -> 848
    finally:
        consumer.close()


def test_offsets_for_times_finds_the_first_record_at_or_after(
    kraft: KraftBroker, filled: tuple[str, int]
) -> None:
    topic, base_ms = filled
    p0 = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=kraft.bootstrap)
    try:
        exact = consumer.offsets_for_times({p0: base_ms + 500 * STEP_MS})[p0]
        between = consumer.offsets_for_times({p0: base_ms + 500 * STEP_MS + 1})[p0]
        after_last = consumer.offsets_for_times({p0: base_ms + N_RECORDS * STEP_MS})[p0]
    finally:
        consumer.close()
    assert (exact.offset, exact.timestamp) == (500, base_ms + 500 * STEP_MS)  # Tansu: (0, -1)
    assert (between.offset, between.timestamp) == (501, base_ms + 501 * STEP_MS)
    assert after_last is None


def test_assign_and_seek_reads_from_the_offset(kraft: KraftBroker, filled: tuple[str, int]) -> None:
    topic, base_ms = filled
    p0 = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=kraft.bootstrap, enable_auto_commit=False)
    consumer.assign([p0])
    consumer.seek(p0, 995)
    got: list = []
    deadline = time.monotonic() + 20
    try:
        while len(got) < 5 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(records)
    finally:
        consumer.close()
    assert [(r.offset, r.value, r.timestamp) for r in got] == [
        (i, f"r{i}".encode(), base_ms + STEP_MS * i) for i in range(995, 1000)
    ]


def test_kafka_python_group_consumer_receives_and_commits(
    kraft: KraftBroker, filled: tuple[str, int]
) -> None:
    topic, _ = filled
    group = f"g-{uuid.uuid4().hex[:8]}"
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kraft.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    seen: dict[int, int] = {0: 0, 1: 0}
    deadline = time.monotonic() + 30
    try:
        while sum(seen.values()) < N_RECORDS + 7 and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                seen[tp.partition] += len(records)
        consumer.commit()
        committed = {p: consumer.committed(TopicPartition(topic, p)) for p in (0, 1)}
    finally:
        consumer.close()
    assert seen == {0: N_RECORDS, 1: 7}  # Tansu: nothing within 8 s
    assert committed == {0: N_RECORDS, 1: 7}


def test_aiokafka_group_consumer_receives_everything(
    kraft: KraftBroker, filled: tuple[str, int]
) -> None:
    from aiokafka import AIOKafkaConsumer

    topic, _ = filled

    async def consume() -> int:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kraft.bootstrap,
            group_id=f"ag-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
        )
        await consumer.start()
        count = 0
        try:
            async with asyncio.timeout(30):
                while count < N_RECORDS + 7:
                    batches = await consumer.getmany(timeout_ms=500)
                    count += sum(len(b) for b in batches.values())
        finally:
            await consumer.stop()
        return count

    assert asyncio.run(consume()) == N_RECORDS + 7


def test_stop_removes_the_data_and_ends_the_process(tmp_path: Path) -> None:
    broker = start_kraft(workdir=tmp_path / "own")
    assert (broker.workdir / "data" / "meta.properties").is_file()
    broker.stop()
    assert broker.process.poll() is not None
    assert not (broker.workdir / "data").exists()
    assert "Kafka Server started" in broker.log_file.read_text()
