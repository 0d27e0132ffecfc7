"""The workers' consumers take their fetch wait from our settings, not Faust's fixed 1.5 s."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
