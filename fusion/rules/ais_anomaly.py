"""AIS anomalies: impossible jump or speed, one MMSI in two places, AIS silence near the border.

State is keyed by MMSI (not track): a spoofed or jumping position usually starts a *new*
track with the same MMSI, so the evidence is in comparing tracks that share an identity.

- ``ais_jump``: consecutive reports of one MMSI (any track) more than ``dup_window_s`` apart
  imply a speed above ``max_speed_mps`` over at least ``min_jump_m``; or a track with an MMSI
  moves faster than ``max_speed_mps``.
- ``ais_duplicate_mmsi``: two different tracks report the same MMSI within ``window_s`` of each
  other and more than ``min_separation_m`` apart.
- ``ais_silence``: a track that had AIS (an MMSI and AIS sources) stops getting AIS for
  longer than its expected reporting interval (``silence_s`` after a report at speed,
  ``slow_silence_s`` after one under ``slow_mps``: a slow class B unit reports every 3 min)
  while within ``near_border_m`` of the border, and nothing else shows where it is: a track
  still fed by radar/thermal on the water is the ``dark_vessel`` rule's (DESIGN §6: a vessel
  that switches AIS off and is still seen is a dark vessel, which is also what the simulator's
  truth calls it), so with ``defer_to_dark`` such updates raise nothing here (measured: every
  go-dark boat got an ``ais_silence`` alert beside its ``dark_vessel`` one, issue #5). An
  update "gets AIS" when an AIS sensor is among its sources and it is not coasting.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from fusion.rules.base import Batch, Context, Hit, Rule
from fusion.rules.dark_vessel import last_report, report_speed


class AisJump(Rule):
    name = "ais_jump"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": "medium",
        "score": 0.6,
        "max_speed_mps": 30.0,  # ~58 kn: nothing on a river border goes faster
        "min_jump_m": 500.0,
        "dup_window_s": 10.0,  # closer in time than this is ais_duplicate_mmsi's business
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        self.state = {"last": {}}  # str(mmsi) -> [t, e, n, track_id]

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        last: dict[str, list[Any]] = self.state["last"]
        speed = np.hypot(batch.ve, batch.vn)
        vmax = float(self.cfg["max_speed_mps"])
        hits = []
        for i in range(len(batch)):
            u = batch.updates[i]
            if u.mmsi is None:
                continue
            key = str(u.mmsi)
            prev = last.get(key)
            e, n = float(batch.e[i]), float(batch.n[i])
            if prev is not None:
                dt = u.t - prev[0]
                dist = math.hypot(e - prev[1], n - prev[2])
                if (
                    dt > self.cfg["dup_window_s"]
                    and dist >= self.cfg["min_jump_m"]
                    and dist / dt > vmax
                ):
                    head = (
                        f"{ctx.subject(u)} jumped {dist:.0f} m in {dt:.0f} s "
                        f"({dist / dt:.0f} m/s, impossible)"
                    )
                    hits.append(
                        self.hit(
                            batch,
                            i,
                            None,
                            ctx.sentence(head, u.lat, u.lon, u.t, u.sources),
                            self.cfg["score"],
                            anomaly="jump",
                            jump_m=round(dist, 1),
                            dt_s=round(dt, 1),
                            previous_track=prev[3],
                        )
                    )
            if speed[i] > vmax and u.status != "tentative":
                head = f"{ctx.subject(u)} moves at {speed[i]:.0f} m/s (impossible)"
                hits.append(
                    self.hit(
                        batch,
                        i,
                        None,
                        ctx.sentence(head, u.lat, u.lon, u.t, u.sources),
                        self.cfg["score"],
                        anomaly="speed",
                        speed_mps=round(float(speed[i]), 1),
                    )
                )
            last[key] = [u.t, e, n, u.track_id]
        return hits

    def forget(self, track_ids: set[str]) -> None:
        pass  # keyed by MMSI: a jump is exactly a new track reusing the identity


class AisDuplicateMmsi(Rule):
    name = "ais_duplicate_mmsi"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": "high",
        "score": 0.7,
        "window_s": 10.0,
        "min_separation_m": 1000.0,
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        self.state = {"seen": {}}  # str(mmsi) -> {track_id: [t, e, n]}

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        seen: dict[str, dict[str, list[float]]] = self.state["seen"]
        hits = []
        for i in range(len(batch)):
            u = batch.updates[i]
            if u.mmsi is None:
                continue
            tracks = seen.setdefault(str(u.mmsi), {})
            e, n = float(batch.e[i]), float(batch.n[i])
            tracks[u.track_id] = [u.t, e, n]
            for other in sorted(tracks):
                ot, oe, on = tracks[other]
                if other == u.track_id:
                    continue
                if u.t - ot > self.cfg["window_s"]:
                    del tracks[other]
                    continue
                sep = math.hypot(e - oe, n - on)
                if sep >= self.cfg["min_separation_m"]:
                    head = (
                        f"MMSI {u.mmsi} reported in two places {sep:.0f} m apart "
                        f"(tracks {other} and {u.track_id})"
                    )
                    h = self.hit(
                        batch,
                        i,
                        None,
                        ctx.sentence(head, u.lat, u.lon, u.t, u.sources),
                        self.cfg["score"],
                        separation_m=round(sep, 1),
                        other_track=other,
                    )
                    h.track_key = f"mmsi:{u.mmsi}"  # one alert per identity, not per track
                    h.track_ids = sorted([u.track_id, other])
                    hits.append(h)
                    break
        return hits

    def forget(self, track_ids: set[str]) -> None:
        for tracks in self.state["seen"].values():
            for tid in track_ids & set(tracks):
                del tracks[tid]


class AisSilence(Rule):
    name = "ais_silence"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": "medium",
        "score": 0.6,
        "silence_s": 60.0,  # after a report at speed (class B: 30 s period)
        "slow_mps": 1.5,  # a report slower than this (2 kn + radar speed noise) ...
        "slow_silence_s": 200.0,  # ... is on a 3 min cycle
        "near_border_m": 2000.0,
        "defer_to_dark": True,  # seen by radar/thermal on water: dark_vessel's, not ours
        "dark_kinds": ["radar", "thermal"],
    }

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg)
        # track id -> [t of the last AIS-fed update, speed reported, t] (``report_speed``),
        # + a 4th item once it was seen on the water without AIS (dark_vessel's since)
        self.state = {"last_ais": {}}

    def evaluate(self, batch: Batch, ctx: Context) -> list[Hit]:
        last_ais: dict[str, Any] = self.state["last_ais"]
        # nan (no border): never near
        near = np.abs(batch.prox.signed_distance_m) <= self.cfg["near_border_m"]
        speed = np.hypot(batch.ve, batch.vn)
        dark_kinds = set(self.cfg["dark_kinds"])
        hits = []
        for i in range(len(batch)):
            u = batch.updates[i]
            ref = last_report(last_ais, u.track_id)
            fed = "ais" in batch.kinds[i] and u.status != "coasting"
            if fed:
                last_ais[u.track_id] = report_speed(ref, u.t, float(speed[i]))
                continue
            if ref is None or not near[i]:
                continue
            seen = u.status != "coasting" and bool(batch.kinds[i] & dark_kinds)
            if self.cfg["defer_to_dark"] and (seen and batch.water[i] or len(ref) > 3):
                # seen on the water since its AIS went quiet: a dark vessel, until AIS is
                # back (also once its track coasts: the dark_vessel alert is still open)
                if len(ref) == 3:
                    ref.append(1.0)
                continue
            quiet = u.t - ref[0]
            slow = ref[1] < self.cfg["slow_mps"]
            if quiet >= self.cfg["slow_silence_s" if slow else "silence_s"]:
                d = abs(float(batch.prox.signed_distance_m[i]))
                head = (
                    f"{ctx.subject(u)} stopped transmitting AIS {quiet:.0f} s ago, "
                    f"{d:.0f} m from the border"
                )
                hits.append(
                    self.hit(
                        batch,
                        i,
                        None,
                        ctx.sentence(head, u.lat, u.lon, u.t, u.sources),
                        self.cfg["score"],
                        silent_s=round(quiet, 1),
                        distance_m=round(d, 1),
                    )
                )
        return hits
