"""Send CoT events to one TAK server or device over TCP, TLS or UDP.

A TAK link in the field drops often (radio backhaul, a server restart). The sender keeps
what it could not write in a bounded queue and, after reconnecting with exponential
back-off and jitter, writes it in the original order. TCP gives the application no
receipt, so events written in the last ``resend_window_s`` before a lost connection is
noticed are written again: a TAK client keeps the newest event per ``uid``, so a repeat
is harmless while a gap is not. UDP (ATAK mesh SA, a device on the LAN) has no
connection: datagrams are sent once, and an ICMP error is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections import deque
from typing import Any

from streams import metrics as M
from streams.delivery.backoff import backoff_delay
from streams.delivery.config import TakTarget

log = logging.getLogger(__name__)
CHANNEL = "tak"


def ssl_context(target: TakTarget) -> ssl.SSLContext:
    """Client TLS for a TAK server: its CA, and our client certificate if configured
    (TAK Server's default 8089 port requires one; convert a ``.p12`` to PEM first)."""
    ctx = ssl.create_default_context(cafile=str(target.cafile) if target.cafile else None)
    ctx.check_hostname = target.check_hostname
    if target.certfile:
        ctx.load_cert_chain(
            str(target.certfile),
            str(target.keyfile) if target.keyfile else None,
            password=target.key_password,
        )
    return ctx


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, sender: TakSender) -> None:
        self.sender = sender

    def error_received(self, exc: Exception) -> None:
        self.sender.failures += 1
        M.DELIVERY_FAILURES.labels(CHANNEL).inc()
        log.warning(
            "TAK UDP send error", extra={"target": self.sender.target.name, "error": repr(exc)}
        )


class TakSender:
    """One target's connection, queue and retry loop. ``send`` never blocks."""

    def __init__(self, target: TakTarget, rng: random.Random | None = None) -> None:
        self.target = target
        self.queue: deque[bytes] = deque()
        self.sent = 0
        self.dropped = 0
        self.failures = 0
        self.connects = 0
        self.connected = asyncio.Event()
        self._inflight: deque[tuple[float, bytes]] = deque()
        self._wake = asyncio.Event()
        self._lost = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._rng = rng or random.Random()
        self._gauge = M.DELIVERY_QUEUE.labels(CHANNEL, target.name)

    # -- public -------------------------------------------------------------------------
    def send(self, event: bytes) -> None:
        """Queue one CoT event; when the queue is full the oldest is dropped (and
        counted): on a map, the newest picture matters more than an old one."""
        if len(self.queue) >= self.target.queue_max:
            self.queue.popleft()
            self.dropped += 1
            M.DELIVERY_FAILURES.labels(CHANNEL).inc()
        self.queue.append(event)
        self._gauge.set(len(self.queue))
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"tak-{self.target.name}")

    async def stop(self, drain_s: float = 2.0) -> None:
        """Give queued events ``drain_s`` to go out, then close."""
        deadline = time.monotonic() + drain_s
        while self.queue and self.connected.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """True once everything queued has been written (for tests and shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self.queue and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return not self.queue

    # -- loops --------------------------------------------------------------------------
    async def _run(self) -> None:
        if self.target.protocol == "udp":
            await self._run_udp()
        else:
            await self._run_stream()

    async def _next(self) -> bytes | None:
        """The head of the queue, waiting for one; ``None`` if the link was lost."""
        while not self.queue:
            if self._lost.is_set() or self._stopping:
                return None
            self._wake.clear()
            await self._wake.wait()
        return None if self._lost.is_set() else self.queue[0]

    async def _run_udp(self) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        while not self._stopping:
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Udp(self), remote_addr=(self.target.host, self.target.port)
                )
            except OSError as exc:
                await self._failed_connect(attempt, exc)
                attempt += 1
                continue
            attempt = 0
            self.connected.set()
            try:
                while not self._stopping:
                    event = await self._next()
                    if event is None:
                        break
                    transport.sendto(event)
                    self.queue.popleft()
                    self._gauge.set(len(self.queue))
                    self.sent += 1
                    M.DELIVERIES.labels(CHANNEL).inc()
            finally:
                self.connected.clear()
                transport.close()

    async def _run_stream(self) -> None:
        t = self.target
        ctx = ssl_context(t) if t.protocol == "tls" else None
        attempt = 0
        while not self._stopping:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(t.host, t.port, ssl=ctx), t.connect_timeout_s
                )
            except (TimeoutError, OSError, ssl.SSLError) as exc:
                await self._failed_connect(attempt, exc)
                attempt += 1
                continue
            attempt = 0
            self.connects += 1
            self._lost.clear()
            self.connected.set()
            log.info("TAK connected", extra={"target": t.name, "queued": len(self.queue)})
            watcher = asyncio.create_task(self._watch(reader))
            try:
                await self._pump(writer)
            except (OSError, ConnectionError) as exc:
                self._on_lost(exc)
            finally:
                self.connected.clear()
                watcher.cancel()
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _pump(self, writer: asyncio.StreamWriter) -> None:
        while not self._stopping:
            event = await self._next()
            if event is None:
                if self._lost.is_set():
                    raise ConnectionResetError("TAK peer closed the connection")
                return
            writer.write(event)
            await writer.drain()
            if self._lost.is_set():  # the peer's FIN arrived while we wrote
                raise ConnectionResetError("TAK peer closed the connection")
            self.queue.popleft()
            self._gauge.set(len(self.queue))
            now = time.monotonic()
            self._inflight.append((now, event))
            while self._inflight and now - self._inflight[0][0] > self.target.resend_window_s:
                self._inflight.popleft()
            self.sent += 1
            M.DELIVERIES.labels(CHANNEL).inc()

    async def _watch(self, reader: asyncio.StreamReader) -> None:
        """Read and discard what the server sends (pings, others' CoT) to notice EOF."""
        try:
            while await reader.read(65536):
                pass
        except (OSError, ConnectionError):
            pass
        self._lost.set()
        self._wake.set()

    def _on_lost(self, exc: BaseException) -> None:
        """Put the events of the resend window back at the head of the queue, in order."""
        now = time.monotonic()
        recent = [e for ts, e in self._inflight if now - ts <= self.target.resend_window_s]
        self._inflight.clear()
        self.queue.extendleft(reversed(recent))
        while len(self.queue) > self.target.queue_max:
            self.queue.popleft()
            self.dropped += 1
        self._gauge.set(len(self.queue))
        self.failures += 1
        M.DELIVERY_FAILURES.labels(CHANNEL).inc()
        log.warning(
            "TAK connection lost",
            extra={"target": self.target.name, "error": repr(exc), "requeued": len(recent)},
        )

    async def _failed_connect(self, attempt: int, exc: BaseException) -> None:
        self.failures += 1
        M.DELIVERY_FAILURES.labels(CHANNEL).inc()
        delay = backoff_delay(
            attempt, self.target.backoff_base_s, self.target.backoff_max_s, self._rng
        )
        log.warning(
            "TAK connect failed",
            extra={"target": self.target.name, "error": repr(exc), "retry_in_s": delay},
        )
        await asyncio.sleep(delay)

    def stats(self) -> dict[str, Any]:
        return {
            "target": self.target.name,
            "queued": len(self.queue),
            "sent": self.sent,
            "dropped": self.dropped,
            "failures": self.failures,
            "connected": self.connected.is_set(),
        }
