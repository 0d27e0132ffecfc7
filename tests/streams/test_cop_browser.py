"""The COP in headless Chromium: live alerts without reload, ack in one session, status
change in another. Leaves a screenshot in ``test-artifacts/cop.png``.

The alert agent is not run here: the test reads the ack record the page produced from
``alerts.acks`` and publishes the acknowledged alert version itself, exactly as the agent
does (DESIGN §3), so this exercises the web side alone.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.replay import replay_scenario
from streams.web.harness import WebWorker

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
USERS = {"cora": ("coordinator", "cora-password"), "ana": ("analyst", "ana-password")}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sensors.simulate import build_scenario, write_scenario

    d = tmp_path_factory.mktemp("scen")
    write_scenario(build_scenario(seed=7, duration=60), d)
    replay_scenario(d, d / "out")
    return d


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, scenario: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebWorker]:
    w = WebWorker(
        kafka_bootstrap,
        f"b{uuid.uuid4().hex[:10]}.",
        tmp_path_factory.mktemp("web"),
        scenario / "sensors.yaml",
        scenario / "zones.geojson",
        users=dict(USERS),
    )
    with w:
        yield w


def producer(bootstrap: str):  # type: ignore[no-untyped-def]
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap)


def publish_picture(bootstrap: str, prefix: str, out: Path) -> list[dict[str, object]]:
    """The replayed tracks (batched per sector and second, as the fusion agent sends them)
    and alerts of the scenario; returns the alerts."""
    p = producer(bootstrap)
    batches: dict[tuple[int, str], list[dict[str, object]]] = defaultdict(list)
    for line in (out / "tracks.jsonl").read_text().splitlines():
        u = json.loads(line)
        batches[(int(u["t"]), u["sector"])].append(u)
    for (_, sector), us in sorted(batches.items()):
        p.send(prefix + "tracks", key=sector.encode(), value=json.dumps(us).encode())
    alerts = [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]
    for a in alerts:
        p.send(prefix + "alerts", key=a["alert_id"].encode(), value=json.dumps(a).encode())
    p.flush()
    p.close()
    return alerts


def browser():  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not shutil.which("chromedriver") and not Path("/usr/bin/chromedriver").exists():
        pytest.fail("chromium-driver missing: apt-get install -y chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1600,950",
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def login(driver, worker: WebWorker, name: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    driver.get(worker.base + "/cop")  # no session: redirected to the login page
    assert "/login" in driver.current_url
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(USERS[name][1])
    driver.find_element(By.ID, "submit").click()


def wait_css(driver, css: str, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def read_acks(bootstrap: str, topic: str, timeout_s: float = 15.0) -> list[dict[str, object]]:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000
    )
    tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic)]
    c.assign(tps)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            c.seek_to_beginning(*tps)
            got = [json.loads(r.value) for r in c]
            if got:
                return got
        return []
    finally:
        c.close()


def test_cop_live_alert_ack_and_second_session(
    worker: WebWorker, kafka_bootstrap: str, scenario: Path
) -> None:
    from selenium.webdriver.common.by import By

    alerts = publish_picture(kafka_bootstrap, worker.prefix, scenario / "out")
    assert alerts, "the scenario raised no alerts"
    a, b = browser(), browser()
    try:
        login(a, worker, "cora")
        wait_css(a, "#queue li.alert")
        wait_css(a, "#conn.live")
        assert a.find_elements(By.CSS_SELECTOR, "#l-zones path.zone-water")
        assert a.find_elements(By.CSS_SELECTOR, "#l-borders path.border-green")
        assert a.find_elements(By.CSS_SELECTOR, "#l-borders path.border-blue")
        assert a.find_elements(By.CSS_SELECTOR, "#l-coverage circle.cov-radar")
        assert a.find_elements(By.CSS_SELECTOR, "#l-coverage path.cov-thermal")
        wait_css(a, "#l-tracks g[data-track]")

        login(b, worker, "ana")
        wait_css(b, "#conn.live")

        # a new critical alert appears in the open page without a reload
        new = dict(
            alerts[0],
            alert_id="sector-2:c0ffee0001",
            severity="critical",
            status="open",
            t_last=max(float(x["t_last"]) for x in alerts) + 1,
            summary="Vehicle crossed the green border inbound at the forest track.",
        )
        p = producer(kafka_bootstrap)
        p.send(worker.prefix + "alerts", key=b"sector-2:c0ffee0001", value=json.dumps(new).encode())
        p.flush()
        row = wait_css(a, '#queue li.alert[data-id="sector-2:c0ffee0001"]')
        assert row.get_attribute("data-status") == "open"
        first = a.find_elements(By.CSS_SELECTOR, "#queue li.alert")[0]
        assert first.get_attribute("data-id") == "sector-2:c0ffee0001"  # critical first
        assert a.find_element(By.ID, "banner").is_displayed()
        wait_css(b, '#queue li.alert[data-id="sector-2:c0ffee0001"]')

        # the coordinator opens it and acknowledges; the analyst cannot
        row.click()
        wait_css(a, "#detail #btn-ack")
        assert a.find_element(By.ID, "detail").is_displayed()
        assert "forest track" in a.find_element(By.ID, "detail").text
        b.find_element(By.CSS_SELECTOR, '#queue li.alert[data-id="sector-2:c0ffee0001"]').click()
        wait_css(b, "#detail #btn-ack")
        assert not b.find_element(By.ID, "btn-ack").is_enabled()
        a.find_element(By.ID, "note").send_keys("patrol 7 dispatched")
        a.find_element(By.ID, "btn-ack").click()

        acks = read_acks(kafka_bootstrap, worker.prefix + "alerts.acks")
        assert [(k["alert_id"], k["action"], k["user"], k["note"]) for k in acks] == [
            ("sector-2:c0ffee0001", "ack", "cora", "patrol 7 dispatched")
        ]
        # the alert agent's answer: the same alert, acknowledged, with the action logged
        done = dict(new, status="acknowledged", evidence={**new["evidence"], "actions": [acks[0]]})  # type: ignore[dict-item]
        p.send(
            worker.prefix + "alerts", key=b"sector-2:c0ffee0001", value=json.dumps(done).encode()
        )
        p.flush()
        p.close()
        wait_css(b, '#queue li.alert[data-id="sector-2:c0ffee0001"][data-status="acknowledged"]')
        wait_css(a, '#queue li.alert[data-id="sector-2:c0ffee0001"][data-status="acknowledged"]')
        wait_css(b, "#detail #d-status.st-acknowledged")
        assert "ack by cora: patrol 7 dispatched" in b.find_element(By.ID, "detail").text

        time.sleep(0.5)
        out = ROOT / "test-artifacts"
        out.mkdir(exist_ok=True)
        a.save_screenshot(str(out / "cop.png"))
        errors = [
            e
            for e in a.get_log("browser")
            if e["level"] == "SEVERE" and "favicon" not in e["message"]
        ]
        assert errors == []
    finally:
        a.quit()
        b.quit()
