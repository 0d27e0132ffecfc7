"""Dark vessel: a radar/thermal track on water, confirmed for a while, with no AIS behind it.

"No AIS" means no AIS on the track for longer than the vessel's *expected* reporting
interval (ITU-R M.1371): the tracker keeps a track's MMSI after its transponder falls silent,
so "has an MMSI" alone never saw a vessel that switches AIS off (the go-dark case). At speed
a class B unit reports every 30 s, so ``ais_timeout_s`` (65 s) outlasts two lost reports; a
vessel that was slow (≤ 2 kn class B, at anchor class A) when it last reported is on a 3 min
cycle, so after a report at under ``slow_mps`` the wait is ``slow_ais_timeout_s`` (200 s);
a track whose AIS has kept it company without a gap for ``steady_s`` (25 s) is hearing a
report every ≤ 10 s (class A under way): ``steady_ais_timeout_s`` (30 s after the station
leaves its sources, ~40 s after the last report: three lost in a row is 1 in 8000).
Measured: every AIS boat that sat at its start for 20 s reported there at 0 kn, sped off and
was called dark 65 s later (7 of 14 false alerts, issue #5). The speed at the last report is
the reporting row's own (an AIS track's from SOG/COG; a fused track's while AIS is among its
sources), and a report heard before the AIS track was paired with the radar track counts for
the MMSI, so the pairing inherits it.

A track that never had AIS is not dark before the rule has listened for ``warmup_s``: at
start-up every AIS vessel already on the water is a radar track whose first report (class B:
up to 30 s, one lost: 60 s) is still to come (measured: the legitimate boats of three
scenarios were called dark 25 s in).

The alert ends (resolves) once AIS is back for ``clear_s``, or the track is off the water
for ``land_clear_s``: a boat at the bank (a ferry landing a passenger for a minute) whose
noisy position wanders on and off the water polygon, or a track that picks up one stray AIS
report of a vessel passing by, would otherwise be resolved and re-raised as a new alert.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from fusion.rules.base import Batch, Context, Hit, Rule, sensor_bonus


def expected_timeout(ref: list[float], cfg: dict[str, Any]) -> float:
    """How long without AIS before a vessel last heard as ``ref`` (``report_speed``) counts
    as silent: slow → the 3 min cycle; AIS without a gap for ``steady_s`` → reports every
    ≤ 10 s (class A under way) → ``steady_ais_timeout_s``; else a class B at speed."""
    if ref[1] < float(cfg["slow_mps"]):
        return float(cfg["slow_ais_timeout_s"])
    if len(ref) > 2 and ref[0] - ref[2] >= float(cfg["steady_s"]):
        return float(cfg["steady_ais_timeout_s"])
    return float(cfg["ais_timeout_s"])


def last_report(last_ais: dict[str, Any], track_id: str) -> list[float] | None:
    """``last_ais[track_id]`` as ``[t, speed, t of the run's start]``; a snapshot of the
    older state layout (a bare time) is converted in place."""
    ref = last_ais.get(track_id)
    if isinstance(ref, (int, float)):
        ref = last_ais[track_id] = [float(ref), math.inf, float(ref)]
    return ref


def report_speed(prev: list[float] | None, t: float, speed: float) -> list[float]:
    """[t, speed, t of the run's start] after an AIS-fed update at ``t``.

    A track keeps the AIS station among its sources for ~10 s after a report, so the
    update that carried the report is not marked: the speed is smoothed over the AIS-fed
    updates (time constant ``SMOOTH_S``; a run more than ``RUN_S`` after the last starts
    afresh), since one radar update of a boat under way may read 1 m/s and one of a boat
    at rest 2 m/s."""
    if prev is None or len(prev) < 3 or t - prev[0] > RUN_S or not math.isfinite(prev[1]):
        return [t, speed, t]
    a = 1.0 - math.exp(-max(t - prev[0], 0.0) / SMOOTH_S)
    return [t, prev[1] + a * (speed - prev[1]), prev[2]]


RUN_S = 12.0
SMOOTH_S = 5.0


class DarkVessel(Rule):
    name = "dark_vessel"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": "high",
        "score": 0.7,
        "min_confirmed_s": 20.0,  # confirmed this long before it counts
        "sensor_kinds": ["radar", "thermal"],
        "exclude_classes": ["animal", "person", "vehicle"],
        "clear_s": 15.0,  # AIS back this long before the alert is resolved
        "land_clear_s": 60.0,  # off the water this long before the alert is resolved
        "ais_timeout_s": 65.0,  # no AIS this long after a report at speed: silent
        "slow_mps": 1.5,  # last report slower than this (2 kn + radar speed noise) ...
        "slow_ais_timeout_s": 200.0,  # ... is on a 3 min cycle: silent after this long
        "steady_s": 25.0,  # AIS among the sources this long without a gap (reports ≤ 10 s
        "steady_ais_timeout_s": 30.0,  # apart: class A under way): silent after this long
        "warmup_s": 65.0,  # a track that never had AIS is not dark before the rule has
        # listened this long (start-up: first reports still to come)
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        # track -> t confirmed; track -> water zone; track -> t it stopped looking dark;
        # track -> [t of the last AIS-fed update, speed reported, t] (``report_speed``);
        # str(mmsi) -> same, from AIS tracks (reports heard before the pairing); first t seen
        self.state = {
            "confirmed_since": {},
            "dark": {},
            "clear_since": {},
            "last_ais": {},
            "mmsi_ais": {},
            "started": None,
        }

    def _ais_ref(self, u: Any, fed: bool, speed: float) -> list[float] | None:
        """[t, speed] of the track's last AIS report (its own, or its MMSI's), or None."""
        last_ais: dict[str, Any] = self.state["last_ais"]
        mmsi_ais: dict[str, list[float]] = self.state["mmsi_ais"]
        ref = last_report(last_ais, u.track_id)
        if fed:
            ref = last_ais[u.track_id] = report_speed(ref, u.t, speed)
        if u.mmsi is not None:
            m = mmsi_ais.get(str(u.mmsi))
            if m is not None and (ref is None or m[0] > ref[0]):
                ref = m
            elif ref is None:
                # paired, but no report seen by this rule: count from the pairing
                ref = last_ais[u.track_id] = [u.t, math.inf, u.t]
        return ref

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        since: dict[str, float] = self.state["confirmed_since"]
        dark: dict[str, str] = self.state["dark"]
        clear: dict[str, float] = self.state.setdefault("clear_since", {})
        self.state.setdefault("last_ais", {})
        mmsi_ais: dict[str, list[float]] = self.state.setdefault("mmsi_ais", {})
        if len(batch) and self.state.get("started") is None:
            self.state["started"] = float(batch.t.min())
        started = float(self.state["started"]) if self.state.get("started") is not None else 0.0
        kinds = set(self.cfg["sensor_kinds"])
        excluded = set(self.cfg["exclude_classes"])
        speed = np.hypot(batch.ve, batch.vn)
        hits = []
        for i in range(len(batch)):
            u = batch.updates[i]
            fed = "ais" in batch.kinds[i] and u.status != "coasting"
            if fed and u.mmsi is not None and not (batch.kinds[i] - {"ais"}):
                # an AIS track of its own (not paired): its reports speak for the MMSI
                key = str(u.mmsi)
                # (its rows are the reports themselves: not "steady", which counts from the
                # station leaving a fused track's sources ~10 s after the last report)
                mmsi_ais[key] = [*report_speed(mmsi_ais.get(key), u.t, float(speed[i]))[:2], u.t]
                continue
            if u.status == "confirmed":
                since.setdefault(u.track_id, u.t)
            on_water = bool(batch.water[i])
            ref = self._ais_ref(u, fed, float(speed[i]))
            ais_live = ref is not None and u.t - ref[0] <= expected_timeout(ref, self.cfg)
            warm = ref is not None or u.t - started >= self.cfg["warmup_s"]
            is_dark = (
                on_water
                and not ais_live
                and warm
                and bool(batch.kinds[i] & kinds)
                and (u.classification or "unknown") not in excluded
                and u.status in ("confirmed", "coasting")
            )
            aged = u.track_id in since and u.t - since[u.track_id] >= self.cfg["min_confirmed_s"]
            if is_dark and aged:
                clear.pop(u.track_id, None)
                zid = dark.get(u.track_id) or batch.water[i][0]
                dark[u.track_id] = zid
                zone = ctx.zones.by_id[zid]
                head = f"{ctx.subject(u, True)} on {zone.name}"
                hits.append(
                    self.hit(
                        batch,
                        i,
                        zid,
                        ctx.sentence(head, u.lat, u.lon, u.t, u.sources),
                        self.cfg["score"] + sensor_bonus(batch.kinds[i]),
                        dark_for_s=round(u.t - since[u.track_id], 1),
                    )
                )
            elif u.track_id in dark and not is_dark:
                t_clear = clear.setdefault(u.track_id, u.t)
                wait = self.cfg["clear_s"] if ais_live or on_water else self.cfg["land_clear_s"]
                if u.t - t_clear < wait:
                    continue  # maybe noise: keep the alert open, say nothing yet
                clear.pop(u.track_id, None)
                zid = dark.pop(u.track_id)
                why = "AIS now correlated" if ais_live else "left the water"
                head = f"{ctx.subject(u)} is no longer dark ({why})"
                h = self.hit(
                    batch, i, zid, ctx.sentence(head, u.lat, u.lon, u.t, u.sources), 0.0, reason=why
                )
                h.active = False
                hits.append(h)
        return hits

    def is_dark(self, track_id: str) -> bool:
        return track_id in self.state["dark"]


def dark_mask(batch: Batch, ctx: Context) -> np.ndarray:
    """Rows that are on water without AIS (no minimum age): used by the rendezvous rule."""
    on_water = np.array([bool(w) for w in batch.water], dtype=bool)
    return on_water & ~batch.has_ais
