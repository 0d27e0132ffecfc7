"""The metrics contract: every series the Grafana dashboard queries is exported by a running
worker (or, for the gateway's own figures, by a running gateway), behind the metrics token.

A real ``borderfusion worker`` with every role runs on the broker with the example-style
site written by ``borderfusion simulate`` (all four reading kinds, alerts of several rules),
a users file holding a ``metrics`` token and a delivery file whose webhook cannot be reached
(so delivery failures have a sample). A real ``borderfusion gateway`` runs against a broker
address nobody listens on, so it spools: that is the only way its spool series get a sample.
prometheus_client prints a labelled metric only once it has a sample, so "exported" means
"the code path that owns it really ran", which is what the dashboard needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from sensors.gateway.auth import new_token_entry
from streams.broker import free_port
from streams.web.auth import new_token, user_entry
from tests.deploy.test_deploy import dashboard_exprs
from tests.kafka_utils import ROOT, start_worker, stop_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ALL_ROLES = ["ingest", "fusion", "alerts", "web", "delivery", "archive"]
#: Series only ``borderfusion gateway`` produces (the workers never spool or take HTTP ingest).
GATEWAY_ONLY = {
    "borderfusion_spool_depth",
    "borderfusion_readings_spooled_total",
    "borderfusion_ingest_latency_seconds_bucket",
}


def dashboard_series() -> list[str]:
    import re

    names = {
        m
        for e in dashboard_exprs()
        for m in re.findall(r"\b[a-z_:][a-z0-9_:]*_[a-z0-9_]+", e)
        if m.startswith("borderfusion_")
    }
    return sorted(names)


def http_get(url: str, token: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def sample_names(exposition: bytes) -> set[str]:
    """Series names with at least one sample. A family that is only declared (``# HELP`` and
    ``# TYPE`` without samples: a labelled metric whose code path never ran) does not count."""
    return {
        s.name
        for family in text_string_to_metric_families(exposition.decode())
        for s in family.samples
    }


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not up\n{log.read_text()[-3000:]}")


@dataclass
class Scrapes:
    worker: set[str]
    gateway: set[str]
    unauthenticated_status: int
    wrong_role_status: int
    gateway_health: dict[str, object]
    worker_health: tuple[int, dict[str, object]]


def _write_site(work: Path, bootstrap: str, prefix: str) -> Path:
    """A 2-minute scenario ending now: readings of every kind plus one bad reading."""
    scenario = work / "scenario"
    start = datetime.fromtimestamp(time.time() - 150, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "simulate", "--out", str(scenario),
         "--duration", "120", "--start", start, "--seed", "3"],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    lines = (scenario / "readings.jsonl").read_text().splitlines()
    first = next(json.loads(x) for x in lines if '"readings.radar"' in x)
    bad = {"topic": "readings.radar", "value": {**first["value"], "range_m": "far"}}
    with (scenario / "readings.jsonl").open("a") as f:
        f.write(json.dumps(bad) + "\n")
    return scenario


@pytest.fixture(scope="module")
def scrapes(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapes]:
    work = tmp_path_factory.mktemp("metrics-contract")
    prefix = f"t{uuid.uuid4().hex[:10]}."
    scenario = _write_site(work, kafka_bootstrap, prefix)
    metrics_token, analyst_token = new_token(), new_token()
    users = work / "users.yaml"
    users.write_text(yaml.safe_dump({"users": [
        user_entry("prometheus", "metrics", token=metrics_token),
        user_entry("viewer", "analyst", token=analyst_token),
    ]}))  # fmt: skip
    delivery = work / "delivery.yaml"
    delivery.write_text(yaml.safe_dump({"webhooks": [{
        "name": "nobody-listens", "url": f"http://127.0.0.1:{free_port()}/hook",
        "secret": "s" * 32, "attempts": 1, "timeout_s": 2,
    }]}))  # fmt: skip
    port = free_port()
    env = {
        "BORDERFUSION_SENSORS_FILE": str(scenario / "sensors.yaml"),
        "BORDERFUSION_ZONES_FILE": str(scenario / "zones.geojson"),
        "BORDERFUSION_DATA_DIR": str(work / "data"),
        "BORDERFUSION_WEB_HOST": "127.0.0.1",
        "BORDERFUSION_WEB_PORT": str(port),
        "BORDERFUSION_USERS_FILE": str(users),
        "BORDERFUSION_DELIVERY_FILE": str(delivery),
    }
    base = f"http://127.0.0.1:{port}"
    log = work / "worker.log"
    worker = start_worker(kafka_bootstrap, prefix, env, ALL_ROLES, log)

    # The gateway: tokens for every sensor, a broker address that refuses connections.
    gw_token, gw_entry = new_token_entry("contract", ["*"])
    tokens = work / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"tokens": [gw_entry]}))
    gw_port, gw_log = free_port(), work / "gateway.log"
    gateway = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "gateway", "--host", "127.0.0.1",
         "--port", str(gw_port), "--tokens", str(tokens), "--spool", str(work / "spool"),
         "--sensors", str(scenario / "sensors.yaml"),
         "--bootstrap", f"127.0.0.1:{free_port()}", "--topic-prefix", prefix],
        cwd=ROOT, stdout=gw_log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_http(base + "/healthz", worker, log, 120)
        push = subprocess.run(
            [sys.executable, "-m", "streams.cli", "push", str(scenario / "readings.jsonl"),
             "--bootstrap", kafka_bootstrap, "--topic-prefix", prefix],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert push.returncode == 0, push.stderr

        wait_http(f"http://127.0.0.1:{gw_port}/healthz", gateway, gw_log, 60)
        radar = [
            json.loads(line)["value"]
            for line in (scenario / "readings.jsonl").read_text().splitlines()[:400]
            if json.loads(line)["topic"] == "readings.radar"
        ][:5]
        req = urllib.request.Request(
            f"http://127.0.0.1:{gw_port}/ingest/radar",
            data="\n".join(json.dumps(r) for r in radar).encode(),
            headers={"Authorization": f"Bearer {gw_token}"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            reply = json.loads(r.read())
        assert reply["spooled"] == len(radar), reply
        gw_status, gw_body = http_get(f"http://127.0.0.1:{gw_port}/metrics")
        assert gw_status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{gw_port}/healthz", timeout=5) as r:
            gw_health = json.loads(r.read())

        # Wait until the worker's series stop growing in number towards the dashboard's set.
        wanted = set(dashboard_series()) - GATEWAY_ONLY
        deadline = time.monotonic() + 150
        names: set[str] = set()
        while time.monotonic() < deadline:
            status, body = http_get(base + "/metrics", metrics_token)
            assert status == 200, body[:300]
            names = sample_names(body)
            if wanted <= names:
                break
            time.sleep(2)
        yield Scrapes(
            worker=names,
            gateway=sample_names(gw_body),
            unauthenticated_status=http_get(base + "/metrics")[0],
            wrong_role_status=http_get(base + "/metrics", analyst_token)[0],
            gateway_health=gw_health,
            worker_health=_idle_health(base + "/healthz", 90),
        )
    finally:
        stop_process(gateway)
        stop_process(worker)


def _idle_health(url: str, timeout_s: float) -> tuple[int, dict[str, object]]:
    """``/healthz`` once the worker has worked through everything (nothing waiting on its
    partitions), or the last answer at the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, raw = http_get(url)
        body = json.loads(raw)
        progress = body.get("progress")
        done = isinstance(progress, dict) and progress["partitions"] > 0 and not progress["waiting"]
        if done or time.monotonic() > deadline:
            return status, body
        time.sleep(2)


def test_worker_health_sees_its_partitions_and_nothing_waiting_once_idle(
    scrapes: Scrapes,
) -> None:
    """The liveness verdict (streams/liveness.py) is fed the consumer positions the lag
    series come from: a worker that worked through the scenario owns partitions, is not
    stalled, and counts nothing as waiting once idle (committed offsets are "next to read",
    so an idle worker never looks stuck to its liveness probe)."""
    status, body = scrapes.worker_health
    assert status == 200 and body["status"] == "ok", body
    progress = body["progress"]
    assert isinstance(progress, dict), body
    assert progress["partitions"] > 0 and progress["waiting"] == 0, progress


def test_dashboard_queries_something() -> None:
    series = dashboard_series()
    assert len(series) >= 12 and GATEWAY_ONLY < set(series)


@pytest.mark.parametrize("series", dashboard_series())
def test_running_processes_export_every_dashboard_series(scrapes: Scrapes, series: str) -> None:
    where = scrapes.gateway if series in GATEWAY_ONLY else scrapes.worker
    assert series in where, f"{series} not on /metrics of the running process"


def test_metrics_need_a_metrics_token(scrapes: Scrapes) -> None:
    assert scrapes.unauthenticated_status == 401
    assert scrapes.wrong_role_status == 403


def test_gateway_health_reports_kafka_and_spool(scrapes: Scrapes) -> None:
    """What the gateway readiness probe in compose and Helm reads (docs/deploy.md)."""
    assert scrapes.gateway_health["kafka"] is False
    assert scrapes.gateway_health["spool_depth"] == 5
    assert scrapes.gateway_health["status"] == "degraded"
