"""Rule configuration, corroboration scoring and sensor silence."""

from __future__ import annotations

import pytest

from fusion.alerts import AlertEngine
from fusion.rules import RULE_CLASSES, RuleConfigError, build_rules, default_rules_config
from tests.fusion.test_rules_scene import SENSORS, T0, feed, only, scene, walk


def test_default_file_covers_every_rule_with_valid_keys() -> None:
    cfg = default_rules_config()
    assert set(cfg["rules"]) == set(RULE_CLASSES)
    rules = build_rules(cfg)  # raises on an unknown key
    for name, rule in rules.items():
        assert rule.enabled, name
        assert set(cfg["rules"][name]) == set(rule.cfg), f"{name}: defaults and file differ"
        for k, v in cfg["rules"][name].items():
            assert rule.defaults.get(k, True if k == "enabled" else None) == v, (name, k)


@pytest.mark.parametrize(
    ("cfg", "words"),
    [
        ({"rules": {"aproach": {}}}, ["aproach"]),
        ({"rules": {"approach": {"threshold": 5}}}, ["approach", "threshold"]),
        ({"rules": {"dark_vessel": {"severity": "urgent"}}}, ["dark_vessel", "severity"]),
        ({"engine": {"supress": 1}}, ["supress"]),
        ({"ruls": {}}, ["ruls"]),
    ],
)
def test_bad_config_names_rule_and_key(cfg: dict, words: list[str]) -> None:
    with pytest.raises(RuleConfigError) as err:
        AlertEngine(scene(), cfg, SENSORS)
    assert all(w in str(err.value) for w in words)


def test_corroboration_raises_score_of_alert_on_that_track() -> None:
    cfg = only("border_crossing", "corroboration")
    plain = feed(
        AlertEngine(scene(), cfg, SENSORS), walk("T", (-1000, 100), (0, -2), 20, sources=["C2"])
    )
    both = feed(
        AlertEngine(scene(), cfg, SENSORS),
        walk("T", (-1000, 100), (0, -2), 20, sources=["C2", "G1"]),
    )
    assert plain[0].score == pytest.approx(0.8)
    # +0.1 for a second sensor kind, +0.2 corroboration
    assert both[0].score == pytest.approx(1.0)
    assert both[0].evidence["details"]["corroborated_by"] == ["C2", "G1"]
    assert "corroborated_by" not in plain[0].evidence["details"]


def test_sensor_silence_opens_and_resolves() -> None:
    eng = AlertEngine(scene(), only("sensor_silence"), SENSORS)
    period = {"R1": 2.0, "G1": 60.0}
    assert eng.check_sensor_silence(T0 + 20, {"R1": T0 + 19, "G1": T0}, period) == []
    out = eng.check_sensor_silence(T0 + 40, {"R1": T0 + 5, "G1": T0}, period)
    assert [(a.rule, a.track_ids, a.status) for a in out] == [("sensor_silence", [], "open")]
    assert "radar sensor R1" in out[0].summary and out[0].evidence["sensors"] == ["R1"]
    assert out[0].sector == "SEC-W"  # R1 sits at east -200 m
    again = eng.check_sensor_silence(T0 + 41, {"R1": T0 + 5, "G1": T0}, period)
    assert again == []  # unchanged: not re-sent
    back = eng.check_sensor_silence(T0 + 45, {"R1": T0 + 44, "G1": T0}, period)
    assert [(a.alert_id, a.status) for a in back] == [(out[0].alert_id, "resolved")]
