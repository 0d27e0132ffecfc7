"""Alert scoring against a hand-made truth set, and the ``borderfusion score`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusion.scoring import ScoreParams, score, score_files
from tests.fusion.test_rules_scene import T0, ll


def _truth() -> list[dict]:
    rows = []
    for k in range(0, 3601, 10):  # boat B2 going north along east 3000 at 2 m/s, 1 h
        lat, lon = ll(3000, -200 + 2 * k)
        rows.append(
            {
                "kind": "position",
                "target": "B2",
                "class": "boat",
                "t": T0 + k,
                "lat": lat,
                "lon": lon,
            }
        )
        lat, lon = ll(-1000, -150)  # person P1 standing near the border
        rows.append(
            {
                "kind": "position",
                "target": "P1",
                "class": "person",
                "t": T0 + k,
                "lat": lat,
                "lon": lon,
            }
        )
    ev = [
        ("dark_vessel", "B2", 50, (3000, -100), None),
        ("crossing", "B2", 100, (3000, 0), "inbound"),
        ("loitering", "P1", 600, (-1000, -150), None),
        ("rendezvous", "B2+X9", 2000, (3000, 3800), None),
    ]
    for kind, tgt, t, (e, n), d in ev:
        lat, lon = ll(e, n)
        r = {"kind": "event", "event": kind, "target": tgt, "t": T0 + t, "lat": lat, "lon": lon}
        if d:
            r["direction"] = d
        rows.append(r)
    return rows


def _alert(
    aid: str,
    rule: str,
    t: float,
    e: float,
    n: float,
    direction: str | None = None,
    t_last: float | None = None,
) -> dict:
    lat, lon = ll(e, n)
    details = {"direction": direction} if direction else {}
    return {
        "alert_id": aid,
        "rule": rule,
        "severity": "high",
        "score": 0.8,
        "status": "open",
        "t_first": T0 + t,
        "t_last": T0 + (t_last or t),
        "lat": lat,
        "lon": lon,
        "sector": "",
        "zone_id": None,
        "track_ids": ["T1"],
        "summary": "",
        "evidence": {"obs_ids": [], "sensors": [], "details": details},
    }


def _alerts() -> list[dict]:
    return [
        _alert("a1", "border_crossing", 105, 3000, 10, "inbound"),  # tta +5 s
        _alert("a1", "border_crossing", 105, 3000, 60, "inbound", t_last=130),  # update
        _alert("a2", "border_crossing", 103, 3000, 6, "outbound"),  # wrong direction: false
        _alert("a3", "dark_vessel", 80, 3000, -40),  # tta +30 s
        _alert("a4", "dark_vessel", 70, 3000, -60),  # a second alert on it: tta +20 s
        _alert("a5", "approach", 90, 3000, -20),  # warns of the crossing: true
        _alert("a6", "loitering", 900, -1000, -150),  # 300 s after the event: too late
        _alert("a7", "loitering", 1500, -4000, -300),  # nobody there: false
        _alert("a8", "sensor_silence", 2000, 0, -3000),  # no truth of that kind: unscored
    ]


def test_hand_made_scores() -> None:
    res = score(_truth(), _alerts(), ScoreParams(before_s=120, after_s=120), n_sectors=2)
    rules = {r["rule"]: r for r in res["rules"]}
    bc = rules["border_crossing"]
    assert (bc["events"], bc["detected"], bc["alerts"], bc["true_alerts"]) == (1, 1, 2, 1)
    assert bc["recall"] == 1.0 and bc["precision"] == 0.5
    assert bc["tta_median_s"] == 5.0 and bc["tta_worst_s"] == 5.0
    dv = rules["dark_vessel"]
    assert (dv["events"], dv["detected"], dv["alerts"], dv["true_alerts"]) == (1, 1, 2, 2)
    assert dv["tta_median_s"] == 20.0  # the earliest matching alert counts
    assert rules["approach"]["precision"] == 1.0 and rules["approach"]["recall"] is None
    lo = rules["loitering"]
    assert (lo["events"], lo["detected"], lo["true_alerts"]) == (1, 0, 0)
    assert lo["recall"] == 0.0 and lo["false_per_hour"] == pytest.approx(2.0)
    rv = rules["rendezvous"]
    assert (rv["events"], rv["alerts"], rv["recall"]) == (1, 0, 0.0)
    assert rules["sensor_silence"]["scored"] is False
    o = res["overall"]
    # scored: 4 events (crossing, dark, loitering, rendezvous), 2 detected; 7 alerts, 4 true
    assert o["recall"] == pytest.approx(2 / 4)
    assert o["precision"] == pytest.approx(4 / 7)
    assert res["hours"] == pytest.approx(1.0)
    assert o["false_per_hour"] == pytest.approx(3.0)
    assert o["false_per_sector_hour"] == pytest.approx(1.5)


def test_wider_window_catches_late_alert() -> None:
    res = score(_truth(), _alerts(), ScoreParams(after_s=400))
    lo = {r["rule"]: r for r in res["rules"]}["loitering"]
    assert lo["detected"] == 1 and lo["tta_worst_s"] == 300.0


def test_target_mismatch_is_not_a_match() -> None:
    # a dark-vessel alert at the person's position at the right time is not the boat's event
    res = score(_truth(), [_alert("x", "dark_vessel", 60, -1000, -150)])
    dv = {r["rule"]: r for r in res["rules"]}["dark_vessel"]
    assert dv["true_alerts"] == 0 and dv["detected"] == 0


def _write(tmp_path: Path) -> tuple[Path, Path]:
    scen = tmp_path / "scen"
    scen.mkdir()
    (scen / "truth.jsonl").write_text("\n".join(json.dumps(r) for r in _truth()) + "\n")
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("\n".join(json.dumps(a) for a in _alerts()) + "\n")
    return scen, alerts


def test_score_files_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from streams.commands import score as score_cmd

    scen, alerts = _write(tmp_path)
    assert score_files(scen, alerts)["alerts"] == 8
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    score_cmd.register(sub)
    args = parser.parse_args(["score", str(scen), str(alerts), "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["overall"]["precision"] == pytest.approx(4 / 7)
    args = parser.parse_args(["score", str(scen), str(alerts)])
    assert args.func(args) == 0
    table = capsys.readouterr().out
    assert "border_crossing" in table and "50%" in table and "sensor_silence *" in table
    args = parser.parse_args(["score", str(tmp_path), str(alerts)])
    assert args.func(args) == 2
    assert "truth.jsonl" in capsys.readouterr().err


def test_alert_is_placed_where_it_was_raised() -> None:
    """A replay keeps only an alert's newest record, whose lat/lon has followed the track;
    ``evidence.raised`` says where it began, and the scorer ties the alert to that target."""
    a = _alert("r1", "dark_vessel", 80, -1000, -150, t_last=900)  # newest: at the person
    lat, lon = ll(3000, -40)
    a["evidence"]["raised"] = {"t": T0 + 80, "lat": lat, "lon": lon}  # raised at the boat
    dv = {r["rule"]: r for r in score(_truth(), [a])["rules"]}["dark_vessel"]
    assert dv["true_alerts"] == 1 and dv["detected"] == 1


def test_approach_before_crossing_fraction() -> None:
    res = score(_truth(), _alerts())
    assert res["approach_before_crossing"] == {"crossings": 1, "warned": 1, "fraction": 1.0}
    late = [_alert("w", "approach", 150, 3000, 100)]  # after the crossing: no warning
    res = score(_truth(), late)
    assert res["approach_before_crossing"]["warned"] == 0


def test_explain_lists_false_alerts_and_missed_events_with_causes() -> None:
    """``benchmarks/alert_explain.py`` (``alert_quality.py --explain``) on the hand-made truth."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "alert_explain.py"
    spec = importlib.util.spec_from_file_location("alert_explain", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    alerts = [
        _alert("c1", "border_crossing", 105, 3000, 10, "inbound"),  # true
        _alert("x1", "restricted_entry", 300, -1000, -150),  # at P1, who has no such event
        _alert("x2", "approach", 700, 5900, 5900),  # nobody within assoc_m
    ]
    ex = mod.explain(_truth(), alerts, None, {"B2": "threat", "P1": "patrol"})
    causes = {f["alert_id"]: " ".join(f["causes"]) for f in ex["false_alerts"]}
    assert set(causes) == {"x1", "x2"}
    assert "non-threat (patrol)" in causes["x1"] and causes["x2"].startswith("clutter")
    missed = {m["event"] for m in ex["missed"]}
    assert missed == {"dark_vessel", "loitering", "rendezvous"}
    assert [u["target"] for u in ex["unwarned_crossings"]] == ["B2"]


def test_rendezvous_alert_tied_to_either_boat_matches() -> None:
    """A rendezvous event names both boats (``target``, ``other``); the alert sits at the
    pair's midpoint and is tied to whichever boat is nearer: the other boat counts too."""
    rows = []
    for k in range(0, 301, 10):
        for tgt, e in (("X1", 3000.0), ("X2", 3009.0)):  # 9 m apart, waiting together
            lat, lon = ll(e, 500)
            rows.append({"kind": "position", "target": tgt, "class": "boat", "t": T0 + k,
                         "lat": lat, "lon": lon})  # fmt: skip
    lat, lon = ll(3004.5, 500)
    rows.append({"kind": "event", "event": "rendezvous", "target": "X1", "other": "X2",
                 "t": T0 + 100, "lat": lat, "lon": lon})  # fmt: skip
    alert = _alert("r1", "rendezvous", 160, 3008, 500)  # nearer X2
    rv = {r["rule"]: r for r in score(rows, [alert])["rules"]}["rendezvous"]
    assert (rv["detected"], rv["true_alerts"]) == (1, 1)
    # a third boat's alert there still is not the pair's
    rows += [{**r, "target": "B7"} for r in rows if r.get("target") == "X2"]
    rows = [r for r in rows if r.get("target") != "X2" or r["kind"] == "event"]
    rv = {r["rule"]: r for r in score(rows, [alert])["rules"]}["rendezvous"]
    assert (rv["detected"], rv["true_alerts"]) == (0, 0)
