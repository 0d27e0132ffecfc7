"""``replay`` in-process and ``replay --via-kafka`` give the same alert ids (DESIGN §1).

A multi-sensor scenario (radar, thermal cameras, seismic: three readings topics) goes
through the offline engine and through a broker and a real worker; the sets of alert ids
and their rules must be identical. This is what makes a backtest trustworthy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streams.replay import replay_scenario
from streams.replay_kafka import replay_via_kafka
from streams.settings import Settings
from tests.kafka_utils import ROOT

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _ids(out: Path) -> dict[str, str]:
    alerts = [json.loads(ln) for ln in (out / "alerts.jsonl").read_text().splitlines()]
    return {a["alert_id"]: a["rule"] for a in alerts}


def test_replay_via_kafka_gives_the_in_process_alert_ids(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    from sensors.simulate import build_scenario, write_scenario

    scen = tmp_path / "scen"
    write_scenario(build_scenario(seed=1, duration=90, layout="forest"), scen)
    topics = {
        json.loads(ln)["topic"]
        for ln in (scen / "readings.jsonl").read_text().splitlines()
        if ln.strip()
    }
    assert len(topics) >= 3  # several topics: the cross-topic ordering is exercised
    # the radar goes quiet from 20 to 70 s: a coverage-gap alert (sensor silence) in both
    lines = (scen / "readings.jsonl").read_text().splitlines()
    t0 = json.loads(lines[0])["value"]["t"]
    radar = next(json.loads(ln)["value"]["sensor_id"] for ln in lines
                 if json.loads(ln)["topic"] == "readings.radar")
    (scen / "readings.jsonl").write_text("\n".join(
        ln for ln in lines
        if not (json.loads(ln)["value"].get("sensor_id") == radar
                and 20 <= json.loads(ln)["value"]["t"] - t0 < 70)) + "\n")

    local = replay_scenario(scen, tmp_path / "a", reorder_window_s=10.0)
    settings = Settings().with_overrides(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=2
    )
    via = replay_via_kafka(
        scen, tmp_path / "b", settings, speed=10.0, reorder_window_s=10.0, timeout_s=120
    )
    assert via.readings == local.readings
    assert local.alerts, "the scenario raised no alerts: nothing compared"
    assert "sensor_silence" in _ids(tmp_path / "a").values()
    assert _ids(tmp_path / "b") == _ids(tmp_path / "a")
    assert via.track_updates == local.track_updates


def test_replay_cli_writes_alerts_and_summary(tmp_path: Path) -> None:
    from sensors.simulate import build_scenario, write_scenario

    scen = tmp_path / "scen"
    write_scenario(build_scenario(seed=2, duration=40, layout="forest"), scen)
    run = subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", str(scen), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stderr.strip().splitlines()[-1])
    assert summary["readings"] == len((scen / "readings.jsonl").read_text().splitlines())
    assert summary["alerts"] == len(_ids(tmp_path / "out"))



@pytest.fixture(scope="module")
def crossing_sectors(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """Mixed layout, seed 3, replayed in-process: dark boat X1 goes from sector 2 into
    sector 3 (+471 s) and its alert is handed over there (before the hand-over existed
    sector 3 raised a second dark-vessel alert for it: docs/rules.md, "Sector hand-over")."""
    from sensors.simulate import build_scenario, write_scenario

    base = tmp_path_factory.mktemp("handover")
    write_scenario(build_scenario(seed=3, duration=600, layout="mixed"), base / "scen")
    replay_scenario(base / "scen", base / "local", reorder_window_s=10.0)
    lines = (base / "local" / "alerts.jsonl").read_text().splitlines()
    return base / "scen", [json.loads(ln) for ln in lines]



def _handed(local: list[dict]) -> dict:
    """X1's dark-vessel alert, carried from sector 2 to sector 3 in the in-process run."""
    handed = [a for a in local if a["rule"] == "dark_vessel" and "handed_over" in a["evidence"]]
    assert handed and {t.split("-T")[0] for t in handed[0]["track_ids"]} == {
        "sector-2", "sector-3"}
    return handed[0]


