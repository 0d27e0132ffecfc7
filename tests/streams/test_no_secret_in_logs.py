"""Secrets never reach logs: a SASL password and gateway tokens/HMAC keys configured for a
real gateway and worker must not appear in their output (also on the error paths: the
broker does not speak SASL here, so both log connection failures) nor in ``config show``."""

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
import yaml

from sensors.gateway.auth import hash_token
from sensors.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, timestamp
from streams.broker import _die_with_parent, free_port
from tests.kafka_utils import ROOT, stop_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PASSWORD = "S3cr3t-sasl-pw-4f9d"
TOKEN = "tok-7a1c9e-never-logged"
HMAC_KEY = "hmac-key-0123456789abcdef0123456789ab"


def _env(tmp_path: Path, bootstrap: str, level: str) -> dict[str, str]:
    (tmp_path / "sensors.yaml").write_text(
        yaml.safe_dump({"sensors": [{"id": "R1", "type": "radar", "lat": 51.5, "lon": 30.5}]})
    )
    return {
        **os.environ,
        "BORDERFUSION_KAFKA_BOOTSTRAP": bootstrap,
        "BORDERFUSION_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "BORDERFUSION_KAFKA_SASL_MECHANISM": "PLAIN",
        "BORDERFUSION_KAFKA_SASL_USERNAME": "bf",
        "BORDERFUSION_KAFKA_SASL_PASSWORD": PASSWORD,
        "BORDERFUSION_SENSORS_FILE": str(tmp_path / "sensors.yaml"),
        "BORDERFUSION_DATA_DIR": str(tmp_path / "var"),
        "BORDERFUSION_LOG_LEVEL": level,
    }


def _assert_clean(text: str, where: str) -> None:
    for secret in (PASSWORD, TOKEN, HMAC_KEY):
        assert secret not in text, f"{secret!r} leaked into {where}"


@pytest.mark.parametrize(
    "level",
    [
        "INFO",
        "DEBUG",
    ],
)
def test_secrets_stay_out_of_gateway_worker_and_config_show(tmp_path: Path, level: str) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens: both hit their error paths
    env = _env(tmp_path, bootstrap, level)
    shown = subprocess.run(
        [sys.executable, "-m", "streams.cli", "config", "show"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "kafka_sasl_password" in shown.stdout
    _assert_clean(shown.stdout + shown.stderr, "config show")

    tokens = {
        "tokens": [
            {
                "name": "post",
                "token_sha256": hash_token(TOKEN),
                "sensors": ["R1"],
                "hmac_key": HMAC_KEY,
            }
        ]
    }
    (tmp_path / "tokens.yaml").write_text(yaml.safe_dump(tokens))
    (tmp_path / "tokens.yaml").chmod(0o600)
    port = free_port()
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("gateway", "worker")}  # noqa: SIM115
    gw = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "gateway",
            "--port",
            str(port),
            "--tokens",
            str(tmp_path / "tokens.yaml"),
            "--spool",
            str(tmp_path / "spool"),
        ],
        env=env,
        cwd=ROOT,
        stdout=logs["gateway"],
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker", "--role", "ingest"],
        env=env,
        cwd=ROOT,
        stdout=logs["worker"],
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    try:
        url = f"http://127.0.0.1:{port}/ingest/radar"
        deadline = time.monotonic() + 40
        body = json.dumps(
            {"sensor_id": "R1", "t": time.time(), "range_m": 1.0, "bearing_deg": 1.0}
        ).encode()
        statuses = []
        for headers in (
            {"Authorization": f"Bearer {TOKEN}"},  # unsigned: 401
            {"Authorization": f"Bearer {TOKEN}x"},  # wrong token: 401
            {
                "Authorization": f"Bearer {TOKEN}",
                TIMESTAMP_HEADER: (ts := timestamp()),
                SIGNATURE_HEADER: sign(HMAC_KEY, ts, body),
            },
        ):
            while True:
                try:
                    req = urllib.request.Request(url, data=body, headers=headers)
                    with urllib.request.urlopen(req, timeout=20) as resp:
                        statuses.append(resp.status)
                    break
                except urllib.error.HTTPError as exc:
                    statuses.append(exc.code)
                    break
                except OSError:
                    assert time.monotonic() < deadline, "gateway did not start"
                    time.sleep(0.3)
        assert statuses == [401, 401, 200]  # accepted into the spool: Kafka is unreachable
        time.sleep(3)  # let the worker log its connection failures
    finally:
        stop_process(gw)
        stop_process(worker)
        for f in logs.values():
            f.close()
    for name in ("gateway", "worker"):
        text = (tmp_path / f"{name}.log").read_text(errors="replace")
        assert text.strip(), f"{name} logged nothing"
        _assert_clean(text, f"the {name} log")
    spool = "".join(p.read_text(errors="replace") for p in (tmp_path / "spool").glob("*.seg"))
    _assert_clean(spool, "the spool")
