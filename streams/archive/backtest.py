"""Backtest a rule change on an archived window: which alerts would it add, remove, change?

The baseline is what fired live (the archived ``alerts`` records, newest version of each
id whose first time is in the window) or, with ``baseline="replay"``, a replay of the window
with the live rules — which isolates the effect of the rules from any difference between
the live run and a replay (warm-up at the window start, acks). The acks coordinators gave
to removed alerts say what the change would have saved: a removed alert that was
dismissed is a false alarm avoided; a removed alert that was acknowledged or escalated is
a real one lost.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusion.types import Alert
from streams.archive.query import alert_history, iso
from streams.archive.replay import replay_window

COMPARED = ("rule", "severity", "zone_id", "track_ids")
SCORE_TOLERANCE = 0.05


@dataclass
class BacktestReport:
    t_from: float
    t_to: float
    baseline: str
    baseline_alerts: int
    candidate_alerts: int
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    removed_acks: dict[str, int] = field(default_factory=dict)  # last action -> count

    @property
    def false_alarms_avoided(self) -> int:
        return self.removed_acks.get("dismiss", 0)

    @property
    def confirmed_alerts_lost(self) -> int:
        return self.removed_acks.get("ack", 0) + self.removed_acks.get("escalate", 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.t_from,
            "to": self.t_to,
            "baseline": self.baseline,
            "baseline_alerts": self.baseline_alerts,
            "candidate_alerts": self.candidate_alerts,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed_acks": self.removed_acks,
            "false_alarms_avoided": self.false_alarms_avoided,
            "confirmed_alerts_lost": self.confirmed_alerts_lost,
        }

    def table(self) -> str:
        """A human summary: counts by rule, then one line per differing alert."""
        rows = [
            f"backtest {iso(self.t_from)} .. {iso(self.t_to)}  baseline: {self.baseline} "
            f"({self.baseline_alerts} alerts)  candidate: {self.candidate_alerts} alerts",
            f"added {len(self.added)}  removed {len(self.removed)}  "
            f"changed {len(self.changed)}  unchanged {self.unchanged}",
            "removed alerts' last coordinator action: "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.removed_acks.items())) or "none"),
            f"false alarms avoided (removed + dismissed): {self.false_alarms_avoided}   "
            f"confirmed alerts lost (removed + ack/escalate): {self.confirmed_alerts_lost}",
            "",
            f"{'change':8} {'alert_id':28} {'rule':20} {'severity':9} {'t_first':24} "
            "last action / what changed",
        ]
        for kind, items in (
            ("added", self.added),
            ("removed", self.removed),
            ("changed", self.changed),
        ):
            for a in items:
                rows.append(
                    f"{kind:8} {a['alert_id'][:28]:28} {a['rule'][:20]:20} "
                    f"{a['severity']:9} {iso(a['t_first']):24} "
                    f"{a.get('last_action') or ', '.join(a.get('diff', []))}"
                )
        return "\n".join(rows)


def _brief(a: Alert) -> dict[str, Any]:
    return {
        "alert_id": a.alert_id,
        "rule": a.rule,
        "severity": a.severity,
        "score": a.score,
        "t_first": a.t_first,
        "t_last": a.t_last,
        "summary": a.summary,
    }


def compare(
    baseline: dict[str, Alert],
    candidate: dict[str, Alert],
    acks: dict[str, list[dict[str, Any]]],
    t_from: float,
    t_to: float,
    baseline_name: str,
) -> BacktestReport:
    """Diff two alert sets by id; attach the last coordinator action to removed alerts."""
    rep = BacktestReport(t_from, t_to, baseline_name, len(baseline), len(candidate))
    actions: Counter[str] = Counter()
    for aid in sorted(set(candidate) - set(baseline), key=lambda i: candidate[i].t_first):
        rep.added.append(_brief(candidate[aid]))
    for aid in sorted(set(baseline) - set(candidate), key=lambda i: baseline[i].t_first):
        item = _brief(baseline[aid])
        given = acks.get(aid, [])
        item["acks"] = given
        item["last_action"] = given[-1]["action"] if given else None
        if given:
            actions[given[-1]["action"]] += 1
        rep.removed.append(item)
    for aid in sorted(set(baseline) & set(candidate), key=lambda i: baseline[i].t_first):
        b, c = baseline[aid], candidate[aid]
        diff = [f for f in COMPARED if getattr(b, f) != getattr(c, f)]
        if abs(b.score - c.score) > SCORE_TOLERANCE:
            diff.append("score")
        if diff:
            rep.changed.append(
                {
                    **_brief(c),
                    "diff": diff,
                    "before": {f: getattr(b, f) for f in (*diff,) if f != "score"}
                    | {"score": b.score},
                }
            )
        else:
            rep.unchanged += 1
    rep.removed_acks = dict(actions)
    return rep


def backtest(
    root: Path | str,
    out_dir: Path | str,
    t_from: float,
    t_to: float,
    *,
    rules_file: Path,
    live_rules_file: Path | None,
    sensors_file: Path,
    zones_file: Path | None = None,
    baseline: str = "live",
    reorder_window_s: float = 2.0,
) -> BacktestReport:
    """Replay the window with ``rules_file`` and diff it against the baseline."""
    out = Path(out_dir)
    cand, _ = replay_window(
        root,
        out / "candidate",
        t_from,
        t_to,
        sensors_file=sensors_file,
        zones_file=zones_file,
        rules_file=rules_file,
        reorder_window_s=reorder_window_s,
    )
    hist = alert_history(root, t_from, t_to + 3600.0)
    live = {aid: a for aid, a in hist.latest().items() if t_from <= a.t_first <= t_to}
    if baseline == "replay":
        base, _ = replay_window(
            root,
            out / "baseline",
            t_from,
            t_to,
            sensors_file=sensors_file,
            zones_file=zones_file,
            rules_file=live_rules_file,
            reorder_window_s=reorder_window_s,
        )
        base_alerts = base.alerts
        hist = alert_history(root, alert_ids=set(base_alerts))
    else:
        base_alerts = live
    return compare(base_alerts, cand.alerts, hist.acks, t_from, t_to, baseline)
