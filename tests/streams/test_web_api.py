"""REST API and live stream of a real web worker on a real broker.

Every route of the app's router refuses a request without a valid role; an ack posted by a
coordinator becomes an ``alerts.acks`` record naming that coordinator; a browser that
reconnects with ``Last-Event-ID`` receives the alert raised while it was away.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensors.simulate import build_layout
from sensors.simulate.writer import write_layout
from streams.app import create_app
from streams.settings import Settings
from streams.web.harness import WebWorker
from streams.web.openapi import document

pytestmark = [pytest.mark.broker, pytest.mark.slow]

USERS = {
    "cora": ("coordinator", "cora-password"),
    "ana": ("analyst", "ana-password"),
    "eve": ("analyst", "eve-password"),
}
TOKENS = {
    "gw": ("gateway", "gateway-token-xyz"),
    "prom": ("metrics", "metrics-token-xyz"),
    "root": ("admin", "admin-token-xyz"),
}


@pytest.fixture(scope="module")
def layout_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("layout")
    write_layout(build_layout("mixed"), out)
    return out


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, layout_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebWorker]:
    import uuid

    prefix = f"w{uuid.uuid4().hex[:10]}."
    w = WebWorker(
        kafka_bootstrap,
        prefix,
        tmp_path_factory.mktemp("web"),
        layout_dir / "sensors.yaml",
        layout_dir / "zones.geojson",
        users=dict(USERS),
        tokens=dict(TOKENS),
    )
    with w:
        yield w


def produce(bootstrap: str, topic: str, key: str, value: object) -> None:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap)
    p.send(topic, key=key.encode(), value=json.dumps(value).encode())
    p.flush()
    p.close()


def alert(aid: str, severity: str = "high", status: str = "open") -> dict[str, object]:
    t = time.time()
    return {
        "alert_id": aid,
        "rule": "border_crossing",
        "severity": severity,
        "score": 0.9,
        "status": status,
        "t_first": t,
        "t_last": t,
        "lat": 51.4987,
        "lon": 30.5266,
        "sector": aid.split(":")[0],
        "zone_id": "border-1-green",
        "track_ids": ["T1"],
        "summary": "Person crossed the green border inbound.",
        "evidence": {"obs_ids": ["o1"], "sensors": ["R1", "T2"], "details": {}},
    }


def wait_for(fn, timeout_s: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def app_routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, path) of every route the web worker's router serves."""
    handle = create_app(settings, ("web",))
    handle.app.web.init_server()
    out = []
    for r in handle.app.web.web_app.router.routes():
        if r.method == "HEAD":
            continue
        info = r.resource.get_info()  # type: ignore[union-attr]
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        out.append((r.method, path))
    return out


def concrete(path: str) -> str:
    path = re.sub(r"\{[^}]+\}", "sector-1:0000", path)
    return path + "/cop.js" if path == "/static" else path


def test_every_route_but_health_refuses_without_a_role(worker: WebWorker) -> None:
    settings = Settings(sensors_file=worker.sensors_file, zones_file=worker.zones_file)
    routes = app_routes(settings)
    assert ("GET", "/api/alerts") in routes and ("GET", "/router/") in routes
    public = {"/healthz", "/login", "/api/login"}
    checked = 0
    for method, path in routes:
        url = concrete(path)
        status, _, _ = worker.request(method, url)
        if path in public:
            assert status != 401, (method, path)
            continue
        assert status == 401, (method, path, status)
        # a forged cookie and a wrong token are no better
        assert worker.request(method, url, cookie="bf_session=eyJ1IjoiY29yYSJ9.bad")[0] == 401
        assert worker.request(method, url, token="wrong")[0] == 401
        # a gateway token is valid but grants nothing on the web
        assert worker.request(method, url, token=TOKENS["gw"][1])[0] == 403, (method, path)
        checked += 1
    assert checked >= 15
    # the metrics token opens /metrics only; the analyst cannot ack
    assert worker.request("GET", "/metrics", token=TOKENS["prom"][1])[0] == 200
    assert worker.request("GET", "/api/alerts", token=TOKENS["prom"][1])[0] == 403
    ana = worker.login("ana")
    assert worker.request("GET", "/api/alerts", cookie=ana)[0] == 200
    assert worker.request("GET", "/metrics", cookie=ana)[0] == 403
    assert (
        worker.request("POST", "/api/alerts/sector-1:0000/ack", cookie=ana, body={"action": "ack"})[
            0
        ]
        == 403
    )
    # a browser without a session is sent to the login page
    status, headers, _ = worker.request("GET", "/cop", headers={"Accept": "text/html"})
    assert status == 302 and headers["Location"].startswith("/login?next=/cop")


def test_login_sets_a_hardened_cookie_and_wrong_passwords_are_throttled(worker: WebWorker) -> None:
    status, headers, body = worker.request(
        "POST", "/api/login", body={"username": "cora", "password": "cora-password"}
    )
    assert status == 200 and json.loads(body) == {"user": "cora", "role": "coordinator"}
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    codes = [
        worker.request("POST", "/api/login", body={"username": "eve", "password": "nope"})[0]
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]


def test_openapi_describes_every_api_route(worker: WebWorker) -> None:
    settings = Settings(sensors_file=worker.sensors_file, zones_file=worker.zones_file)
    served = {(m.lower(), p) for m, p in app_routes(settings) if p.startswith("/api/")}
    doc = json.loads(worker.request("GET", "/api/openapi.json", token=TOKENS["root"][1])[2])
    assert doc["openapi"].startswith("3.")
    described = {
        (m, re.sub(r"\{alert_id\}", "{alert_id}", p))
        for p, ops in doc["paths"].items()
        for m in ops
    }
    assert served == described
    assert doc == document()


