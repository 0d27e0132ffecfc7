"""Blue-force tracking through a broker: ``readings.friendly`` is consumed by the ingest
agent, and the own-force marks (``friendly`` on track updates) and alert ids equal the
in-process replay's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.replay import replay_scenario
from streams.replay_kafka import replay_via_kafka
from streams.settings import Settings

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _marks(out: Path) -> set[tuple[str, str]]:
    rows = [json.loads(ln) for ln in (out / "tracks.jsonl").read_text().splitlines() if ln]
    return {(r["track_id"], r["friendly"]) for r in rows if r.get("friendly")}


def _ids(out: Path) -> set[str]:
    return {json.loads(ln)["alert_id"] for ln in (out / "alerts.jsonl").read_text().splitlines()
            if ln}


def test_bft_marks_and_alerts_agree_in_process_and_via_kafka(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    from sensors.simulate import build_scenario, write_scenario

    scen = tmp_path / "scen"
    write_scenario(build_scenario(seed=3, duration=150, layout="forest"), scen)
    assert '"readings.friendly"' in (scen / "readings.jsonl").read_text()
    local = replay_scenario(scen, tmp_path / "a", reorder_window_s=10.0)
    assert _marks(tmp_path / "a"), "no own-force track in-process: nothing compared"
    settings = Settings().with_overrides(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=2
    )
    via = replay_via_kafka(
        scen, tmp_path / "b", settings, speed=10.0, reorder_window_s=10.0, timeout_s=120
    )
    assert via.readings == local.readings
    assert _marks(tmp_path / "b") == _marks(tmp_path / "a")
    assert _ids(tmp_path / "b") == _ids(tmp_path / "a")
