"""The TAK sender against real loopback listeners: TCP, UDP, TLS with client certs,
reconnect with a queue, the resend window and the queue bound."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import xmlschema

from fusion.types import Alert
from streams.delivery import cot
from streams.delivery.config import TakTarget
from streams.delivery.tak import TakSender

T0 = 1_718_000_000.0


def alert(i: int) -> bytes:
    a = Alert(
        alert_id=f"s1:{i:04d}",
        rule="approach",
        severity="medium",
        score=0.5,
        status="open",
        t_first=T0,
        t_last=T0 + i,
        lat=51.5 + i * 1e-4,
        lon=23.6,
        sector="s1",
        zone_id=None,
        track_ids=[f"s1-T{i}"],
        summary=f"alert number {i}",
        evidence={},
    )
    return cot.alert_to_cot(a, now=T0 + i)


def numbers(events: list[bytes]) -> list[int]:
    return [int(u.rsplit(":", 1)[1]) for u in cot.uids(events)]


class Listener:
    """A TAK-server stand-in: accepts TCP (or TLS) clients and collects whole events."""

    def __init__(self, port: int = 0, ssl_ctx: ssl.SSLContext | None = None) -> None:
        self.port = port
        self.ssl_ctx = ssl_ctx
        self.events: list[bytes] = []
        self.peers: list[dict] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> Listener:
        self._server = await asyncio.start_server(
            self._client, "127.0.0.1", self.port, ssl=self.ssl_ctx, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        cert = writer.get_extra_info("peercert")
        if cert:
            self.peers.append(cert)
        buf = b""
        try:
            while chunk := await reader.read(4096):
                done, buf = cot.split_stream(buf + chunk)
                self.events.extend(done)
        except (ConnectionError, OSError):
            pass

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def wait_for(self, n: int, timeout_s: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout_s
        while len(self.events) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.events


def target(port: int, **kw: object) -> TakTarget:
    base: dict[str, object] = dict(
        name="tak1",
        host="127.0.0.1",
        port=port,
        backoff_base_s=0.05,
        backoff_max_s=0.2,
        connect_timeout_s=2.0,
    )
    base.update(kw)
    return TakTarget(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def schema(shared_data: Path) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(shared_data / "cot" / "takcot" / "cot_event_base.xsd")


def test_tcp_listener_receives_schema_valid_cot_in_order(schema):
    async def main() -> list[bytes]:
        lis = await Listener().start()
        sender = TakSender(target(lis.port))
        await sender.start()
        for i in range(20):
            sender.send(alert(i))
        got = await lis.wait_for(20)
        await sender.stop()
        await lis.stop()
        return got

    got = asyncio.run(main())
    assert numbers(got) == list(range(20))
    for e in got:
        schema.validate(e.decode())


def test_udp_device_receives_one_valid_event_per_datagram(schema):
    async def main() -> list[bytes]:
        loop = asyncio.get_running_loop()
        got: list[bytes] = []

        class Rx(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: object) -> None:
                got.append(data)

        transport, _ = await loop.create_datagram_endpoint(Rx, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        sender = TakSender(target(port, protocol="udp"))
        await sender.start()
        for i in range(5):
            sender.send(alert(i))
        deadline = time.monotonic() + 5
        while len(got) < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await sender.stop()
        transport.close()
        return got

    got = asyncio.run(main())
    assert numbers(got) == list(range(5))
    for d in got:
        schema.validate(d.decode())


def test_reconnect_queues_while_down_and_resends_in_order():
    async def main() -> tuple[list[int], TakSender]:
        lis = await Listener().start()
        port = lis.port
        sender = TakSender(target(port, resend_window_s=0.0))
        await sender.start()
        for i in range(5):
            sender.send(alert(i))
        await lis.wait_for(5)
        first = list(lis.events)
        await lis.stop()
        deadline = time.monotonic() + 5
        while sender.connected.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert not sender.connected.is_set(), "sender did not notice the lost connection"
        for i in range(5, 12):
            sender.send(alert(i))
        await asyncio.sleep(0.5)  # several refused connects with back-off
        assert len(sender.queue) == 7
        lis2 = await Listener(port).start()
        await lis2.wait_for(7)
        await sender.stop()
        await lis2.stop()
        return numbers(first + lis2.events), sender

    got, sender = asyncio.run(main())
    assert got == list(range(12))
    assert sender.connects == 2
    assert sender.failures >= 2  # the lost link and at least one refused connect


def test_abrupt_outage_loses_nothing_thanks_to_the_resend_window():
    """Events keep coming while the server dies: what TCP swallowed is resent, so every
    event arrives and the first arrivals are in order (repeats are a replay of a suffix)."""

    async def main() -> tuple[list[int], int]:
        lis = await Listener().start()
        port = lis.port
        sender = TakSender(target(port, resend_window_s=2.0))
        await sender.start()
        received: list[bytes] = []
        for i in range(150):
            sender.send(alert(i))
            await asyncio.sleep(0.004)
            if i == 60:
                await lis.stop()
                received += lis.events
            if i == 100:
                lis = await Listener(port).start()
        assert await sender.wait_idle(10.0)
        await lis.wait_for(1)
        await asyncio.sleep(0.2)
        received += lis.events
        await sender.stop()
        await lis.stop()
        return numbers(received), sender.connects

    got, connects = asyncio.run(main())
    first_seen = list(dict.fromkeys(got))
    assert first_seen == list(range(150))
    assert len(got) > 150  # the window was replayed after the outage
    assert connects == 2


def test_full_queue_drops_the_oldest_and_counts_it():
    async def main() -> tuple[list[int], TakSender]:
        probe = await Listener().start()
        port = probe.port
        await probe.stop()  # a port nobody listens on, yet
        sender = TakSender(target(port, queue_max=3))
        await sender.start()
        for i in range(5):
            sender.send(alert(i))
        assert sender.dropped == 2
        lis = await Listener(port).start()
        await lis.wait_for(3)
        await asyncio.sleep(0.1)
        await sender.stop()
        await lis.stop()
        return numbers(lis.events), sender

    got, sender = asyncio.run(main())
    assert got == [2, 3, 4]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_tls_with_client_certificate(tmp_path: Path, schema):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        cwd=tmp_path,
    )
    for name, extra in (("server", ["-addext", "subjectAltName=IP:127.0.0.1"]), ("client", [])):
        _openssl(
            "req",
            *ec,
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            *extra,
            cwd=tmp_path,
        )
        ext = tmp_path / f"{name}.ext"
        ext.write_text(
            "subjectAltName=IP:127.0.0.1\n" if name == "server" else "extendedKeyUsage=clientAuth\n"
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            "-extfile",
            ext.name,
            cwd=tmp_path,
        )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tmp_path / "ca.pem")
    server_ctx.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    server_ctx.verify_mode = ssl.CERT_REQUIRED

    async def main() -> Listener:
        lis = await Listener(ssl_ctx=server_ctx).start()
        sender = TakSender(
            target(
                lis.port,
                protocol="tls",
                cafile=tmp_path / "ca.pem",
                certfile=tmp_path / "client.pem",
                keyfile=tmp_path / "client.key",
            )
        )
        await sender.start()
        for i in range(3):
            sender.send(alert(i))
        await lis.wait_for(3)
        await sender.stop()
        await lis.stop()
        return lis

    lis = asyncio.run(main())
    assert numbers(lis.events) == [0, 1, 2]
    schema.validate(lis.events[0].decode())
    subject = dict(x[0] for x in lis.peers[0]["subject"])
    assert subject["commonName"] == "client"
