"""``Rule.forget``: the per-track history a deleted track leaves behind is dropped."""

from __future__ import annotations

from fusion.rules.base import Rule


def test_forget_drops_the_ids_from_every_per_track_table_and_nothing_else() -> None:
    rule = Rule()
    rule.state = {
        "last": {"S-T1": [1.0], "S-T2": [2.0], "S-T3": [3.0]},
        "inside": {"S-T1": {"zone": 5.0}},
        "order": ["S-T1"],  # not a table keyed by track id: left alone
        "started": 12.0,
    }
    rule.forget({"S-T1", "S-T9"})
    assert rule.state == {
        "last": {"S-T2": [2.0], "S-T3": [3.0]},
        "inside": {},
        "order": ["S-T1"],
        "started": 12.0,
    }
    assert list(rule.state["last"]) == ["S-T2", "S-T3"]  # insertion order kept
    rule.forget(set())
    assert list(rule.state["last"]) == ["S-T2", "S-T3"]
