"""The alert lifecycle: rules' hits in, deduplicated alerts (DESIGN §6) out.

One alert per (rule, track, zone) while it is open or acknowledged: later hits refresh it in
place (``t_last``, position, score, evidence). Its ``alert_id`` is a short hash of rule, track,
zone and an episode number, so replaying the same stream gives the same ids. Coordinators'
actions (``alerts.acks``) change the status; a dismissal suppresses the same (rule, track,
zone) for a while; an acknowledged alert whose track then crosses the border is escalated
(severity up one level, back to ``open``, ``evidence.escalated``). A deleted track resolves its
alerts. Everything the engine holds snapshots to plain JSON and restores.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
from collections import OrderedDict
from typing import Any

import numpy as np

from fusion.friendly import drop_own_force
from fusion.geofence import Zones
from fusion.rules import Batch, Context, Hit, Rule, RuleConfigError, build_rules
from fusion.rules.corroboration import Corroboration
from fusion.rules.sensor_silence import SensorSilence
from fusion.types import SEVERITIES, Alert, TrackUpdate

__all__ = ["ENGINE_DEFAULTS", "AlertEngine", "alert_id_for"]

log = logging.getLogger(__name__)

ENGINE_DEFAULTS: dict[str, Any] = {
    "emit_interval_s": 30.0,
    "score_delta": 0.05,
    "suppress_after_dismiss_s": 600.0,
    "suppress_after_resolve_s": 300.0,
    "max_evidence": 50,
    "max_closed": 2000,
    # ... and for at most this long after their last change (event time): the closed set is
    # in every alert-state checkpoint, so a count cap alone let a busy sector's reach MBs
    "closed_ttl_s": 3600.0,
    # a new track's hit joins an alert of the same rule and zone raised on another track
    # within this distance and time (track fragmentation: one target, several track ids)
    "merge_radius_m": 150.0,
    "merge_window_s": 60.0,
    # ... unless one of that alert's tracks was updated this recently (0: merge regardless)
    # and is still within ``merge_live_apart_m`` of the hit: a live track beside the new one
    # follows another target (the tracker deletes duplicate tracks); one that has moved
    # away has left the alert's target for another (a track swap), and the new track is
    # the target's successor (docs/rules.md, "Fifth round")
    "merge_skip_live_s": 2.0,
    "merge_live_apart_m": 50.0,
    # sector hand-over: when a track with a live alert of these rules leaves the sector, the
    # alert goes to the sector it entered, which continues it (same id) on its own track of
    # the target if that raises the same rule and zone within ``handover_window_s``, no
    # farther than ``handover_radius_m`` + ``handover_speed_mps`` × the time since (else it
    # resolves it); a dismissal's suppression travels the same way ([] turns it off).
    # Dark vessel only by default: loitering/restricted/approach measured no better or worse
    # (docs/rules.md, "Eighth round")
    "handover_rules": ["dark_vessel"],
    "handover_window_s": 120.0,
    "handover_radius_m": 150.0,
    "handover_speed_mps": 5.0,
    # a track back over the border within this long of its crossing alert's last crossing
    # updates that alert (``evidence.crossings``) instead of opening a second one: a track
    # at the line flips over and back on noise within seconds, and a real quick return is
    # one incident for the patrol (0: every crossing back is a new alert; docs/rules.md,
    # "Ninth round")
    "crossing_return_s": 30.0,
}
# rules whose hits are about one track (pair, MMSI and sensor keys are never merged)
MERGEABLE = ("border_crossing", "approach", "restricted_entry", "dark_vessel", "loitering")
LIVE = ("open", "acknowledged")
MAX_FLIPS = 20  # a crossing alert's ``evidence.crossings`` keeps this many
# sensor track ids (``fusion.tracker.SectorTracker.track_id``: "<sector>-T<n>", n from a
# checkpointed counter) are never reused once deleted; AIS tracks ("<sector>-AIS<mmsi>") are
SENSOR_TRACK_ID = re.compile(r"-T[0-9]+$")
PRUNE_EVERY_S = 60.0  # event time between sweeps of episode counters and suppressions
SNAPSHOT_VERSION = 1


def alert_id_for(rule: str, track_key: str, zone_id: str | None, episode: int) -> str:
    """Deterministic id: same (rule, track, zone, episode) → same id, on any machine."""
    raw = f"{rule}\x1f{track_key}\x1f{zone_id or ''}\x1f{episode}".encode()
    return hashlib.sha1(raw).hexdigest()[:16]


def _escalated_by(ack: dict[str, Any]) -> str:
    return f"escalated by {ack.get('user') or 'a coordinator'}"


def _key(rule: str, track_key: str, zone_id: str | None) -> str:
    return f"{rule}|{track_key}|{zone_id or ''}"


def _severity_up(sev: str) -> str:
    i = SEVERITIES.index(sev) if sev in SEVERITIES else 0
    return SEVERITIES[min(i + 1, len(SEVERITIES) - 1)]


_ALERT_FIELDS = tuple(Alert.__dataclass_fields__)


def _plain_copy(v: Any) -> Any:
    """A deep copy of plain JSON data (dicts, lists, scalars): what ``copy.deepcopy`` gives
    for an alert dict, several times faster (no memo, no dispatch)."""
    if isinstance(v, dict):
        return {k: _plain_copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain_copy(x) for x in v]
    return v


def _alert_of(a: dict[str, Any]) -> Alert:
    """The published record of alert dict ``a``: a copy, so later refreshes leave it alone."""
    return Alert(**{k: _plain_copy(a[k]) for k in _ALERT_FIELDS if k in a})


def _engine_cfg(rules_cfg: dict[str, Any] | None) -> dict[str, Any]:
    section = dict((rules_cfg or {}).get("engine") or {})
    unknown = sorted(set(section) - set(ENGINE_DEFAULTS))
    if unknown:
        raise RuleConfigError(
            f"rules config: unknown engine key(s) {unknown}; known: {sorted(ENGINE_DEFAULTS)}"
        )
    return {**ENGINE_DEFAULTS, **section}


class AlertEngine:
    """Runs the rules over batches of track updates and keeps the alerts' lifecycle."""

    def __init__(
        self,
        zones: Zones,
        rules_cfg: dict[str, Any] | None = None,
        sensors: dict[str, dict[str, Any]] | None = None,
        id_prefix: str = "",
    ):
        # ``id_prefix`` (the owning sector + ":") lets an ack be routed to the partition
        # that holds this engine's state; the hash part stays the stable situation id.
        self.id_prefix = id_prefix
        self.zones = zones
        self.ctx = Context(zones, sensors)
        self.rules_cfg: dict[str, Any] = copy.deepcopy(rules_cfg or {})
        self.cfg = _engine_cfg(self.rules_cfg)
        self.rules: dict[str, Rule] = build_rules(self.rules_cfg)
        self.live: dict[str, dict[str, Any]] = {}  # key -> alert dict (open/acknowledged)
        self.closed: OrderedDict[str, dict[str, Any]] = OrderedDict()  # alert id -> alert
        self.episodes: dict[str, int] = {}  # key -> episodes opened so far
        self.suppressed: dict[str, float] = {}  # key -> quiet until t
        self.last_emit: dict[str, float] = {}  # alert id -> t of last emission
        self.last_pos: dict[str, list[float]] = {}  # track -> [t, lat, lon]
        # track -> event time of its first update here (a track that already existed when an
        # alert was raised is no fragment of that alert's track: ``_join_fragment``)
        self.first_seen: dict[str, float] = {}
        self.alias: dict[str, str] = {}  # key of a fragment's hits -> key of the alert it joined
        # sector hand-over (see ``hand_over``): alerts sent away (alert id -> [sector, t]: where
        # an ack for one goes), and those received, waiting for a track here (id -> offer)
        self.handed: dict[str, list[Any]] = {}
        self.offers: dict[str, dict[str, Any]] = {}
        self._pending: list[Alert] = []  # alerts a hit changed besides its own (closed ones)
        self.now = 0.0
        self._next_prune = 0.0

    # ------------------------------------------------------------------ rules
    def reload_rules(self, rules_cfg: dict[str, Any] | None) -> None:
        """New thresholds/enabled flags; open alerts and rule history are kept."""
        new_cfg = _engine_cfg(rules_cfg)
        rules = build_rules(rules_cfg)
        for name, rule in rules.items():
            rule.state = self.rules[name].state
        self.rules, self.cfg = rules, new_cfg
        self.rules_cfg = copy.deepcopy(rules_cfg or {})
        log.info("rules reloaded: enabled=%s", [n for n, r in rules.items() if r.enabled])

    # ------------------------------------------------------------------ batches
    def process(self, updates: list[TrackUpdate], now: float | None = None) -> list[Alert]:
        """Evaluate the rules on a batch; return alerts that are new or changed."""
        if not updates:
            return []
        order = sorted(range(len(updates)), key=lambda i: (updates[i].t, updates[i].track_id))
        # a batch may hold several scans of one track: split into waves, one row per track
        waves: list[list[TrackUpdate]] = []
        seen_in: dict[str, int] = {}
        for i in order:
            u = updates[i]
            w = seen_in.get(u.track_id, -1) + 1
            seen_in[u.track_id] = w
            if w == len(waves):
                waves.append([])
            waves[w].append(u)
        out: dict[str, Alert] = {}
        for wave in waves:
            for a in self._process_wave(wave):
                out[a.alert_id] = a
        if now is not None:
            self.now = max(self.now, float(now))
        if self.offers:
            for a in self._expire_offers():
                out[a.alert_id] = a
        if self.now >= self._next_prune:
            self._prune()
        return list(out.values())

    def _prune(self) -> None:
        """Drop what can never matter again, so a long run holds bounded state (issue #9).

        ``episodes`` gained one key per alert ever raised: a key naming a deleted sensor
        track (gone from ``last_pos``; its id never comes back) can open no new episode,
        unless it is live or a live fragment's alias points at it. Suppressions past their
        time suppress nothing. AIS, MMSI and sensor keys stay (bounded by the fleet)."""
        self._next_prune = self.now + PRUNE_EVERY_S
        targets = set(self.alias.values())
        for key in list(self.episodes):
            if key in self.live or key in targets:
                continue
            rule, track_key, _zone = key.split("|", 2)
            if rule != "sensor_silence" and any(
                SENSOR_TRACK_ID.search(t) and t not in self.last_pos
                for t in track_key.split("+")  # rendezvous pair keys are "a+b"
            ):
                del self.episodes[key]
        old = self.now - PRUNE_EVERY_S  # margin: a batch may hold hits older than ``now``
        for key in [k for k, until in self.suppressed.items() if until < old]:
            del self.suppressed[key]
        # closed alerts in closing order: drop from the oldest while past their retention
        expired = self.now - max(float(self.cfg["closed_ttl_s"]), float(self.cfg["merge_window_s"]))
        for aid in [aid for aid, (_to, t) in self.handed.items() if t < expired]:
            del self.handed[aid]
        while self.closed:
            aid, a = next(iter(self.closed.items()))
            if float(a.get("t_last") or 0.0) >= expired:
                break
            del self.closed[aid]
            self.last_emit.pop(aid, None)

    def _batch(self, ups: list[TrackUpdate]) -> Batch:
        """The rows and every geofence answer the rules read, for all rows at once.

        Positions go to local metres once (and the previous ones once), and one array of
        points serves every zone query: a call's fixed cost is what limits how small the
        fusion buckets can be (issue 9)."""
        z = self.zones
        lat = np.array([u.lat for u in ups], dtype=float)
        lon = np.array([u.lon for u in ups], dtype=float)
        ve = np.array([u.vel_e for u in ups], dtype=float)
        vn = np.array([u.vel_n for u in ups], dtype=float)
        prev = np.array([self.last_pos.get(u.track_id, [np.nan] * 3) for u in ups], dtype=float)
        has_prev = ~np.isnan(prev[:, 0])
        p_lat = np.where(has_prev, prev[:, 1], lat)
        p_lon = np.where(has_prev, prev[:, 2], lon)
        e, n = z.to_en(lat, lon)
        e0, n0 = z.to_en(p_lat, p_lon)
        pts = z.points(e, n)
        kinds = [{self.ctx.kind_of(s) for s in u.sources} for u in ups]
        has_ais = np.array(
            [u.mmsi is not None or "ais" in k for u, k in zip(ups, kinds, strict=True)]
        )
        if z.of_kind("sector"):
            sectors = [ids[0] if ids else "" for ids in z.zone_ids_at_en("sector", e, n, pts)]
        else:
            sectors = [u.sector for u in ups]
        prox = z.border_proximity_en(e, n, ve, vn, pts)
        return Batch(
            updates=ups,
            ids=[u.track_id for u in ups],
            t=np.array([u.t for u in ups], dtype=float),
            lat=lat,
            lon=lon,
            e=e,
            n=n,
            ve=ve,
            vn=vn,
            status=np.array([u.status for u in ups]),
            prev_t=prev[:, 0],
            prev_lat=prev[:, 1],
            prev_lon=prev[:, 2],
            crossings=z.crossings_en(e0, n0, e, n, prox.signed_distance_m),
            prox=prox,
            water=z.zone_ids_at_en("water", e, n, pts),
            restricted=z.zone_ids_at_en("restricted", e, n, pts),
            strip=z.zone_ids_at_en("strip", e, n, pts),
            sectors=[s or u.sector for s, u in zip(sectors, ups, strict=True)],
            kinds=kinds,
            has_ais=has_ais,
        )

    def _process_wave(self, ups: list[TrackUpdate]) -> list[Alert]:
        alive = [u for u in ups if u.status != "deleted"]
        deleted = [u for u in ups if u.status == "deleted"]
        changed: list[Alert] = []
        if alive:
            batch = self._batch(alive)
            hits: list[Hit] = []
            for rule in self.rules.values():
                if rule.enabled and not isinstance(rule, Corroboration | SensorSilence):
                    hits.extend(rule.evaluate(batch, self.ctx))
            hits = drop_own_force(hits, alive)  # own patrols (blue-force tracking)
            corr = self.rules["corroboration"]
            boosted = (
                corr.corroborated(batch, self.ctx)  # type: ignore[attr-defined]
                if corr.enabled
                else {}
            )
            for h in hits:
                by = boosted.get(h.track_key)
                if by and h.active:
                    h.score = min(1.0, h.score + float(corr.cfg["boost"]))
                    h.details["corroborated_by"] = by
            for h in hits:
                a = self._apply_hit(h)
                changed.extend(self._pending)
                self._pending.clear()
                if a is not None:
                    changed.append(a)
            crossed = {h.track_key for h in hits if h.rule == "border_crossing"}
            changed.extend(self._escalate_on_crossing(crossed, hits))
            first = self.first_seen
            for u in alive:
                self.last_pos[u.track_id] = [u.t, u.lat, u.lon]
                if u.track_id not in first:
                    first[u.track_id] = u.t
            self.now = max(self.now, float(batch.t.max()))
        if deleted:
            changed.extend(self._tracks_gone(deleted))
        return changed

    # ------------------------------------------------------------------ lifecycle
    def _apply_hit(self, h: Hit) -> Alert | None:
        key = _key(h.rule, h.track_key, h.zone_id)
        key = self.alias.get(key, key)
        cur = self.live.get(key)
        if not h.active:
            if cur is None:
                return None
            if cur.get("_merged"):
                # the situation ended for this fragment; another may still carry it
                holders = [t for t in cur.get("_holders", []) if t != h.track_key]
                cur["_holders"] = holders
                if any(t in self.last_pos for t in holders):
                    return None
            cur["summary"] = h.summary
            cur["t_last"] = max(cur["t_last"], h.t)
            return self._close(key, "resolved", h.t)
        if self.suppressed.get(key, -np.inf) > h.t:
            return None
        if cur is not None and h.rule == "border_crossing" and self._crossed_back(cur, h):
            if h.t - float(cur["t_last"]) <= float(self.cfg["crossing_return_s"]):
                return self._note_return(cur, h)
            # a new crossing (the ferry going back): its own alert, the first one ends
            cur["evidence"]["resolved_because"] = f"crossed again ({h.details['direction']})"
            self._pending.append(self._close(key, "resolved", h.t))
            return self._open(key, h)
        if cur is None:
            joined = self._join_fragment(key, h)
            if joined is not None:
                return joined
            if self.offers:
                offer = self._matching_offer(h)
                if offer is not None:
                    return self._take_offer(key, offer, h)
            return self._open(key, h)
        return self._refresh(key, cur, h)

    @staticmethod
    def _crossed_back(a: dict[str, Any], h: Hit) -> bool:
        """A crossing in the other direction is a new event, not a refresh of the open one."""
        before = a["evidence"].get("details", {}).get("direction")
        return bool(before and h.details.get("direction") not in (None, before))

    def _note_return(self, a: dict[str, Any], h: Hit) -> Alert:
        """Back over the line soon after the alert's last crossing: one incident. The alert
        keeps its id and status and takes the new crossing (direction, place, summary: where
        the target is now; of two opposite crossings seconds apart one is often a young or
        noisy track's flip, and it may be either), with the ones before in
        ``evidence.crossings``; it is published at once."""
        ev = a["evidence"]
        flips = ev.setdefault("crossings", [])
        if not flips:
            flips.append({"t": a["t_last"], "direction": ev["details"].get("direction")})
        before = flips[-1]
        flips.append({"t": h.t, "direction": h.details.get("direction")})
        del flips[:-MAX_FLIPS]
        self._merge(a, h)
        a["summary"] = (
            f"{h.summary.rstrip('.')} ({h.t - float(before['t']):.0f} s after crossing "
            f"{before['direction']})."
        )
        return self._emit(a, h.t)

    def _join_fragment(self, key: str, h: Hit) -> Alert | None:
        """Attach ``h`` to an alert of the same rule and zone raised on another track nearby.

        The tracker loses and re-creates a track when a target stops, is missed for a few
        scans or manoeuvres; each new track id used to open a new alert for the same target
        (measured: 6 restricted-zone alerts for one intruder). A hit that would open an
        alert instead joins a live alert — or one closed only because its track was deleted —
        of the same rule and zone whose last position is within ``merge_radius_m`` and whose
        last hit is within ``merge_window_s``. Two targets that close together share one
        alert, which is what a coordinator dispatching a patrol wants anyway -- unless the
        alert's own track is still updated (``merge_skip_live_s``) and beside the hit
        (``merge_live_apart_m``): then the new track follows a second target (a boat waiting
        9 m from a dark boat was folded into its alert and never reported). A live track
        that has moved away from the hit has swapped onto another target (a walker who
        left the boat he landed from): the new track is the alert target's successor. A
        track already followed here when the alert was raised (``first_seen``) is never its
        successor: two tracks at once are two targets (a walker heading for the line 85 m
        from a loiterer had his approach folded into the loiterer's alert, raised a minute
        before on the loiterer's track, and was never warned of).
        """
        radius, window = float(self.cfg["merge_radius_m"]), float(self.cfg["merge_window_s"])
        live_s = float(self.cfg["merge_skip_live_s"])
        if h.rule not in MERGEABLE or radius <= 0 or h.track_ids != [h.track_key]:
            return None
        direction = h.details.get("direction")
        born = self.first_seen.get(h.track_key, h.t)
        e0, n0 = self.zones.to_en(np.array([h.lat]), np.array([h.lon]))
        best: tuple[float, dict[str, Any]] | None = None
        pool = list(self.live.values()) + list(reversed(list(self.closed.values())[-200:]))
        for a in pool:
            if a["rule"] != h.rule or a["zone_id"] != h.zone_id or h.track_key in a["track_ids"]:
                continue
            if a["status"] not in LIVE and not str(
                a["evidence"].get("resolved_because", "")
            ).startswith("track "):
                continue
            if not 0.0 <= h.t - a["t_last"] <= window:
                continue
            if born < float(a["evidence"].get("raised", {}).get("t", a["t_first"])):
                continue  # both tracks existed when the alert was raised: two targets
            adir = a["evidence"].get("details", {}).get("direction")
            if direction and adir and adir != direction:
                continue
            e1, n1 = self.zones.to_en(np.array([a["lat"]]), np.array([a["lon"]]))
            d = float(np.hypot(e1 - e0, n1 - n0)[0])
            if d > radius or (best is not None and d >= best[0]):
                continue
            if live_s > 0 and self._carried(a, h, live_s, e0, n0):
                continue
            best = (d, a)
        if best is None:
            return None
        a = best[1]
        old_key = a["_key"]
        if old_key in self.live and self.live[old_key] is not a:
            return None  # its key has a newer episode open: leave both alone
        if a["status"] not in LIVE:
            self.closed.pop(a["alert_id"], None)
            a["status"] = "open"
            a["evidence"].pop("resolved_because", None)
            self.live[old_key] = a
        if not a.get("_merged"):
            a["_holders"] = [t for t in a["track_ids"] if t != h.track_key]
        a["_merged"] = True
        a["_holders"] = list(dict.fromkeys(a["_holders"] + [h.track_key]))
        self.alias[key] = old_key
        out = self._refresh(old_key, a, h)
        return out if out is not None else self._emit(a, h.t)

    def _carried(
        self, a: dict[str, Any], h: Hit, within_s: float, e0: np.ndarray, n0: np.ndarray
    ) -> bool:
        """Is one of ``a``'s tracks updated within ``within_s`` of the hit and still beside
        it (``merge_live_apart_m``)? Then it follows a target of its own."""
        apart = float(self.cfg["merge_live_apart_m"])
        for tid in a["track_ids"]:
            last = self.last_pos.get(tid)
            if last is None or h.t - last[0] > within_s:
                continue
            e1, n1 = self.zones.to_en(np.array([last[1]]), np.array([last[2]]))
            d = float(np.hypot(e1 - e0, n1 - n0)[0])
            if d <= apart:
                return True
        return False

    def _open(self, key: str, h: Hit) -> Alert:
        self.suppressed.pop(key, None)
        ep = self.episodes.get(key, 0) + 1
        self.episodes[key] = ep
        aid = self.id_prefix + alert_id_for(h.rule, h.track_key, h.zone_id, ep)
        # ``raised``: where and when the alert was opened. ``lat``/``lon`` follow the track,
        # so the newest record alone (what a replay keeps) no longer says where it began.
        ev: dict[str, Any] = {
            "obs_ids": [],
            "sensors": [],
            "details": {},
            "raised": {"t": h.t, "lat": h.lat, "lon": h.lon},
        }
        a = {
            "alert_id": aid,
            "rule": h.rule,
            "severity": h.severity,
            "score": 0.0,
            "status": "open",
            "t_first": h.t,
            "t_last": h.t,
            "lat": h.lat,
            "lon": h.lon,
            "sector": h.sector,
            "zone_id": h.zone_id,
            "track_ids": list(h.track_ids),
            "summary": h.summary,
            "evidence": ev,
            "mmsi": h.mmsi,
            "classification": h.classification,
            "_key": key,
        }
        self._merge(a, h)
        self.live[key] = a
        log.info("alert opened %s %s %s", aid, h.rule, h.summary)
        return self._emit(a, h.t)

    def _merge(self, a: dict[str, Any], h: Hit) -> None:
        ev = a["evidence"]
        ev["obs_ids"] = (ev["obs_ids"] + [o for o in h.obs_ids if o not in ev["obs_ids"]])[
            -int(self.cfg["max_evidence"]) :
        ]
        ev["sensors"] = sorted(set(ev["sensors"]) | set(h.sensors))
        ev["details"] = {**ev.get("details", {}), **h.details}
        a["score"] = round(max(float(a["score"]), h.score), 3)
        a["t_last"] = max(a["t_last"], h.t)
        a["lat"], a["lon"], a["summary"] = h.lat, h.lon, h.summary
        a["sector"] = h.sector or a["sector"]
        a["track_ids"] = list(dict.fromkeys(a["track_ids"] + h.track_ids))
        a["mmsi"] = h.mmsi if h.mmsi is not None else a["mmsi"]
        a["classification"] = h.classification or a["classification"]

    def _refresh(self, key: str, a: dict[str, Any], h: Hit) -> Alert | None:
        before = (a["score"], a["severity"], a["status"], tuple(a["evidence"]["sensors"]))
        self._merge(a, h)
        if SEVERITIES.index(h.severity) > SEVERITIES.index(a["severity"]):
            a["severity"] = h.severity
        material = (
            abs(a["score"] - before[0]) >= self.cfg["score_delta"]
            or (a["severity"], a["status"], tuple(a["evidence"]["sensors"])) != before[1:]
        )
        last = self.last_emit.get(a["alert_id"], -np.inf)
        if material or h.t - last >= self.cfg["emit_interval_s"]:
            return self._emit(a, h.t)
        return None

    def _emit(self, a: dict[str, Any], t: float) -> Alert:
        self.last_emit[a["alert_id"]] = t
        return _alert_of(a)

    def _close(self, key: str, status: str, t: float) -> Alert:
        a = self.live.pop(key)
        a["status"] = status
        self.closed[a["alert_id"]] = a
        self.closed.move_to_end(a["alert_id"])
        while len(self.closed) > int(self.cfg["max_closed"]):
            old_id, _ = self.closed.popitem(last=False)
            self.last_emit.pop(old_id, None)
        return self._emit(a, t)

    def _escalate(self, a: dict[str, Any], t: float, reason: str) -> None:
        a["severity"] = _severity_up(a["severity"])
        a["status"] = "open"
        a["evidence"]["escalated"] = True
        a["evidence"]["escalation"] = {"t": t, "reason": reason}

    def _escalate_on_crossing(self, crossed: set[str], hits: list[Hit]) -> list[Alert]:
        if not crossed:  # (most waves: no need to visit every live alert)
            return []
        out = []
        for a in list(self.live.values()):
            if a["status"] != "acknowledged" or a["rule"] == "border_crossing":
                continue
            tids = set(a["track_ids"]) & crossed
            if tids:
                h = next(h for h in hits if h.rule == "border_crossing" and h.track_key in tids)
                self._escalate(a, h.t, f"track {h.track_key} crossed the border: {h.summary}")
                out.append(self._emit(a, h.t))
        return out

    def _tracks_gone(self, deleted: list[TrackUpdate]) -> list[Alert]:
        """Resolve the alerts of a wave's deleted tracks and drop their history.

        Once per wave, not per track (~1 400 deletions per second under load, mostly
        tentative clutter that never had an alert): one pass over the live alerts finds
        those naming any of the tracks, one over the aliases, one ``forget`` per rule.
        The alerts are still visited track by track in the wave's order, since a merged
        alert closes only with its last live fragment (``last_pos`` is dropped as we go).
        """
        gone = {u.track_id for u in deleted}
        hit = [(k, a) for k, a in self.live.items() if not gone.isdisjoint(a["track_ids"])]
        out = []
        for u in deleted:
            for key, a in hit:
                if self.live.get(key) is not a or u.track_id not in a["track_ids"]:
                    continue
                others = [t for t in a["track_ids"] if t != u.track_id and t in self.last_pos]
                if a.get("_merged") and others:
                    continue  # a fragment of the same target still carries the alert
                a["t_last"] = max(a["t_last"], u.t)
                a["evidence"]["resolved_because"] = f"track {u.track_id} deleted"
                out.append(self._close(key, "resolved", u.t))
            self.last_pos.pop(u.track_id, None)
            self.first_seen.pop(u.track_id, None)
            self.now = max(self.now, u.t)
        if self.alias:
            for k in [k for k in self.alias if k.split("|")[1] in gone]:
                del self.alias[k]
        for rule in self.rules.values():
            rule.forget(gone)
        return out

    # ------------------------------------------------------------------ sector hand-over
    def hand_over(self, departed: list[tuple[TrackUpdate, str]]) -> list[tuple[str, dict[str, Any]]]:
        """Send away the alerts of tracks that left this engine's sector.

        Each sector's tracker names its own tracks, so a target crossing a sector edge goes
        on under the neighbour's track id, whose engine knew nothing of it: a dark boat was
        raised a second time there (docs/rules.md, "Sixth round"). ``departed``: the first
        update of a track outside the sector, with the sector it is in. Its live alerts of
        ``handover_rules`` leave this engine (nothing is published: the alert is still what
        the queue shows) as offers for the receiving sector, which continues one on its own
        track (:meth:`receive`, then a matching hit there) or resolves it; this engine keeps
        the forwarding address for acks (:meth:`forward_of`). A running suppression after a
        dismissal is offered too, so the dismissed target stays quiet in the next sector.
        Returns ``(sector, offer)`` pairs to deliver.
        """
        rules = set(self.cfg["handover_rules"] or ())
        if not departed or not rules:
            return []
        by_track = {u.track_id: (u, to) for u, to in departed}
        live_s = float(self.cfg["merge_skip_live_s"])
        out: list[tuple[str, dict[str, Any]]] = []
        for key, a in list(self.live.items()):
            if a["rule"] not in rules:
                continue
            gone = [by_track[t] for t in a["track_ids"] if t in by_track]
            if not gone:
                continue
            u, to = gone[-1]
            if any(self.last_pos.get(t, [-np.inf])[0] >= u.t - live_s
                   for t in a["track_ids"] if t not in by_track):
                continue  # another track here still carries it (a fragment)
            del self.live[key]
            self.last_emit.pop(a["alert_id"], None)  # (the receiving engine throttles it now)
            a["t_last"] = max(a["t_last"], u.t)
            a["lat"], a["lon"] = u.lat, u.lon
            self.handed[a["alert_id"]] = [to, u.t]
            out.append((to, self._offer(a["rule"], a["zone_id"], u, alert=a)))
        for key, until in self.suppressed.items():
            rule, track_key, zone = key.split("|", 2)
            if rule in rules and track_key in by_track and until > by_track[track_key][0].t:
                u, to = by_track[track_key]
                out.append((to, self._offer(rule, zone or None, u, until=until)))
        return out

    def _offer(self, rule: str, zone_id: str | None, u: TrackUpdate,
               alert: dict[str, Any] | None = None, until: float | None = None) -> dict[str, Any]:
        ref = alert["alert_id"] if alert else f"{self.id_prefix}{rule}|{u.track_id}|{zone_id or ''}"
        return {"ref": ref, "rule": rule, "zone_id": zone_id, "t": u.t, "lat": u.lat,
                "lon": u.lon, "from": self.id_prefix.rstrip(":"), "until": until,
                "alert": alert}

    def receive(self, offer: dict[str, Any]) -> None:
        """Keep a neighbour's offer (``hand_over``) until a hit here takes it or it expires.
        An alert this engine already holds (a neighbour that resent it after a restart, or
        one that came back) is not taken twice."""
        ref = str(offer["ref"])
        if ref in self.closed or any(a["alert_id"] == ref for a in self.live.values()):
            return
        self.offers[ref] = offer
        self.handed.pop(ref, None)

    def _matching_offer(self, h: Hit) -> dict[str, Any] | None:
        """The nearest offer of the hit's rule and zone that the target could have come
        from: made at most ``handover_window_s`` before the hit, within
        ``handover_radius_m`` + ``handover_speed_mps`` × the time between."""
        if h.rule not in MERGEABLE or h.track_ids != [h.track_key]:
            return None
        window = float(self.cfg["handover_window_s"])
        radius, speed = float(self.cfg["handover_radius_m"]), float(self.cfg["handover_speed_mps"])
        e0, n0 = self.zones.to_en(np.array([h.lat]), np.array([h.lon]))
        best: tuple[float, dict[str, Any]] | None = None
        for o in self.offers.values():
            gap = h.t - float(o["t"])
            if o["rule"] != h.rule or o["zone_id"] != h.zone_id or not 0.0 <= gap <= window:
                continue
            e1, n1 = self.zones.to_en(np.array([o["lat"]]), np.array([o["lon"]]))
            d = float(np.hypot(e1 - e0, n1 - n0)[0])
            if d <= radius + speed * gap and (best is None or d < best[0]):
                best = (d, o)
        return None if best is None else best[1]

    def _take_offer(self, key: str, offer: dict[str, Any], h: Hit) -> Alert | None:
        """Continue a received alert on this sector's track (same id), or, for a dismissed
        one, keep the target quiet for the rest of its suppression."""
        del self.offers[offer["ref"]]
        a = offer["alert"]
        if a is None or a["status"] not in LIVE:
            until = offer["until"] if a is None else offer.get("until") or h.t
            self.suppressed[key] = float(until)
            if a is not None:
                self.closed[a["alert_id"]] = a
            return None
        a["_key"] = key
        a.pop("_merged", None)
        a.pop("_holders", None)
        a["evidence"]["handed_over"] = {"from": offer["from"], "t": offer["t"]}
        self.live[key] = a
        out = self._refresh(key, a, h)
        return out if out is not None else self._emit(a, h.t)

    def _expire_offers(self) -> list[Alert]:
        """Resolve received alerts no track here took within ``handover_window_s``."""
        window = float(self.cfg["handover_window_s"])
        out = []
        for ref in [r for r, o in self.offers.items() if self.now - float(o["t"]) > window]:
            o = self.offers.pop(ref)
            a = o["alert"]
            if a is None:
                continue
            self.closed[a["alert_id"]] = a
            if a["status"] in LIVE:
                a["status"] = "resolved"
                a["evidence"]["resolved_because"] = (
                    f"handed over from {o['from']}; no track here took it within {window:g} s")
                out.append(self._emit(a, self.now))
        return out

    def forward_of(self, alert_id: str) -> str | None:
        """The sector an alert was handed over to, if this engine no longer holds it."""
        to = self.handed.get(alert_id)
        if to is None or alert_id in self.closed or alert_id in self.offers or any(
                a["alert_id"] == alert_id for a in self.live.values()):
            return None
        return str(to[0])

    # ------------------------------------------------------------------ acks
    def apply_ack(self, ack: dict[str, Any]) -> Alert | None:
        """Apply a coordinator's action; return the changed alert, or None (unknown/no-op)."""
        aid, action = ack.get("alert_id"), ack.get("action")
        t = float(ack.get("t") or self.now)
        key = next((k for k, a in self.live.items() if a["alert_id"] == aid), None)
        a = self.live[key] if key else self.closed.get(str(aid))
        offer = self.offers.get(str(aid)) if a is None else None
        if offer is not None and offer["alert"] is not None:
            a = offer["alert"]  # on its way to a track here (sector hand-over)
        if a is None:
            log.warning("ack for unknown alert %s ignored", aid)
            return None
        if action not in ("ack", "dismiss", "resolve", "escalate"):
            log.warning("unknown ack action %r for %s ignored", action, aid)
            return None
        a["evidence"].setdefault("actions", []).append(
            {"action": action, "user": ack.get("user"), "note": ack.get("note"), "t": t}
        )
        a["evidence"]["actions"] = a["evidence"]["actions"][-20:]
        if offer is not None:
            return self._act_on_offer(offer, str(action), ack, t)
        if key is None:  # closed already: record the action, change nothing else
            return None if action != "escalate" else self._reopen_escalated(a, t, ack)
        if action == "ack":
            if a["status"] == "acknowledged":
                return None
            a["status"] = "acknowledged"
            return self._emit(a, t)
        if action == "escalate":
            self._escalate(a, t, _escalated_by(ack))
            return self._emit(a, t)
        self.suppressed[key] = t + self._suppress_s(action)
        return self._close(key, "dismissed" if action == "dismiss" else "resolved", t)

    def _suppress_s(self, action: str) -> float:
        """How long a dismissed or by-hand resolved situation stays quiet."""
        return float(self.cfg["suppress_after_dismiss_s" if action == "dismiss"
                              else "suppress_after_resolve_s"])

    def _act_on_offer(self, offer: dict[str, Any], action: str, ack: dict[str, Any],
                      t: float) -> Alert | None:
        """An action on an alert on its way to a track here changes it as it would have in
        the sector that sent it; a dismissal keeps the target quiet once a track here takes
        it (``_take_offer``)."""
        a = offer["alert"]
        if a["status"] not in LIVE or (action == "ack" and a["status"] == "acknowledged"):
            return None
        if action == "ack":
            a["status"] = "acknowledged"
        elif action == "escalate":
            self._escalate(a, t, _escalated_by(ack))
        else:
            a["status"] = "dismissed" if action == "dismiss" else "resolved"
            offer["until"] = t + self._suppress_s(action)
        return self._emit(a, t)

    def _reopen_escalated(self, a: dict[str, Any], t: float, ack: dict[str, Any]) -> Alert | None:
        key = a["_key"]
        if key in self.live:
            return None
        self.closed.pop(a["alert_id"], None)
        self.suppressed.pop(key, None)
        self._escalate(a, t, _escalated_by(ack))
        self.live[key] = a
        return self._emit(a, t)

    # ------------------------------------------------------------------ sensor silence
    def check_sensor_silence(
        self, now: float, last_seen: dict[str, float], expected_period: dict[str, float]
    ) -> list[Alert]:
        """Open coverage-gap alerts for silent sensors, resolve them when sensors are back."""
        rule = self.rules["sensor_silence"]
        if not rule.enabled:
            return []
        self.now = max(self.now, float(now))
        hits = rule.check(now, last_seen, expected_period, self.ctx)  # type: ignore[attr-defined]
        out = []
        for h in hits:
            a = self._apply_hit(h)
            if a is not None:
                out.append(a)
        return out

    # ------------------------------------------------------------------ views and state
    def open_alerts(self) -> list[Alert]:
        return [_alert_of(a) for a in self.live.values()]

    def snapshot(self, deep: bool = True) -> dict[str, Any]:
        """Everything needed to resume, as plain JSON types.

        ``deep=False`` shares the engine's own dicts and lists instead of deep-copying
        them: for a caller that serialises the result at once (the alerts agent's
        checkpoint), where the copy cost more than the serialisation."""
        state = {
            "version": SNAPSHOT_VERSION,
            "now": self.now,
            "live": self.live,
            "closed": list(self.closed.values()),
            "episodes": self.episodes,
            "suppressed": self.suppressed,
            "last_emit": self.last_emit,
            "last_pos": self.last_pos,
            "first_seen": self.first_seen,
            "alias": self.alias,
            "handed": self.handed,
            "offers": self.offers,
            "rule_state": {name: r.state for name, r in self.rules.items()},
        }
        return copy.deepcopy(state) if deep else state

    @classmethod
    def restore(
        cls,
        zones: Zones,
        rules_cfg: dict[str, Any] | None,
        state: dict[str, Any],
        sensors: dict[str, dict[str, Any]] | None = None,
        id_prefix: str = "",
    ) -> AlertEngine:
        if state.get("version") != SNAPSHOT_VERSION:
            raise ValueError(
                f"alert engine snapshot version {state.get('version')!r} "
                f"not supported (want {SNAPSHOT_VERSION})"
            )
        eng = cls(zones, rules_cfg, sensors, id_prefix)
        st = copy.deepcopy(state)
        eng.now = float(st["now"])
        eng.live = st["live"]
        eng.closed = OrderedDict((a["alert_id"], a) for a in st["closed"])
        eng.episodes = st["episodes"]
        eng.suppressed = st["suppressed"]
        eng.last_emit = st["last_emit"]
        eng.last_pos = st["last_pos"]
        eng.first_seen = st.get("first_seen", {})  # (older snapshots: every track young)
        eng.alias = st.get("alias", {})
        eng.handed = st.get("handed", {})
        eng.offers = st.get("offers", {})
        for name, rs in st["rule_state"].items():
            if name in eng.rules:
                eng.rules[name].state = rs
        return eng