def test_an_alert_handed_to_the_next_sector_is_the_same_via_kafka(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path,
    crossing_sectors: tuple[Path, list[dict]],
) -> None:
    """The hand-over goes between the two sectors' partitions (alerts.acks.by-sector) and
    the alert goes on under the same id, as in-process (rules in the fusion agent)."""
    scen, local = crossing_sectors
    handed = _handed(local)
    settings = Settings().with_overrides(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=4
    )
    replay_via_kafka(scen, tmp_path / "b", settings, speed=20.0, reorder_window_s=10.0,
                     timeout_s=240)
    lines = (tmp_path / "b" / "alerts.jsonl").read_text().splitlines()
    via = {a["alert_id"]: a for a in map(json.loads, lines)}
    assert set(via) == {a["alert_id"] for a in local}
    assert via[handed["alert_id"]]["track_ids"] == handed["track_ids"]


def test_an_ack_reaches_a_handed_over_alert_via_kafka(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path,
    crossing_sectors: tuple[Path, list[dict]],
) -> None:
    """A coordinator acks X1's alert after it went to sector 3: `alerts.acks` routes by the
    id's prefix to sector 2, whose state forwards it to sector 3, which holds the alert and
    publishes it acknowledged. A separate alerts agent here (departures reach it in the
    `tracks` records' header), the fusion agent in the test above."""
    from sensors.push import KafkaPusher
    from streams.replay_kafka import push_paced, wait_until_consuming
    from streams.topics import ensure_topics
    from tests.kafka_utils import TopicReader, start_worker, stop_process

    full, local = crossing_sectors
    aid = _handed(local)["alert_id"]
    # the readings up to 510 s: the alert has been taken in sector 3 (~490 s) and is still
    # open (in the whole run its track ends at 523 s, and an ack then only joins the record)
    scen = tmp_path / "scen"
    scen.mkdir()
    for name in ("sensors.yaml", "zones.geojson"):
        shutil.copy(full / name, scen / name)
    lines = (full / "readings.jsonl").read_text().splitlines()
    t0 = json.loads(lines[0])["value"]["t"]
    (scen / "readings.jsonl").write_text("\n".join(
        ln for ln in lines if json.loads(ln)["value"]["t"] <= t0 + 510) + "\n")
    settings = Settings().with_overrides(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=2)
    ensure_topics(settings)
    env = {"BORDERFUSION_ALERTS_INLINE": "false",
           "BORDERFUSION_SENSORS_FILE": str(scen / "sensors.yaml"),
           "BORDERFUSION_ZONES_FILE": str(scen / "zones.geojson"),
           "BORDERFUSION_REORDER_WINDOW_S": "10", "BORDERFUSION_MAX_READING_AGE_S": "0",
           "BORDERFUSION_FUSION_SENSOR_IDLE_S": "0", "BORDERFUSION_FUSION_QUIET_FLUSH_S": "0",
           "BORDERFUSION_DATA_DIR": str(tmp_path / "var")}
    worker = start_worker(kafka_bootstrap, topic_prefix, env, ["ingest", "fusion", "alerts"],
                          tmp_path / "worker.log")
    pusher = KafkaPusher(kafka_bootstrap, topic_prefix)
    alerts = TopicReader(kafka_bootstrap, topic_prefix + "alerts")
    try:
        wait_until_consuming(settings, pusher, worker, timeout_s=60)
        push_paced(pusher, scen / "readings.jsonl", 20.0)
        vals = alerts.wait_for(lambda v: any(
            a["alert_id"] == aid and any(t.startswith("sector-3") for t in a["track_ids"])
            for a in v), 90)
        t_ack = max(a["t_last"] for a in vals if a["alert_id"] == aid)
        pusher.send("alerts.acks", {"alert_id": aid, "action": "ack", "user": "op7",
                                    "note": "boat in view", "t": t_ack}, key=aid)
        pusher.flush()
        vals = alerts.wait_for(lambda v: any(
            a["alert_id"] == aid and a["status"] == "acknowledged" for a in v), 60)
    finally:
        pusher.close()
        stop_process(worker)
    acked = [a for a in vals if a["alert_id"] == aid and a["status"] == "acknowledged"][0]
    assert acked["evidence"]["actions"][-1]["user"] == "op7"
    assert acked["sector"] == "sector-3" and acked["evidence"]["handed_over"]["from"] == "sector-2"
