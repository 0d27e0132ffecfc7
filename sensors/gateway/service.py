"""Assemble a gateway from plain values and run it: spool, forwarder, core, HTTP, NMEA.

``streams/commands/gateway.py`` builds a :class:`GatewayConfig` from the settings and
calls :func:`serve`; tests use :class:`Gateway` directly (``start()`` in a background thread
with its own event loop, ``stop()``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import web

from sensors.gateway.auth import TokensFileError, TokenStore
from sensors.gateway.core import GatewayMetrics, IngestCore
from sensors.gateway.deadletters import DEFAULT_PER_S, DeadLetterBudget
from sensors.gateway.forward import Forwarder, LinkFactory, kafka_link_factory
from sensors.gateway.http import HttpConfig, make_app
from sensors.gateway.nmea import ListenSpec, NmeaListener, TcpNmeaListener, UdpNmeaListener
from sensors.gateway.ratelimit import SensorRateConfig
from sensors.gateway.spool import Spool
from sensors.registry import SensorRegistry
from sensors.schemas import MAX_AGE_S
from sensors.tls import server_context

log = logging.getLogger(__name__)


@dataclass(slots=True)
class GatewayConfig:
    bootstrap: str
    spool_dir: Path
    sensors_file: Path
    tokens_file: Path | None = None
    topic_prefix: str = ""
    host: str = "127.0.0.1"
    port: int = 8088
    name: str = "gateway"
    kafka_kwargs: dict[str, Any] = field(default_factory=dict)
    nmea_udp: list[ListenSpec] = field(default_factory=list)
    nmea_tcp: list[ListenSpec] = field(default_factory=list)
    http: HttpConfig = field(default_factory=HttpConfig)
    max_age_s: float = MAX_AGE_S
    send_timeout_s: float = 5.0
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    metrics_exposition: Callable[[], tuple[bytes, str]] | None = None
    # told the tokens' HMAC keys once loaded (the command masks them in its logs)
    on_secrets: Callable[[list[bytes]], None] | None = None
    sensor_rate: SensorRateConfig = field(default_factory=SensorRateConfig)
    # dead letters per second per (sender, sensor, reason) before a flood of refusals is
    # summarised (sensors/gateway/deadletters.py; 0: one for every refusal)
    deadletter_per_s: float = DEFAULT_PER_S
    # HTTPS (sensors/tls.py): the certificate chain and key (None: plain HTTP), and
    # the CA whose client certificates senders must present (None: tokens alone)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    # the spool's room (sensors/gateway/spool.py): at most this much waiting for Kafka (0: no
    # cap), and never the file system's last ``spool_min_free_bytes``; past either, 503
    spool_max_bytes: int = 0
    spool_min_free_bytes: int = 256 * 1024 * 1024
    # the tokens file is checked for changes this often and reloaded without a restart (a new
    # post's token, a revoked one; a Kubernetes Secret update); a bad file keeps the old set
    tokens_poll_s: float = 5.0


def prometheus_exposition() -> tuple[bytes, str]:
    """The process's default Prometheus registry in text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(), CONTENT_TYPE_LATEST