def test_rest_reads_sensors_zones_alerts_and_ack_produces_a_record(
    worker: WebWorker, kafka_bootstrap: str
) -> None:
    from kafka import KafkaConsumer, TopicPartition

    cora = worker.login("cora")
    sensors = json.loads(worker.request("GET", "/api/sensors", cookie=cora)[2])
    assert {s["id"] for s in sensors} >= {"R1", "T2"}
    radar = next(s for s in sensors if s["id"] == "R1")
    assert radar["params"]["max_range_m"] > 0 and radar["health"] == "unknown"
    zones = json.loads(worker.request("GET", "/api/zones", cookie=cora)[2])
    assert {f["properties"]["kind"] for f in zones["features"]} >= {"border", "sector"}

    aid = "sector-1:feedbeef01"
    produce(kafka_bootstrap, worker.prefix + "alerts", aid, alert(aid))
    got = wait_for(
        lambda: json.loads(
            worker.request("GET", "/api/alerts?severity=high&status=open", cookie=cora)[2]
        )
    )
    assert [a["alert_id"] for a in got] == [aid]
    assert json.loads(worker.request("GET", "/api/alerts?severity=low", cookie=cora)[2]) == []
    detail = json.loads(worker.request("GET", f"/api/alerts/{aid}", cookie=cora)[2])
    assert [s["id"] for s in detail["sensors"]] == ["R1", "T2"]

    bad = worker.request("POST", f"/api/alerts/{aid}/ack", cookie=cora, body={"action": "dismiss"})
    assert bad[0] == 400  # a dismissal needs a note
    assert (
        worker.request("POST", f"/api/alerts/{aid}/ack", cookie=cora, body={"action": "delete"})[0]
        == 400
    )
    assert (
        worker.request(
            "POST", "/api/alerts/sector-1:nope/ack", cookie=cora, body={"action": "ack"}
        )[0]
        == 404
    )
    assert (
        worker.request(
            "POST",
            f"/api/alerts/{aid}/ack",
            cookie=cora,
            body={"action": "ack"},
            headers={"Origin": "http://evil.example"},
        )[0]
        == 403
    )
    status, _, body = worker.request(
        "POST",
        f"/api/alerts/{aid}/ack",
        cookie=cora,
        body={"action": "escalate", "note": "needs a patrol"},
    )
    assert status == 202
    record = json.loads(body)

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, consumer_timeout_ms=2000
    )
    topic = worker.prefix + "alerts.acks"
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    acks = wait_for(lambda: [json.loads(r.value) for r in consumer])
    consumer.close()
    assert acks == [record]
    assert (record["alert_id"], record["action"], record["user"], record["note"]) == (
        aid,
        "escalate",
        "cora",
        "needs a patrol",
    )
    assert abs(record["t"] - time.time()) < 60
    assert "alert sector-1:feedbeef01: escalate by cora" in worker.log_tail(20000)


def read_events(
    worker: WebWorker, cookie: str, last_id: str | None, until: str, timeout_s: float = 15.0
) -> list[tuple[str, str, dict[str, object]]]:
    """Read SSE frames until one of kind ``until`` arrives; returns (id, kind, data)."""
    conn = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=timeout_s)
    headers = {"Cookie": cookie, "Accept": "text/event-stream"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    conn.request("GET", "/api/stream", headers=headers)
    resp = conn.getresponse()
    assert resp.status == 200
    out: list[tuple[str, str, dict[str, object]]] = []
    frame: dict[str, str] = {}
    try:
        while True:
            line = resp.readline().decode().rstrip("\n")
            if line:
                key, _, value = line.partition(": ")
                frame[key] = value
                continue
            if "event" in frame:
                out.append((frame.get("id", ""), frame["event"], json.loads(frame["data"])))
                if frame["event"] == until:
                    return out
            frame = {}
    finally:
        conn.close()


def test_reconnecting_browser_gets_the_alert_raised_while_away(
    worker: WebWorker, kafka_bootstrap: str
) -> None:
    ana = worker.login("ana")
    first = read_events(worker, ana, None, until="snapshot")
    snap_id = first[-1][0]
    # away: two alerts arrive
    for aid in ("sector-2:0ff11e0001", "sector-2:0ff11e0002"):
        produce(kafka_bootstrap, worker.prefix + "alerts", aid, alert(aid, "critical"))
    wait_for(
        lambda: (
            len(json.loads(worker.request("GET", "/api/alerts?sector=sector-2", cookie=ana)[2]))
            == 2
        )
    )
    # back with Last-Event-ID: the missed alerts, no snapshot
    events = read_events(worker, ana, snap_id, until="alert")
    assert [k for _, k, _ in events] == ["alert"]
    assert events[0][2]["alert_id"] == "sector-2:0ff11e0001"
    resumed = read_events(worker, ana, events[0][0], until="alert")
    assert resumed[0][2]["alert_id"] == "sector-2:0ff11e0002"
    # an id from another process epoch gets a full snapshot that holds both
    again = read_events(worker, ana, "0000dead.1", until="snapshot")
    ids = {a["alert_id"] for a in again[-1][2]["alerts"]}  # type: ignore[union-attr]
    assert {"sector-2:0ff11e0001", "sector-2:0ff11e0002"} <= ids
