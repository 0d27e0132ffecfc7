"""HTTPS on the web listener (``BORDERFUSION_WEB_TLS_CERT``/``_KEY``): a real web worker
serves the API over TLS, its session cookie is ``Secure`` without any proxy header, and
plain HTTP to the port gets nothing (certificates: tests/tls_certs.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from sensors.simulate import build_layout
from sensors.simulate.writer import write_layout
from streams.web.harness import WebWorker
from tests.tls_certs import make_pki, needs_openssl

pytestmark = [pytest.mark.broker, pytest.mark.slow, needs_openssl]
ROOT = Path(__file__).resolve().parents[2]


def test_the_web_ui_over_https(kafka_bootstrap: str, tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    write_layout(build_layout("mixed"), tmp_path / "layout")
    w = WebWorker(
        kafka_bootstrap,
        f"t{uuid.uuid4().hex[:10]}.",
        tmp_path / "web",
        tmp_path / "layout/sensors.yaml",
        tmp_path / "layout/zones.geojson",
        users={"cora": ("coordinator", "cora-password")},
        tls=(pki / "server.pem", pki / "server.key"),
        ca_file=pki / "ca.pem",
    )
    with w:
        assert w.base.startswith("https://")
        status, headers, body = w.request(
            "POST", "/api/login", body={"username": "cora", "password": "cora-password"}
        )
        assert status == 200, body
        cookie = headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie  # no X-Forwarded-Proto needed
        status, _, body = w.request("GET", "/api/sensors", cookie=cookie.split(";", 1)[0])
        assert status == 200 and json.loads(body)
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(w.base.replace("https", "http") + "/healthz", timeout=5)
        # a client that does not trust the agency's CA does not get the page either
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(w.base + "/healthz", timeout=5)


def test_the_worker_command_explains_a_bad_web_certificate(tmp_path: Path) -> None:
    env = {**os.environ, "BORDERFUSION_WEB_TLS_CERT": str(tmp_path / "missing.pem")}
    run = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker", "--role", "web"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode != 0
    assert "borderfusion worker: TLS file not found" in run.stderr
