"""Role ``archive``: copy every ``readings.*``, ``alerts`` and ``alerts.acks`` record into the
archive store.

A plain aiokafka consumer in its own group (``<app_id>-archive``) rather than a Faust
agent, because the guarantee needs control of the commit: a batch is appended and
fsynced first, then its offsets are committed. On assignment each partition is sought to
the store's own high-water offset + 1, so even a commit lost in a crash costs nothing: the
store, not the group, is the source of truth, and a redelivered record is skipped by
offset. Net effect: a worker killed mid-write loses nothing and duplicates nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from streams import metrics as M
from streams.archive.store import ARCHIVED_TOPICS, ArchiveRecord, ArchiveStore
from streams.kafka_security import client_options
from streams.settings import Settings
from streams.topics import READINGS

log = logging.getLogger(__name__)

RETENTION_EVERY_S = 3600.0


async def _in_thread(fn: Any, *args: Any) -> Any:
    """Run a blocking store call in a thread; a cancellation waits for it to finish, so
    ``seal()``/``close()`` in the ``finally`` never run alongside a write."""
    fut = asyncio.get_running_loop().run_in_executor(None, fn, *args)
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        await asyncio.wait([fut])
        raise


def retention_days(settings: Settings) -> dict[str, float]:
    out = {t: settings.archive_retention_days for t in ARCHIVED_TOPICS}
    if settings.archive_readings_retention_days > 0:
        out.update({t: settings.archive_readings_retention_days for t in READINGS})
    return out


async def run_archiver(
    settings: Settings, stop: asyncio.Event | None = None, max_records: int = 5000
) -> None:
    """Consume and archive until ``stop`` is set (or the task is cancelled)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.abc import ConsumerRebalanceListener
    from aiokafka.errors import CommitFailedError, KafkaError

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    store = await loop.run_in_executor(
        None, lambda: ArchiveStore(settings.archive_path, segment_s=settings.archive_segment_s)
    )
    names = {settings.topic(t): t for t in ARCHIVED_TOPICS}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.app_id}-archive",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(settings.broker_session_timeout_s * 1000),
        heartbeat_interval_ms=int(settings.broker_heartbeat_interval_s * 1000),
        metadata_max_age_ms=5000,
        **client_options(settings),
    )

    class ResumeFromStore(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: Any) -> None:
            return None

        async def on_partitions_assigned(self, assigned: Any) -> None:
            for tp in assigned:
                nxt = store.next_offset(names[tp.topic], tp.partition)
                if nxt is not None:
                    consumer.seek(tp, nxt)

    consumer.subscribe(topics=list(names), listener=ResumeFromStore())
    await consumer.start()
    log.info(
        "archive consumer started",
        extra={"root": str(settings.archive_path), "repair": vars(store.repair)},
    )
    last_retention = 0.0
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=1000, max_records=max_records)
            records, commit = [], {}
            for tp, msgs in batches.items():
                for m in msgs:
                    records.append(
                        ArchiveRecord.from_kafka(
                            names[tp.topic], tp.partition, m.offset, m.timestamp, m.key, m.value
                        )
                    )
                if msgs:
                    commit[tp] = msgs[-1].offset + 1
            if records:
                stored = await _in_thread(store.append, records)  # fsynced on return
                if stored < len(records):  # the store's offsets said these are already in
                    log.info(
                        "archive skipped redelivered records",
                        extra={"skipped": len(records) - stored},
                    )
                try:
                    await consumer.commit(commit)
                except (CommitFailedError, KafkaError) as exc:  # rebalanced: store resumes us
                    log.warning("archive commit failed", extra={"error": repr(exc)})
            now = time.time()
            await _in_thread(store.close_due, now)
            if now - last_retention > RETENTION_EVERY_S:
                last_retention = now
                await _in_thread(store.apply_retention, retention_days(settings), now)
            for name in ARCHIVED_TOPICS:
                ts = store.durable_ts(name)
                if ts is not None:
                    M.ARCHIVE_LAG.labels(name).set(max(0.0, now - ts))
    finally:
        # a clean stop seals the open segments, so `archive verify` covers every record
        # stored so far; after a crash they stay open and the next start repairs them
        try:
            await consumer.stop()
        finally:
            sealed = store.seal()
            store.close()
            log.info("archive consumer stopped", extra={"sealed": len(sealed)})


def register(handle: Any) -> None:
    """Run the archiver as a task of the worker's Faust app."""
    app, settings = handle.app, handle.settings

    @app.task
    async def archive() -> None:
        await run_archiver(settings)
