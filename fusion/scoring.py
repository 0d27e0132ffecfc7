"""Alert quality against simulated ground truth (DESIGN §7, §8): recall, precision,
time-to-alert and false alerts per hour, per rule.

Matching, in order:

1. Alerts are read from JSON lines (§6); several records of one ``alert_id`` (updates) are one
   alert whose time is its earliest ``t_first`` and whose place is where it was raised:
   ``evidence.raised`` (``t, lat, lon`` written when the alert opened), else its *first*
   record's ``lat``/``lon``. The newest record's position has followed the track since (a
   replay keeps only the newest), so using it would tie a long alert to the wrong target.
2. Each alert is tied to a truth target: the target whose truth track (positions linearly
   interpolated at the alert's time) is nearest, if within ``assoc_m``.
3. An alert can match a truth event when its rule maps to the event kind (:data:`RULE_EVENTS`),
   its time is within [event t − ``before_s``, event t + ``after_s``], directions agree (for
   crossings), and either its target is among the event's targets or, for an alert tied to no
   target, it lies within ``max_distance_m`` of the event.
4. An event is *detected* when at least one alert matches it; its time-to-alert is the earliest
   matching alert's time minus the event time (negative = warned before it happened). An alert
   is a *true* alert when it matches any event, else a false alert.

Per rule: recall = detected events / events of the rule's kinds; precision = true alerts /
alerts. False alerts per hour use the truth time span; per sector-hour divides again by the
number of sectors when the zones define any. Rules whose kinds never appear in the truth (e.g.
``sensor_silence`` unless the simulator writes such events) are reported as unscored.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusion.geodesy import LocalFrame

__all__ = ["RULE_EVENTS", "ScoreParams", "score", "score_files", "format_table"]

RULE_EVENTS: dict[str, tuple[str, ...]] = {
    "border_crossing": ("crossing",),
    "approach": ("approach", "crossing"),
    "restricted_entry": ("restricted_entry",),
    "dark_vessel": ("dark_vessel",),
    "ais_jump": ("ais_jump", "ais_anomaly", "ais_spoof"),
    "ais_duplicate_mmsi": ("ais_duplicate_mmsi", "ais_anomaly", "ais_spoof"),
    "ais_silence": ("ais_silence", "ais_anomaly", "ais_dark"),
    "loitering": ("loitering",),
    "rendezvous": ("rendezvous",),
    "sensor_silence": ("sensor_silence", "sensor_failure"),
}
# an approach alert warns of a crossing: it may match one, but crossings are scored as
# events of border_crossing only, so approach's recall is over "approach" events.
PRIMARY_EVENT: dict[str, str] = {r: kinds[0] for r, kinds in RULE_EVENTS.items()}


@dataclass(frozen=True)
class ScoreParams:
    before_s: float = 120.0  # an alert this early still counts (approach warns ahead)
    after_s: float = 120.0
    max_distance_m: float = 1000.0
    assoc_m: float = 300.0


@dataclass
class RuleScore:
    rule: str
    events: int = 0
    detected: int = 0
    alerts: int = 0
    true_alerts: int = 0
    tta: list[float] = field(default_factory=list)
    scored: bool = True

    def as_dict(self, hours: float, sectors: int) -> dict[str, Any]:
        false = self.alerts - self.true_alerts
        return {
            "rule": self.rule,
            "scored": self.scored,
            "events": self.events,
            "detected": self.detected,
            "alerts": self.alerts,
            "true_alerts": self.true_alerts,
            "false_alerts": false,
            "recall": _ratio(self.detected, self.events),
            "precision": _ratio(self.true_alerts, self.alerts),
            "tta_median_s": float(np.median(self.tta)) if self.tta else None,
            "tta_worst_s": float(np.max(self.tta)) if self.tta else None,
            "tta_s": [round(v, 3) for v in self.tta],  # per detected event, for aggregation
            "false_per_hour": false / hours if hours > 0 else None,
            "false_per_sector_hour": false / (hours * sectors) if hours > 0 and sectors else None,
        }


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not JSON ({exc.msg})") from exc
    return out


def _collapse_alerts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per alert_id: earliest t_first, first record's place, all track ids."""
    by_id: dict[str, dict[str, Any]] = {}
    for r in records:
        aid = str(r["alert_id"])
        cur = by_id.get(aid)
        if cur is None:
            by_id[aid] = {**r, "track_ids": list(r.get("track_ids") or [])}
        else:
            cur["t_first"] = min(float(cur["t_first"]), float(r["t_first"]))
            cur["track_ids"] = list(
                dict.fromkeys(cur["track_ids"] + list(r.get("track_ids") or []))
            )
    return sorted(by_id.values(), key=lambda a: (float(a["t_first"]), a["alert_id"]))


