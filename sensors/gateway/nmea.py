"""UDP and TCP NMEA listeners: AIS receivers' sentences in, ``readings.ais`` out.

One ingest abstraction, many transports (as pyais' ``Stream`` with ``UDPReceiver`` and
``TCPConnection`` beside it): :class:`NmeaIngest` turns lines of one station into AIS
readings (DESIGN §8: ``{"sensor_id", "station_id", "t", "nmea"}``) and hands them to the
ingest core in small batches; :class:`UdpNmeaListener` and :class:`TcpNmeaListener` only
move bytes. Garbage (``$GPGGA…``, ``foobar``, a bad checksum) is dead-lettered by the core,
never fatal. A station is configured per listener, so each listener's credential may report
for that one AIS sensor only.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from sensors.gateway.auth import Credential
from sensors.gateway.core import IngestCore
from sensors.gateway.forward import ForwardError

log = logging.getLogger(__name__)

MAX_LINE = 4096


@dataclass(frozen=True, slots=True)
class ListenSpec:
    """``HOST:PORT=STATION`` from the command line."""

    host: str
    port: int
    station: str

    @classmethod
    def parse(cls, text: str) -> ListenSpec:
        addr, sep, station = text.partition("=")
        host, colon, port = addr.rpartition(":")
        if not sep or not station or not colon or not host or not port.isdigit():
            raise ValueError(f"expected HOST:PORT=STATION, got {text!r}")
        return cls(host.strip("[]"), int(port), station)


class NmeaIngest:
    """Lines from one station → AIS readings → the core, batched by count and time."""

    def __init__(
        self,
        core: IngestCore,
        station: str,
        transport: str,
        batch: int = 200,
        within_s: float = 0.05,
        max_queue: int = 100_000,
    ) -> None:
        self.core = core
        self.station = station
        self.transport = transport
        self.batch = batch
        self.within_s = within_s
        self.cred = Credential(name=f"nmea-{transport}:{station}", sensors=frozenset({station}))
        self.queue: asyncio.Queue[tuple[float, str]] = asyncio.Queue(max_queue)
        self.accepted = 0
        self.rejected = 0
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def feed_nowait(self, data: bytes) -> None:
        """Queue every line of ``data`` (a datagram may carry several); drop if full."""
        now = time.time()
        for line in data.decode("ascii", "replace").splitlines():
            line = line.strip()
            if line:
                try:
                    self.queue.put_nowait((now, line))
                except asyncio.QueueFull:
                    self.dropped += 1

    async def feed(self, line: bytes) -> None:
        """Queue one line, waiting when the queue is full (TCP back-pressure)."""
        text = line.decode("ascii", "replace").strip()
        if text:
            await self.queue.put((time.time(), text))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"nmea-{self.transport}")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            deadline = loop.time() + self.within_s
            while len(items) < self.batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    items.append(await asyncio.wait_for(self.queue.get(), timeout))
                except TimeoutError:
                    break
            readings = [
                {"sensor_id": self.station, "station_id": self.station, "t": t, "nmea": line}
                for t, line in items
            ]
            raws = [line for _, line in items]
            try:
                result = await loop.run_in_executor(
                    None,
                    functools.partial(
                        self.core.ingest,
                        "ais",
                        readings,
                        self.cred,
                        transport=f"nmea-{self.transport}",
                        raw=raws,
                    ),
                )
            except ForwardError:
                log.exception(
                    "AIS lines lost: kafka and spool both failed",
                    extra={"station": self.station, "lines": len(items)},
                )
                continue
            self.accepted += len(result.accepted)
            self.rejected += len(result.rejected)

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until queued lines were handed to the core (for shutdown and tests)."""
        deadline = time.monotonic() + timeout_s
        while not self.queue.empty() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(self.within_s * 2)

    async def stop(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


class NmeaListener(ABC):
    """A transport that feeds one :class:`NmeaIngest`."""

    def __init__(self, core: IngestCore, spec: ListenSpec) -> None:
        self.spec = spec
        self.ingest = NmeaIngest(core, spec.station, self.transport)
        self.port = spec.port

    transport = "nmea"

    async def start(self) -> None:
        self.ingest.start()
        await self._listen()
        log.info(
            "NMEA listener ready",
            extra={
                "transport": self.transport,
                "host": self.spec.host,
                "port": self.port,
                "station": self.spec.station,
            },
        )

    @abstractmethod
    async def _listen(self) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...

    async def stop(self) -> None:
        await self._close()
        await self.ingest.stop()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, ingest: NmeaIngest) -> None:
        self.ingest = ingest

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.ingest.feed_nowait(data[:65536])


class UdpNmeaListener(NmeaListener):
    """One datagram = one or more lines (receivers often send one sentence per packet)."""

    transport = "udp"
    _transport: asyncio.DatagramTransport | None = None

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self.ingest), local_addr=(self.spec.host, self.spec.port)
        )
        self.port = self._transport.get_extra_info("sockname")[1]

    async def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class TcpNmeaListener(NmeaListener):
    """Receivers connect and stream lines; a line over 4 KiB is cut and dead-lettered."""

    transport = "tcp"
    _server: asyncio.Server | None = None

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._client, self.spec.host, self.spec.port, limit=MAX_LINE
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        log.info("NMEA TCP client connected", extra={"peer": str(peer)})
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        await self.ingest.feed(exc.partial)
                    break
                except asyncio.LimitOverrunError as exc:
                    chunk = await reader.read(exc.consumed)
                    await self.ingest.feed(chunk[:MAX_LINE])
                    continue
                await self.ingest.feed(line)
        except ConnectionError:
            pass
        finally:
            writer.close()
            log.info("NMEA TCP client gone", extra={"peer": str(peer)})

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
