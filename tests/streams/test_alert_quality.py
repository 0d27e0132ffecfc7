"""End-to-end alert quality: one seeded mixed scenario, replayed in-process and scored.

A regression guard for the pipeline as a whole (tracker + rules + lifecycle + scorer), the
single-scenario slice of ``benchmarks/alert_quality.py``. The floors are what the engine
achieves today with its tracker settings (``fusion.tracker.ENGINE_TRACKER``; docs/rules.md,
"Alert quality"): crossings 9/9 found, 10 of 10 alerts true (10 of 12 before the AIS
correlation fixes of issue 5, docs/fusion.md); dark vessels 4/4, 4 of 4 (3/4 before the
fragment merge stopped folding a second dark boat into its neighbour's alert, docs/rules.md
"Fifth round"; 3 of 4 alerts true before round 4). The issue's targets (recall ≥ 95 %,
precision ≥ 90 %) hold for both rules on this scenario (not yet over the full set).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fusion.scoring import score_files
from sensors.simulate import build_scenario, write_scenario
from streams.replay import replay_scenario

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("aq")
    write_scenario(build_scenario(seed=1, duration=600.0, layout="mixed"), base / "scen")
    replay_scenario(base / "scen", base / "out")
    res = score_files(base / "scen", Path(base / "out" / "alerts.jsonl"))
    return {r["rule"]: r for r in res["rules"]} | {"_all": res}


def test_crossing_and_dark_vessel_floors(scored: dict[str, Any]) -> None:
    bc, dv = scored["border_crossing"], scored["dark_vessel"]
    assert bc["events"] == 9 and dv["events"] == 4
    assert bc["recall"] >= 0.95 and bc["precision"] >= 0.9
    # 0.7 s with the crossing rule's σ margin (5.7 s with a fixed 10 m margin at q = 0.2;
    # docs/fusion.md, "Crossing margin"); the 5 s target is over the full set
    assert bc["tta_median_s"] <= 5.0
    assert dv["recall"] >= 0.95 and dv["precision"] >= 0.9


def test_approach_warns_before_every_crossing_with_few_false_alerts(
    scored: dict[str, Any],
) -> None:
    # round 4 (docs/rules.md "Fourth round"): 9/9 crossings warned, 11 of 11 approach alerts
    # true, one false alert of any rule in 0.5 sector-hours (restricted zone: a patrol).
    # Before it: 4/9 warned, 4 of 12 approach alerts false, 8 false alerts in all.
    # With blue-force tracking (docs/friendly.md) the patrol is known: no false alert.
    # Since session 14 a track followed before an alert was raised no longer joins it
    # (docs/rules.md): an unclassified animal standing in the restricted zone beside the
    # intruder, folded into his alert until then, has its own — the one false alert left.
    abc = scored["_all"]["approach_before_crossing"]
    assert abc["crossings"] == 9 and abc["warned"] == 9
    assert scored["approach"]["precision"] >= 0.9
    sector_hours = scored["_all"]["hours"] * scored["_all"]["sectors"]
    false = round(scored["_all"]["overall"]["false_per_sector_hour"] * sector_hours)
    assert false <= 1
    assert scored["restricted_entry"]["recall"] == 1.0


def test_crossing_and_dark_vessel_targets(scored: dict[str, Any]) -> None:
    for rule in ("border_crossing", "dark_vessel"):
        r = scored[rule]
        assert r["recall"] >= 0.95 and r["precision"] >= 0.90, rule


def test_loitering_floor(scored: dict[str, Any]) -> None:
    # docs/rules.md "Sixth round": 5/5 found, no false alert with the fitted net
    # displacement (4/5 with the two end samples); the floor keeps one event of slack
    lo = scored["loitering"]
    assert lo["events"] == 5 and lo["detected"] >= 4
    assert lo["precision"] == 1.0


def test_the_benchmark_measures_a_rules_file(tmp_path: Path) -> None:
    """``benchmarks/alert_quality.py --rules FILE``: the set scored with that rules.yaml (the
    keys it leaves out keep their defaults), and the file named in the report."""
    import importlib.util
    import json

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "alert_quality.py"
    spec = importlib.util.spec_from_file_location("alert_quality_cli", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  border_crossing:\n    enabled: false\n", encoding="utf-8")
    common = ["--seeds", "1", "--layouts", "mixed", "--duration", "150", "--out-dir",
              str(tmp_path)]
    assert mod.main([*common, "--name", "shipped"]) == 0
    assert mod.main([*common, "--name", "trial", "--rules", str(rules)]) == 0

    def alerts(name: str) -> dict[str, int]:
        report = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
        return {r["rule"]: r["alerts"] for r in report["aggregate"]["rules"]}

    shipped, trial = alerts("shipped"), alerts("trial")
    assert shipped["border_crossing"] > 0 and trial.get("border_crossing", 0) == 0
    assert trial["approach"] == shipped["approach"] > 0  # the other rules as shipped
    report = json.loads((tmp_path / "trial.json").read_text(encoding="utf-8"))
    assert report["rules"] == str(rules)
    assert f"rules {rules}" in (tmp_path / "trial.md").read_text(encoding="utf-8")