def _raised_at(alert: dict[str, Any]) -> tuple[float, float]:
    """Where the alert was raised: ``evidence.raised`` if recorded, else the record's place."""
    raised = (alert.get("evidence") or {}).get("raised")
    if isinstance(raised, dict) and "lat" in raised and "lon" in raised:
        return float(raised["lat"]), float(raised["lon"])
    return float(alert["lat"]), float(alert["lon"])


def _event_targets(ev: dict[str, Any]) -> set[str]:
    if isinstance(ev.get("targets"), list):
        return {str(t) for t in ev["targets"]}
    tgt = ev.get("target")
    if tgt is None:
        return set()
    out = {p for p in str(tgt).replace(",", "+").split("+") if p}
    # a rendezvous names both boats (``target`` and ``other``): an alert at the pair's
    # midpoint is tied to whichever of the two is nearer, and either is the event's
    if ev.get("other"):
        out.add(str(ev["other"]))
    return out


def score(
    truth: list[dict[str, Any]],
    alert_records: list[dict[str, Any]],
    params: ScoreParams | None = None,
    n_sectors: int = 0,
) -> dict[str, Any]:
    """Score alerts against truth records; returns a JSON-ready dict (see module doc)."""
    p = params or ScoreParams()
    positions = [r for r in truth if r.get("kind") == "position"]
    events = sorted((r for r in truth if r.get("kind") == "event"), key=lambda r: float(r["t"]))
    alerts = _collapse_alerts(alert_records)
    pts = positions + events + alerts
    lat0 = float(np.mean([float(r["lat"]) for r in pts])) if pts else 0.0
    lon0 = float(np.mean([float(r["lon"]) for r in pts])) if pts else 0.0
    frame = LocalFrame(lat0, lon0)

    tracks: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    by_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in positions:
        by_target[str(r["target"])].append(r)
    for tgt, rows in by_target.items():
        rows.sort(key=lambda r: float(r["t"]))
        e, n = frame.to_en([r["lat"] for r in rows], [r["lon"] for r in rows])
        tracks[tgt] = (np.array([float(r["t"]) for r in rows]), np.atleast_1d(e), np.atleast_1d(n))

    def target_at(t: float, e: float, n: float) -> str | None:
        best, best_d = None, p.assoc_m
        for tgt, (tt, te, tn) in tracks.items():
            if t < tt[0] - 5.0 or t > tt[-1] + 5.0:
                continue
            d = math.hypot(float(np.interp(t, tt, te)) - e, float(np.interp(t, tt, tn)) - n)
            if d <= best_d:
                best, best_d = tgt, d
        return best

    ev_en = (
        frame.to_en([e["lat"] for e in events], [e["lon"] for e in events])
        if events
        else (np.zeros(0), np.zeros(0))
    )
    ev_e, ev_n = np.atleast_1d(ev_en[0]), np.atleast_1d(ev_en[1])
    first_tta: dict[tuple[str, int], float] = {}
    warnings: list[tuple[float, str]] = []  # (t, target) of approach alerts
    results: dict[str, RuleScore] = {}
    kinds_present = {str(e["event"]) for e in events}
    for a in alerts:
        rule = str(a["rule"])
        rs = results.setdefault(rule, RuleScore(rule))
        rs.alerts += 1
        ta = float(a["t_first"])
        plat, plon = _raised_at(a)
        ae, an = (float(v) for v in frame.to_en(plat, plon))
        atgt = target_at(ta, ae, an)
        if rule == "approach" and atgt is not None:
            warnings.append((ta, atgt))
        matched = False
        for j, ev in enumerate(events):
            if ev["event"] not in RULE_EVENTS.get(rule, (rule,)):
                continue
            te = float(ev["t"])
            if not (te - p.before_s <= ta <= te + p.after_s):
                continue
            adir = (a.get("evidence") or {}).get("details", {}).get("direction")
            if ev.get("direction") and adir and adir != ev["direction"]:
                continue
            targets = _event_targets(ev)
            if atgt is not None and targets:
                ok = atgt in targets
            else:
                ok = math.hypot(ae - ev_e[j], an - ev_n[j]) <= p.max_distance_m
            if not ok:
                continue
            matched = True
            k = (rule, j)
            first_tta[k] = min(first_tta.get(k, math.inf), ta - te)
        rs.true_alerts += matched
    for rule in set(results) | {r for r, ks in PRIMARY_EVENT.items() if ks in kinds_present}:
        rs = results.setdefault(rule, RuleScore(rule))
        kind = PRIMARY_EVENT.get(rule, rule)
        idx = [j for j, ev in enumerate(events) if ev["event"] == kind]
        rs.events = len(idx)
        rs.detected = sum((rule, j) in first_tta for j in idx)
        rs.tta = [first_tta[(rule, j)] for j in idx if (rule, j) in first_tta]
        rs.scored = bool(set(RULE_EVENTS.get(rule, (rule,))) & kinds_present)
    # approach warned ahead: a crossing counts when an approach alert tied to the crossing
    # target was raised in the before_s preceding it
    crossings = [ev for ev in events if ev["event"] == "crossing"]
    warned = sum(
        any(
            tgt in _event_targets(ev) and float(ev["t"]) - p.before_s <= tw < float(ev["t"])
            for tw, tgt in warnings
        )
        for ev in crossings
    )
    ts = [float(r["t"]) for r in truth if "t" in r]
    hours = (max(ts) - min(ts)) / 3600.0 if len(ts) > 1 else 0.0
    rows = [results[r].as_dict(hours, n_sectors) for r in sorted(results)]
    scored = [r for r in rows if r["scored"]]
    n_false = sum(r["false_alerts"] for r in scored)
    n_alerts = sum(r["alerts"] for r in scored)
    n_ev = sum(r["events"] for r in scored)
    return {
        "hours": hours,
        "sectors": n_sectors,
        "events": len(events),
        "alerts": len(alerts),
        "params": p.__dict__,
        "rules": rows,
        "approach_before_crossing": {
            "crossings": len(crossings),
            "warned": warned,
            "fraction": _ratio(warned, len(crossings)),
        },
        "overall": {
            "recall": _ratio(sum(r["detected"] for r in scored), n_ev),
            "precision": _ratio(n_alerts - n_false, n_alerts),
            "false_per_hour": n_false / hours if hours > 0 else None,
            "false_per_sector_hour": (
                n_false / (hours * n_sectors) if hours > 0 and n_sectors else None
            ),
        },
    }


