"""Why an alert was false or an event missed: per-scenario lists for analysts (issue #5).

``benchmarks/alert_quality.py --explain`` calls :func:`explain` for every scenario and writes
``benchmarks/results/<name>_explain.md``. For each scored alert that matched no truth event it
names the truth target at the place the alert was raised (role and class, as the simulator
cast it), the alert's tracks, sensors and details, and a *likely cause*; for each missed event
the tracks that were near the target and the rule's alerts on it outside the scoring window.
Crossings without an approach warning get a line each too (the "approach before crossing"
figure). The causes are heuristics over the truth — an analyst's first guess, not a verdict:

- ``clutter``: no truth target within ``assoc_m`` of the alert;
- ``non-threat (<role>)``: a patrol, legitimate vessel, animal or checkpoint traffic;
- ``track swap``: the alert's track followed another target for most of its life;
- ``hand-over duplicate``: another alert of the rule on the same target from another sector
  within the window;
- ``duplicate``: another alert of the rule on the same target (same sector) that matched;
- ``no event in window``: a threat, but no event of the rule's kinds for it within the window
  (``early``/``late`` if there is one outside it);
- per rule: ``at the line`` (crossing/approach on a target truly within 30 m of the border),
  ``along the border`` (approach on a target whose true course runs along the line), and so on.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from fusion.geodesy import LocalFrame
from fusion.geofence import Zones
from fusion.scoring import RULE_EVENTS, ScoreParams, _collapse_alerts, _event_targets, _raised_at
from fusion.types import TrackUpdate

__all__ = ["explain"]


class _Truth:
    """Truth positions per target in one local frame, interpolated on demand."""

    def __init__(self, truth: list[dict[str, Any]], frame: LocalFrame) -> None:
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in truth:
            if r.get("kind") == "position":
                rows[str(r["target"])].append(r)
        self.frame = frame
        self.cls = {t: str(v[0].get("class", "")) for t, v in rows.items()}
        self.tracks: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for tgt, v in rows.items():
            v.sort(key=lambda r: float(r["t"]))
            e, n = frame.to_en([r["lat"] for r in v], [r["lon"] for r in v])
            self.tracks[tgt] = (
                np.array([float(r["t"]) for r in v]),
                np.atleast_1d(e),
                np.atleast_1d(n),
            )

    def at(self, tgt: str, t: float) -> tuple[float, float] | None:
        tt, te, tn = self.tracks[tgt]
        if t < tt[0] - 5.0 or t > tt[-1] + 5.0:
            return None
        return float(np.interp(t, tt, te)), float(np.interp(t, tt, tn))

    def nearest(self, t: float, e: float, n: float, within: float) -> tuple[str | None, float]:
        best, best_d = None, math.inf
        for tgt in self.tracks:
            p = self.at(tgt, t)
            if p is None:
                continue
            d = math.hypot(p[0] - e, p[1] - n)
            if d < best_d:
                best, best_d = tgt, d
        return (best if best_d <= within else None), best_d


def explain(
    truth: list[dict[str, Any]],
    alert_records: list[dict[str, Any]],
    zones: Zones | None,
    roles: dict[str, str],
    tracks: list[TrackUpdate] | None = None,
    params: ScoreParams | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """False alerts, missed events and unwarned crossings of one scenario, with causes.

    ``roles`` maps truth target id → role (threat, legit, patrol, animal); ``tracks`` are the
    replay's track updates (for "which tracks were near the target"), optional.
    """
    p = params or ScoreParams()
    events = sorted((r for r in truth if r.get("kind") == "event"), key=lambda r: float(r["t"]))
    alerts = _collapse_alerts(alert_records)
    pts = [r for r in truth if r.get("kind") == "position"] + events + alerts
    frame = LocalFrame(
        float(np.mean([float(r["lat"]) for r in pts])) if pts else 0.0,
        float(np.mean([float(r["lon"]) for r in pts])) if pts else 0.0,
    )
    tr = _Truth(truth, frame)

    def border_dist(tgt: str, t: float) -> float | None:
        if zones is None or not zones.borders:
            return None
        tt, te, tn = tr.tracks[tgt]
        if t < tt[0] - 5.0 or t > tt[-1] + 5.0:
            return None
        lat, lon = frame.to_latlon(float(np.interp(t, tt, te)), float(np.interp(t, tt, tn)))
        prox = zones.border_proximity(
            np.atleast_1d(lat), np.atleast_1d(lon), np.zeros(1), np.zeros(1)
        )
        return float(prox.signed_distance_m[0])

    def true_closing(tgt: str, t: float) -> float | None:
        a, b = border_dist(tgt, t - 5.0), border_dist(tgt, t + 5.0)
        if a is None or b is None:
            return None
        return (abs(a) - abs(b)) / 10.0

    # per track: which truth target it followed most of the time (for swaps / missed events)
    by_track: dict[str, list[TrackUpdate]] = defaultdict(list)
    for u in tracks or []:
        by_track[u.track_id].append(u)
    follow: dict[str, str | None] = {}
    for tid, ups in by_track.items():
        votes: dict[str | None, int] = defaultdict(int)
        for u in ups[:: max(1, len(ups) // 20)]:
            e, n = frame.to_en(u.lat, u.lon)
            votes[tr.nearest(u.t, float(e), float(n), p.assoc_m)[0]] += 1
        follow[tid] = max(votes, key=lambda k: votes[k]) if votes else None

    rows = []
    for a in alerts:
        ta = float(a["t_first"])
        lat, lon = _raised_at(a)
        ae, an = (float(v) for v in frame.to_en(lat, lon))
        tgt, dist = tr.nearest(ta, ae, an, p.assoc_m)
        det = (a.get("evidence") or {}).get("details") or {}
        matched = []
        near_miss = []
        for j, ev in enumerate(events):
            if ev["event"] not in RULE_EVENTS.get(a["rule"], (a["rule"],)):
                continue
            targets = _event_targets(ev)
            te = float(ev["t"])
            in_time = te - p.before_s <= ta <= te + p.after_s
            adir = det.get("direction")
            dir_ok = not (ev.get("direction") and adir and adir != ev["direction"])
            if tgt is not None and targets:
                who = tgt in targets
            else:
                ee, en = (float(v) for v in frame.to_en(ev["lat"], ev["lon"]))
                who = math.hypot(ae - ee, an - en) <= p.max_distance_m
            if in_time and dir_ok and who:
                matched.append(j)
            elif who:
                near_miss.append((j, ta - te, dir_ok))
        rows.append(
            {
                "alert": a,
                "t": ta,
                "target": tgt,
                "dist": dist,
                "matched": matched,
                "near": near_miss,
            }
        )

    t0 = min((float(r["t"]) for r in truth if "t" in r), default=0.0)
    false_alerts = []
    for r in rows:
        if r["matched"]:
            continue
        a, tgt = r["alert"], r["target"]
        rule = str(a["rule"])
        det = (a.get("evidence") or {}).get("details") or {}
        causes = []
        if tgt is None:
            causes.append(f"clutter (nearest target {r['dist']:.0f} m)")
        else:
            role = roles.get(tgt, "?")
            if role != "threat":
                causes.append(f"non-threat ({role})")
            tids = list(a.get("track_ids") or [])
            followed = {follow.get(t) for t in tids if t in follow}
            if followed and tgt not in followed and followed != {None}:
                causes.append(f"track swap (track followed {sorted(map(str, followed))})")
            others = [
                o
                for o in rows
                if o is not r
                and o["alert"]["rule"] == rule
                and o["target"] == tgt
                and abs(o["t"] - r["t"]) <= p.after_s
            ]
            if any(o["alert"].get("sector") != a.get("sector") for o in others):
                causes.append("hand-over duplicate (other sector's alert on the target)")
            elif others:
                causes.append("duplicate (another alert on the target)")
            bd = border_dist(tgt, r["t"])
            if rule in ("border_crossing", "approach") and bd is not None:
                if abs(bd) < 30.0:
                    causes.append(f"at the line (true distance {bd:+.0f} m)")
                cl = true_closing(tgt, r["t"])
                if rule == "approach" and cl is not None and abs(bd) >= 30.0:
                    causes.append("along/away from the border" if cl < 0.3 else "truly closing")
                    causes[-1] += f" (true closing {cl:.1f} m/s, distance {bd:+.0f} m)"
            if r["near"] and role == "threat":
                dt = min(r["near"], key=lambda x: abs(x[1]))
                ev = events[dt[0]]
                what = "early" if dt[1] < 0 else "late"
                if not dt[2]:
                    what = "wrong direction"
                causes.append(f"{what}: {ev['event']} event at {dt[1]:+.0f} s")
            elif role == "threat" and not any(c.startswith("at the line") for c in causes):
                causes.append("threat, no event of this kind for it")
        false_alerts.append(
            {
                "rule": rule,
                "t": round(r["t"] - t0, 1),
                "alert_id": a["alert_id"],
                "sector": a.get("sector"),
                "tracks": list(a.get("track_ids") or []),
                "target": tgt,
                "target_class": tr.cls.get(tgt or "", ""),
                "target_role": roles.get(tgt or "", ""),
                "sensors": sorted((a.get("evidence") or {}).get("sensors") or []),
                "classification": a.get("classification"),
                "details": {k: v for k, v in det.items() if k not in ("raised",)},
                "causes": causes or ["unexplained"],
            }
        )

    missed = []
    detected = {j for r in rows for j in r["matched"]}
    primary = {kinds[0] for kinds in RULE_EVENTS.values()}
    for j, ev in enumerate(events):
        if j in detected or ev["event"] not in primary:
            continue
        rule = next(r for r, kinds in RULE_EVENTS.items() if kinds[0] == ev["event"])
        te = float(ev["t"])
        targets = _event_targets(ev)
        causes = []
        on_tgt = [r for r in rows if r["alert"]["rule"] == rule and r["target"] in targets]
        if on_tgt:
            best = min(on_tgt, key=lambda r: abs(r["t"] - te))
            causes.append(f"alert on the target at {best['t'] - te:+.0f} s (outside window)")
        near_tracks = []
        for tid, ups in by_track.items():
            if follow.get(tid) not in targets:
                continue
            near_tracks.append(
                f"{tid} {ups[0].t - te:+.0f}..{ups[-1].t - te:+.0f} s "
                f"({'/'.join(sorted({u.status for u in ups}))})"
            )
        if tracks is not None and not near_tracks:
            causes.append("no track followed the target (coverage / tracker)")
        elif not on_tgt:
            causes.append("tracked, rule did not fire")
        missed.append(
            {
                "event": ev["event"],
                "t": round(te - t0, 1),
                "target": ev.get("target"),
                "class": ev.get("class"),
                "direction": ev.get("direction"),
                "tracks": near_tracks[:6],
                "causes": causes,
            }
        )

    unwarned = []
    warnings = [(r["t"], r["target"]) for r in rows if r["alert"]["rule"] == "approach"]
    for ev in events:
        if ev["event"] != "crossing":
            continue
        te, targets = float(ev["t"]), _event_targets(ev)
        if any(tg in targets and te - p.before_s <= tw < te for tw, tg in warnings):
            continue
        late = [tw - te for tw, tg in warnings if tg in targets and abs(tw - te) <= 300]
        tgt = next(iter(targets), "")
        spans = []
        for tid, ups in by_track.items():
            if follow.get(tid) != tgt:
                continue
            conf = [u.t for u in ups if u.status == "confirmed"]
            spans.append(
                f"{tid} born {ups[0].t - te:+.0f} s"
                + (f", confirmed {conf[0] - te:+.0f} s" if conf else ", never confirmed")
                + f", cls {ups[-1].classification}"
            )
        d_before = [border_dist(tgt, te - s) for s in (60.0, 30.0, 10.0)]
        unwarned.append(
            {
                "t": round(te - t0, 1),
                "target": tgt,
                "class": ev.get("class"),
                "role": roles.get(tgt, "?"),
                "direction": ev.get("direction"),
                "true_dist_60_30_10s_before": [None if d is None else round(d) for d in d_before],
                "approach_alerts_at": [round(v, 1) for v in late],
                "tracks": spans[:5],
            }
        )
    return {"false_alerts": false_alerts, "missed": missed, "unwarned_crossings": unwarned}


def markdown(name: str, ex: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One scenario's section of the ``_explain.md`` file."""
    out = [f"## {name}", ""]
    out.append(f"False alerts ({len(ex['false_alerts'])}):")
    out.append("")
    for f in ex["false_alerts"]:
        out.append(
            f"- t={f['t']:.0f} s {f['rule']} {f['alert_id']} [{f['sector']}] tracks "
            f"{','.join(f['tracks'])} target {f['target'] or '-'} "
            f"({f['target_role'] or '-'} {f['target_class'] or ''}) cls "
            f"{f['classification']} sensors {','.join(f['sensors'])} "
            f"{f['details']} — {'; '.join(f['causes'])}"
        )
    out += ["", f"Missed events ({len(ex['missed'])}):", ""]
    for m in ex["missed"]:
        out.append(
            f"- t={m['t']:.0f} s {m['event']} {m['target']} ({m['class']}"
            f"{', ' + m['direction'] if m['direction'] else ''}) tracks "
            f"[{'; '.join(m['tracks'])}] — {'; '.join(m['causes'])}"
        )
    out += ["", f"Crossings without an approach warning ({len(ex['unwarned_crossings'])}):", ""]
    for u in ex["unwarned_crossings"]:
        out.append(
            f"- t={u['t']:.0f} s {u['target']} ({u['role']} {u['class']}, {u['direction']}) "
            f"true distance 60/30/10 s before {u['true_dist_60_30_10s_before']} m; approach "
            f"alerts at {u['approach_alerts_at']} s; tracks [{'; '.join(u['tracks'])}]"
        )
    return out + [""]