class Gateway:
    """One gateway process: the parts, wired; ``start``/``stop`` or ``await run(stop)``."""

    def __init__(self, config: GatewayConfig, link_factory: LinkFactory | None = None) -> None:
        self.config = config
        # built now: a bad certificate stops the gateway before it opens the spool
        self.tls = server_context(config.tls_cert, config.tls_key, config.tls_client_ca)
        self.registry = SensorRegistry.load(config.sensors_file)
        self.tokens = TokenStore.load(config.tokens_file) if config.tokens_file else TokenStore({})
        if not len(self.tokens):
            log.warning("no gateway tokens configured: HTTP ingest refuses every request")
        if config.on_secrets is not None:
            config.on_secrets(self.tokens.hmac_keys())
        self.spool = Spool.open(
            config.spool_dir,
            max_bytes=config.spool_max_bytes,
            min_free_bytes=config.spool_min_free_bytes,
        )
        depth_gauge = config.metrics.depth

        def on_depth(depth: int) -> None:
            if depth_gauge is not None:
                depth_gauge.labels(gateway=config.name).set(depth)

        self.forwarder = Forwarder(
            self.spool,
            link_factory or kafka_link_factory(config.bootstrap, **config.kafka_kwargs),
            topic_prefix=config.topic_prefix,
            send_timeout_s=config.send_timeout_s,
            on_depth=on_depth,
        )
        self.core = IngestCore(
            self.registry,
            self.forwarder,
            config.metrics,
            max_age_s=config.max_age_s,
            sensor_rate=config.sensor_rate,
            deadletters=DeadLetterBudget(config.deadletter_per_s),
        )
        self.listeners: list[NmeaListener] = [
            UdpNmeaListener(self.core, s) for s in config.nmea_udp
        ] + [TcpNmeaListener(self.core, s) for s in config.nmea_tcp]
        self.port = config.port
        self._runner: web.AppRunner | None = None
        self._watch: asyncio.Task[None] | None = None
        self._tokens_seen = self._tokens_stamp()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    def health(self) -> dict[str, Any]:
        depth = self.spool.depth
        ok = self.forwarder.kafka_ok
        return {
            "status": "ok" if ok and depth == 0 else "degraded",
            "kafka": ok,
            "spool_depth": depth,
            "spool_bytes": self.spool.waiting_bytes,
            "spool_dir": str(self.config.spool_dir),
        }

    async def _start(self) -> None:
        self.forwarder.start()
        # let the first connection attempt finish, so a healthy Kafka takes the first request
        await asyncio.get_running_loop().run_in_executor(
            None, self.forwarder.first_attempt.wait, 5.0
        )
        http = self.config.http
        if self.config.tls_client_ca is not None:
            http = replace(http, require_client_cert=True)
        app = make_app(
            self.core,
            self.tokens,
            http,
            health=self.health,
            metrics=self.config.metrics_exposition,
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, ssl_context=self.tls)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        for listener in self.listeners:
            await listener.start()
        if self.config.tokens_file is not None and self.config.tokens_poll_s > 0:
            self._watch = asyncio.create_task(self._watch_tokens())
        log.info(
            "gateway ready",
            extra={
                "url": self.url,
                "mutual_tls": self.config.tls_client_ca is not None,
                "spool_depth": self.spool.depth,
            },
        )

    def _tokens_stamp(self) -> tuple[int, int] | None:
        """(mtime, size) of the tokens file, None if it cannot be read now."""
        path = self.config.tokens_file
        try:
            st = Path(path).stat() if path is not None else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st is not None else None

    def reload_tokens(self) -> bool:
        """Reload the tokens file if it changed since the last look; True if reloaded. A
        file that does not load (half written, a typo) is logged and the old tokens stay:
        an edit must never lock every sensor out."""
        stamp = self._tokens_stamp()
        if stamp is None or stamp == self._tokens_seen or self.config.tokens_file is None:
            return False
        self._tokens_seen = stamp
        try:
            fresh = TokenStore.load(self.config.tokens_file)
        except TokensFileError as exc:
            log.error("tokens file not reloaded; the previous tokens stay in force",
                      extra={"reason": str(exc)})
            return False
        if self.config.on_secrets is not None:
            self.config.on_secrets(fresh.hmac_keys())
        self.tokens.replace_with(fresh)
        log.info("tokens reloaded", extra={"tokens": len(fresh)})
        return True

    async def _watch_tokens(self) -> None:
        while True:
            await asyncio.sleep(self.config.tokens_poll_s)
            self.reload_tokens()

    async def _stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for listener in self.listeners:
            await listener.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.get_running_loop().run_in_executor(None, self.forwarder.close)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set."""
        await self._start()
        try:
            await stop.wait()
        finally:
            await self._stop()

    # -- a background thread, for tests and embedding -----------------------------------
    def start(self, timeout_s: float = 10.0) -> Gateway:
        ready = threading.Event()
        errors: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._stopped = asyncio.Event()
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                ready.set()
                return
            ready.set()
            try:
                loop.run_until_complete(self._stopped.wait())
                loop.run_until_complete(self._stop())
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, name="gateway", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise TimeoutError("gateway did not start")
        if errors:
            raise errors[0]
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.config.host}:{self.port}"

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(config: GatewayConfig) -> None:
    """Run a gateway in the foreground until SIGINT/SIGTERM."""
    import signal

    async def main() -> None:
        gw = Gateway(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await gw.run(stop)

    asyncio.run(main())