def _count_sectors(zones_path: Path) -> int:
    if not zones_path.is_file():
        return 0
    fc = json.loads(zones_path.read_text(encoding="utf-8"))
    return sum(
        1 for f in fc.get("features", []) if (f.get("properties") or {}).get("kind") == "sector"
    )


def score_files(
    scenario_dir: str | Path, alerts_path: str | Path, params: ScoreParams | None = None
) -> dict[str, Any]:
    """Score ``ALERTS`` (JSON lines) against ``SCENARIO_DIR/truth.jsonl``."""
    sdir = Path(scenario_dir)
    truth_path = sdir / "truth.jsonl"
    if not truth_path.is_file():
        raise FileNotFoundError(
            f"{truth_path}: no ground truth (only simulated scenarios have truth.jsonl)"
        )
    return score(
        _read_jsonl(truth_path),
        _read_jsonl(Path(alerts_path)),
        params,
        _count_sectors(sdir / "zones.geojson"),
    )


def _fmt(v: Any, pct: bool = False, digits: int = 1) -> str:
    if v is None:
        return "-"
    if pct:
        return f"{100 * v:.0f}%"
    return f"{v:.{digits}f}"


def format_table(result: dict[str, Any]) -> str:
    """A fixed-width table a person can read in a terminal."""
    head = (
        f"{'rule':<20}{'events':>7}{'found':>7}{'recall':>8}{'alerts':>8}{'false':>7}"
        f"{'precis.':>9}{'tta med':>9}{'tta max':>9}{'false/h':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in result["rules"]:
        name = r["rule"] + ("" if r["scored"] else " *")
        lines.append(
            f"{name:<20}{r['events']:>7}{r['detected']:>7}{_fmt(r['recall'], True):>8}"
            f"{r['alerts']:>8}{r['false_alerts']:>7}{_fmt(r['precision'], True):>9}"
            f"{_fmt(r['tta_median_s']):>9}{_fmt(r['tta_worst_s']):>9}"
            f"{_fmt(r['false_per_hour'], digits=2):>9}"
        )
    o = result["overall"]
    lines.append("-" * len(head))
    lines.append(
        f"overall: recall {_fmt(o['recall'], True)}, precision {_fmt(o['precision'], True)}, "
        f"false alerts/hour {_fmt(o['false_per_hour'], digits=2)}"
        + (
            f", per sector-hour {_fmt(o['false_per_sector_hour'], digits=3)}"
            if o["false_per_sector_hour"] is not None
            else ""
        )
        + f" over {result['hours']:.2f} h, {result['events']} events, {result['alerts']} alerts"
    )
    abc = result.get("approach_before_crossing") or {}
    if abc.get("crossings"):
        lines.append(
            f"approach alert before the crossing: {abc['warned']}/{abc['crossings']} crossings "
            f"({_fmt(abc['fraction'], True)})"
        )
    if any(not r["scored"] for r in result["rules"]):
        lines.append("* no truth events of this rule's kind: its alerts are not scored")
    return "\n".join(lines)
