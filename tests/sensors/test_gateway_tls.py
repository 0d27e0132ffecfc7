"""HTTPS on the gateway (sensors/tls.py): senders that trust the agency's CA are
served, the token never crosses in clear, and with mutual TLS only senders holding a client
certificate of that CA get through (certificates: tests/tls_certs.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sensors.gateway.client import GatewayClient, GatewayError
from sensors.gateway.service import Gateway
from sensors.tls import TlsConfigError, client_context, server_context
from tests.sensors.test_gateway_http import _config
from tests.tls_certs import make_pki, needs_openssl

ROOT = Path(__file__).resolve().parents[2]
pytestmark = needs_openssl


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _reading() -> dict:
    return {"sensor_id": "R1", "t": time.time(), "range_m": 1000.0, "bearing_deg": 10.0}


def _send(url: str, tls, retries: int = 0) -> GatewayClient:
    client = GatewayClient(url, "tok-all", tls=tls, retries=retries)
    client.send("readings.radar", _reading())
    client.close()
    return client


def test_an_https_gateway_serves_a_client_that_trusts_its_ca(tmp_path, pki) -> None:
    cfg = _config(tmp_path, tls_cert=pki / "server.pem", tls_key=pki / "server.key")
    with Gateway(cfg) as gw:
        assert gw.url.startswith("https://127.0.0.1:")
        client = _send(gw.url, client_context(pki / "ca.pem"))
        assert client.accepted == 1 and client.spooled == 1  # Kafka is down: on disk
        assert gw.spool.depth == 1
        # plain HTTP to the TLS port gets nowhere: no token in clear, no reading taken
        req = urllib.request.Request(
            gw.url.replace("https", "http") + "/ingest/radar",
            data=json.dumps(_reading()).encode(),
            headers={"Authorization": "Bearer tok-all"},
        )
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(req, timeout=5)
        assert gw.spool.depth == 1


def test_a_client_that_does_not_trust_the_certificate_stops_at_once(tmp_path, pki) -> None:
    cfg = _config(tmp_path, tls_cert=pki / "server.pem", tls_key=pki / "server.key")
    with Gateway(cfg) as gw:
        t0 = time.monotonic()
        with pytest.raises(GatewayError, match="not trusted.*--ca-file"):
            _send(gw.url, client_context(pki / "rogue.pem"), retries=5)
        assert time.monotonic() - t0 < 5  # not retried: a certificate does not heal
        assert gw.spool.depth == 0


def test_mutual_tls_admits_only_senders_with_a_certificate_of_the_agency(tmp_path, pki) -> None:
    cfg = _config(
        tmp_path, tls_cert=pki / "server.pem", tls_key=pki / "server.key", tls_client_ca=pki / "ca.pem"
    )
    with Gateway(cfg) as gw:
        ok = _send(gw.url, client_context(pki / "ca.pem", pki / "sensor.pem", pki / "sensor.key"))
        assert ok.accepted == 1
        # a valid token alone is refused, with the reason
        with pytest.raises(GatewayError, match="401.*client certificate"):
            _send(gw.url, client_context(pki / "ca.pem"))
        # a certificate of another CA does not get through the handshake
        rogue = client_context(pki / "ca.pem", pki / "intruder.pem", pki / "intruder.key")
        with pytest.raises(GatewayError, match="unreachable"):
            _send(gw.url, rogue)
        assert gw.spool.depth == 1
        # probes and Prometheus hold no certificate: /healthz and /metrics stay reachable
        with urllib.request.urlopen(
            gw.url + "/healthz", timeout=5, context=client_context(pki / "ca.pem")
        ) as r:
            assert json.loads(r.read())["spool_depth"] == 1


def test_bad_tls_files_are_refused_with_the_reason(tmp_path, pki) -> None:
    with pytest.raises(TlsConfigError, match="not found"):
        server_context(tmp_path / "missing.pem", pki / "server.key")
    with pytest.raises(TlsConfigError, match="cannot use certificate"):
        server_context(pki / "server.pem", pki / "sensor.key")  # another certificate's key
    with pytest.raises(TlsConfigError, match="needs a certificate"):
        Gateway(_config(tmp_path, tls_key=pki / "server.key"))


@pytest.mark.slow
def test_the_commands_serve_and_send_over_https(tmp_path, pki) -> None:
    """``borderfusion gateway --tls-cert/--tls-key`` and ``push --http https:// --ca-file``."""
    from streams.broker import free_port

    cfg = _config(tmp_path)  # writes the registry and tokens files
    port = free_port()
    env = {**os.environ, "BORDERFUSION_GATEWAY_TLS_KEY": str(pki / "server.key")}  # env works too
    gw = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "gateway", "--port", str(port),
         "--tokens", str(cfg.tokens_file), "--sensors", str(cfg.sensors_file),
         "--spool", str(tmp_path / "spool"), "--bootstrap", f"127.0.0.1:{free_port()}",
         "--tls-cert", str(pki / "server.pem")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        url, ctx = f"https://127.0.0.1:{port}", client_context(pki / "ca.pem")
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2, context=ctx) as r:
                    assert json.loads(r.read())["kafka"] is False
                    break
            except OSError:
                assert gw.poll() is None and time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.2)
        lines = tmp_path / "readings.jsonl"
        lines.write_text(
            "".join(json.dumps({"topic": "readings.radar", "value": _reading()}) + "\n"
                    for _ in range(3))
        )
        push = subprocess.run(
            [sys.executable, "-m", "streams.cli", "push", str(lines), "--http", url,
             "--token", "tok-all", "--ca-file", str(pki / "ca.pem")],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
        assert push.returncode == 0, push.stderr
        summary = json.loads(push.stderr.strip().splitlines()[-1])
        assert summary["sent"] == 3 and summary["accepted"] == 3 and summary["spooled"] == 3
    finally:
        gw.terminate()
        out = gw.communicate(timeout=15)[0].decode()
    assert f"gateway: https://127.0.0.1:{port}" in out


def test_the_gateway_command_explains_a_bad_certificate(tmp_path) -> None:
    cfg = _config(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "streams.cli", "gateway", "--port", "0",
         "--tokens", str(cfg.tokens_file), "--sensors", str(cfg.sensors_file),
         "--spool", str(tmp_path / "spool"), "--tls-cert", str(tmp_path / "nope.pem")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode != 0
    assert "borderfusion gateway: TLS file not found" in run.stderr
