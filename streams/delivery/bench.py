"""Delivery throughput on loopback: ``python -m streams.delivery.bench``.

Encodes CoT, pushes events through a :class:`TakSender` to a local asyncio listener and
posts webhooks to a local aiohttp receiver; prints one line per figure (docs/delivery.md).
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from fusion.types import Alert, TrackUpdate
from streams.delivery import cot
from streams.delivery.config import TakTarget, WebhookTarget
from streams.delivery.tak import TakSender
from streams.delivery.webhooks import WebhookDispatcher

T0 = 1_718_000_000.0


def _alert(t_last: float = T0) -> Alert:
    return Alert(
        alert_id="s1:bench",
        rule="border_crossing",
        severity="high",
        score=0.8,
        status="open",
        t_first=T0,
        t_last=t_last,
        lat=51.5,
        lon=23.6,
        sector="s1",
        zone_id="b1",
        track_ids=["s1-T1"],
        summary="Person crossed the border",
        evidence={},
    )


def _track() -> TrackUpdate:
    return TrackUpdate(
        track_id="s1-T1",
        t=T0,
        lat=51.5,
        lon=23.6,
        vel_e=1.0,
        vel_n=0.5,
        cov=[[9.0, 0, 0, 0], [0, 9.0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
        status="confirmed",
        sources=["R1"],
        sector="s1",
        classification="person",
    )


def bench_encode(n: int = 20_000) -> None:
    a, tr = _alert(), _track()
    t = time.perf_counter()
    for _ in range(n):
        cot.alert_to_cot(a, T0)
    da = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(n):
        cot.track_to_cot(tr, T0)
    dt = time.perf_counter() - t
    print(
        f"alert_to_cot {n / da:,.0f} events/s ({len(cot.alert_to_cot(a, T0))} B); "
        f"track_to_cot {n / dt:,.0f} events/s"
    )


async def bench_tak(n: int = 20_000) -> None:
    received = 0
    done = asyncio.Event()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        buf = b""
        while chunk := await reader.read(65536):
            events, buf = cot.split_stream(buf + chunk)
            received += len(events)
            if received >= n:
                done.set()

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = TakSender(TakTarget(name="bench", host="127.0.0.1", port=port, queue_max=n))
    await sender.start()
    await sender.connected.wait()
    event = cot.track_to_cot(_track(), T0)
    t = time.perf_counter()
    for _ in range(n):
        sender.send(event)
    await asyncio.wait_for(done.wait(), 120)
    el = time.perf_counter() - t
    print(f"TAK TCP loopback {n / el:,.0f} events/s")
    await sender.stop()
    server.close()


async def bench_webhook(n: int = 500) -> None:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def sink(record: dict) -> None:
        raise RuntimeError(f"unexpected dead letter {record}")

    d = WebhookDispatcher(
        WebhookTarget(name="bench", url=f"http://127.0.0.1:{port}/", secret="x"), sink
    )
    t = time.perf_counter()
    for i in range(n):
        await d.deliver(_alert(T0 + i))
    el = time.perf_counter() - t
    print(f"webhook loopback, sequential {n / el:,.0f} posts/s ({1000 * el / n:.2f} ms each)")
    await d.stop()
    await runner.cleanup()


def main() -> None:
    bench_encode()
    asyncio.run(bench_tak())
    asyncio.run(bench_webhook())


if __name__ == "__main__":
    main()
