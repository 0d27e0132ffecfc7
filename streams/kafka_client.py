"""Faust's aiokafka transport with the consumer's fetch wait taken from our settings, a seek
after rebalances that also covers partitions without a commit
(:func:`seek_to_committed_or_beginning`), and the producer's compression level
(:func:`set_compression_level`).

faust-streaming hard-codes ``fetch_max_wait_ms=1500`` for worker consumers. Apache Kafka
answers a fetch as soon as one byte is there (``fetch_min_bytes=1``), so there the value only
paces idle polling; a broker that holds a fetch for its whole wait when the data arrives on
another partition (measured on Tansu: ingest hop p50 583 ms at 200 readings/s against 166 ms on
Kafka, docs/performance.md "Round 7") turns it into up to 1.5 s of latency per hop. A short
wait bounds that on every broker at the cost of a few more empty fetches per second.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_max_wait_ms: int = 1500

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # read by AIOKafkaConsumer.start() when it builds its Fetcher (aiokafka 0.8–0.12)
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer

    async def seek_to_committed(self) -> Mapping[Any, int]:
        return await self.call_thread(self._seek_to_committed_or_beginning)

    async def _seek_to_committed_or_beginning(self) -> Mapping[Any, int]:
        return await seek_to_committed_or_beginning(
            self._ensure_consumer(), skip_topics=self.app.tables.changelog_topics)


async def seek_to_committed_or_beginning(consumer: Any, skip_topics: Set[str] = frozenset()
                                         ) -> Mapping[Any, int]:
    """Seek every assigned partition of an aiokafka group consumer back to its committed
    offset -- and one that has none yet to its beginning, which aiokafka leaves where its
    fetcher was. Returns the committed offsets (``None``: none), as aiokafka's does.

    After a rebalance Faust drops the records its queues held (to be read again from the
    committed offsets) and then seeks. aiokafka's ``seek_to_committed`` skips a partition
    whose committed offset is missing or 0, so such a partition went on *after* the dropped
    records: measured on Apache Kafka, two workers starting under load lost the first 974
    records (6 815 readings) of one readings partition, most likely fetched while the new
    assignment's tables recovered (docs/streaming.md "Rebalances"; faust-streaming #216 is
    the same gap with a commit). From the beginning a record is at worst read twice, which
    the pipeline recognises (redelivery by source offset). ``skip_topics``: Faust's table
    changelogs, which its recovery positions itself."""
    committed: Mapping[Any, int] = await consumer.seek_to_committed()
    fresh = [tp for tp, offset in committed.items() if not offset and tp.topic not in skip_topics]
    if fresh:
        await consumer.seek_to_beginning(*fresh)
    return committed


def app_class(fetch_max_wait_s: float) -> type[faust.App]:
    """A ``faust.App`` subclass whose worker consumers wait at most ``fetch_max_wait_s`` per
    fetch."""
    wait_ms = max(1, round(fetch_max_wait_s * 1000))
    thread = type("ConsumerThread", (_ConsumerThread,), {"fetch_max_wait_ms": wait_ms})

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> Any:
            return thread(self, loop=self.loop, beacon=self.beacon)

    class Transport(faust_aiokafka.Transport):
        pass

    Transport.Consumer = Consumer

    class App(faust.App):
        def _new_transport(self) -> Any:
            return Transport(self.conf.broker_consumer, self)

    return App


# aiokafka's encoders, by codec, in every module that builds record batches (the Cython
# builders look the names up in their own module globals at each call)
_BATCH_MODULES = (
    "aiokafka.record.default_records",
    "aiokafka.record.legacy_records",
    "aiokafka.record._crecords.default_records",
    "aiokafka.record._crecords.legacy_records",
)
_LEVEL_PARAM = {"lz4_encode": "level", "zstd_encode": "level", "gzip_encode": "compresslevel"}


def set_compression_level(level: int | None, codec_name: str | None = None) -> None:
    """Compress produced batches at ``level`` (lz4, zstd, gzip; snappy has none).

    ``codec_name`` (the producer's codec): the level is tried on it at once, so a level the
    codec refuses (lz4 below 0, gzip above 9) is a startup error naming the setting, not
    a failure of every produce later.

    aiokafka has no producer setting for it and compresses lz4 at level 9 — LZ4 HC, ~10x
    the CPU of lz4's fast mode for ~15 % smaller batches — and gzip at 9: the producer's
    lz4 was 12 % of a saturated worker (docs/performance.md "Session 13"). Any level
    decodes the same everywhere (the frame format does not change). ``None`` restores
    aiokafka's own levels. Process-wide, as aiokafka's encoders are."""
    import functools
    import importlib

    from aiokafka import codec

    name = f"{codec_name}_encode"
    if level is not None and name in _LEVEL_PARAM:
        try:
            getattr(codec, name)(b'{"probe":1}' * 8, **{_LEVEL_PARAM[name]: level})
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"kafka_compression_level {level} is not a level {codec_name} "
                             f"takes ({exc})") from exc
    for module_name in _BATCH_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # the Cython builders are optional in aiokafka
            continue
        for encoder, param in _LEVEL_PARAM.items():
            if not hasattr(module, encoder):
                continue
            encode = getattr(codec, encoder)
            setattr(module, encoder,
                    encode if level is None else functools.partial(encode, **{param: level}))
