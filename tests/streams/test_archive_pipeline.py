"""The archive end to end over a simulated "live" run: export, window replay (same alert
ids as live), backtest with a stricter rule set, and the incident report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fusion.types import Alert
from sensors.simulate import build_scenario, write_scenario
from streams.archive.backtest import backtest
from streams.archive.offline import archive_scenario_run
from streams.archive.query import alert_history
from streams.archive.store import ArchiveStore, verify_archive
from streams.cli import main

pytestmark = pytest.mark.slow
START = 1_717_212_600.0  # 2024-06-01T03:30:00Z


def coordinator(alert: Alert) -> dict[str, Any]:
    """Dismiss every approach alert as a false alarm, acknowledge the rest."""
    if alert.rule == "approach":
        return {"action": "dismiss", "user": "op-anna", "note": "patrol, known"}
    return {"action": "ack", "user": "op-ivan", "note": "unit dispatched"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("archive-live")
    scen = base / "scenario"
    write_scenario(build_scenario(5, 150.0, "mixed", START, 1.0), scen)
    root = base / "archive"
    with ArchiveStore(root, segment_s=60) as store:
        result, versions = archive_scenario_run(scen, store, ack_policy=coordinator)
        store.seal()
    assert versions, "the simulated run raised no alert; the scenario is too quiet"
    return {
        "scen": scen,
        "root": root,
        "result": result,
        "versions": versions,
        "argv": ["archive", "--archive", str(root)],
        "files": ["--sensors", str(scen / "sensors.yaml"), "--zones", str(scen / "zones.geojson")],
    }


def test_live_run_archive_verifies(live: dict[str, Any]) -> None:
    report = verify_archive(live["root"])
    assert report.ok, report.first
    hist = alert_history(live["root"])
    assert set(hist.versions) == {v["alert_id"] for v in live["versions"]}
    assert sum(len(v) for v in hist.versions.values()) == len(live["versions"])
    assert all(len(hist.acks[aid]) == 1 for aid in hist.versions)


def test_window_replay_reproduces_live_alert_ids(
    live: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "replayed"
    rc = main(
        [
            *live["argv"],
            "replay",
            "--from",
            "2024-06-01T03:30:00Z",
            "--to",
            str(START + 150),
            *live["files"],
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    replayed = {json.loads(ln)["alert_id"] for ln in open(out / "alerts.jsonl")}
    assert replayed == set(live["result"].alerts)
    assert (out / "tracks.jsonl").stat().st_size > 0


def test_export_writes_a_scenario_that_replay_runs(live: dict[str, Any], tmp_path: Path) -> None:
    scen, out = tmp_path / "window", tmp_path / "run"
    rc = main(
        [
            *live["argv"],
            "export",
            "--from",
            str(START + 30),
            "--to",
            str(START + 90),
            *live["files"],
            "--out",
            str(scen),
        ]
    )
    assert rc == 0
    lines = [json.loads(ln) for ln in open(scen / "readings.jsonl")]
    ts = [ln["value"]["t"] for ln in lines]
    assert ts == sorted(ts) and START + 30 <= ts[0] and ts[-1] <= START + 90
    src = [json.loads(ln) for ln in open(live["scen"] / "readings.jsonl")]
    assert len(lines) == sum(1 for s in src if START + 30 <= s["value"]["t"] <= START + 90)
    assert (scen / "sensors.yaml").read_text() == (live["scen"] / "sensors.yaml").read_text()
    assert main(["replay", str(scen), "--out", str(out)]) == 0
    assert (out / "alerts.jsonl").exists() and (out / "tracks.jsonl").stat().st_size > 0


def test_backtest_disabling_a_rule_reports_removed_alerts_and_their_acks(
    live: dict[str, Any], tmp_path: Path
) -> None:
    rules = tmp_path / "strict.yaml"
    rules.write_text("rules:\n  approach:\n    enabled: false\n")
    approach = {aid for aid, a in live["result"].alerts.items() if a.rule == "approach"}
    assert approach, "scenario has no approach alert to remove"
    rep = backtest(
        live["root"],
        tmp_path / "work",
        START,
        START + 150,
        rules_file=rules,
        live_rules_file=None,
        sensors_file=live["scen"] / "sensors.yaml",
        zones_file=live["scen"] / "zones.geojson",
    )
    assert {a["alert_id"] for a in rep.removed} == approach
    assert rep.added == []
    assert rep.removed_acks == {"dismiss": len(approach)}
    assert rep.false_alarms_avoided == len(approach) and rep.confirmed_alerts_lost == 0
    assert all(a["acks"][0]["user"] == "op-anna" for a in rep.removed)
    assert rep.unchanged + len(rep.changed) == len(live["result"].alerts) - len(approach)


def test_report_is_self_contained_with_alert_summary_and_acks(
    live: dict[str, Any], tmp_path: Path
) -> None:
    from streams.report.build import build_report

    alert = next(a for a in live["result"].alerts.values() if a.rule != "approach")
    out = tmp_path / "incident.html"
    written = build_report(
        live["root"],
        alert.alert_id,
        out,
        sensors_file=live["scen"] / "sensors.yaml",
        zones_file=live["scen"] / "zones.geojson",
    )
    page = out.read_text()
    assert "http" not in page and "src=" not in page and "<link" not in page
    assert alert.alert_id in page
    import html

    assert html.escape(alert.summary) in page
    assert "op-ivan" in page and "<b>ack</b>" in page
    gj = json.loads(written["geojson"].read_text())
    assert gj["features"][-1]["properties"]["alert_id"] == alert.alert_id
    assert any(f["properties"].get("incident") for f in gj["features"][:-1])
    if "png" in written:
        assert written["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
