"""The per-sector multi-sensor tracker: the one stateful object the fusion agent keeps.

Composition (Stone Soup's seams, array storage): ``filters.motion`` predicts,
``filters.measurement`` + ``filters.kalman`` update, ``association.gating`` finds candidate
pairs with a k-d tree, ``association.gnn`` (or ``jpda``) assigns per independent group,
this module initiates (one-point, M-of-N confirmation) and deletes (missed updates, coast
time, covariance growth). AIS keeps its own per-MMSI tracks, correlated with the sensor
tracks by ``correlation.AisCorrelator``. Every step runs on all tracks of the sector at once.

Time: each track carries its own last-update time and is predicted per (track, observation)
pair to the observation's own time, so a rotating radar's plots need no common scan time.
Out-of-sequence observations (older than the tracker's time, e.g. a readings topic that lags
another by a few hundred ms) are handled per track, "discard if superseded": one not older
than the tracks it could update is applied as usual (those tracks are predicted forward to
it); one inside the gate of a track already updated past its time is *absorbed* (counted in
``absorbed``: it credits the sensor as a source of that track, never moves its state, never
starts a track); only one older than the tracker time by more than ``oosm_max_lag_s`` is
returned in ``late`` for the caller to dead-letter. In-order input never takes this path,
so a time-ordered replay is unaffected.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from fusion import classification
from fusion.association.gating import candidate_pairs
from fusion.association.gating import chi2_gate as _chi2_gate_uncached
from fusion.association.gnn import gnn_assign
from fusion.association.jpda import jpda_weights
from fusion.correlation import AisCorrelator, CorrelationConfig
from fusion.filters.adaptive import adapt_q_scale
from fusion.filters.kalman import inv2, kalman_update, mahalanobis2
from fusion.filters.measurement import MeasurementBatch, innovations
from fusion.filters.motion import ncv_predict, ncv_process_noise
from fusion.geodesy import LocalFrame
from fusion.tracking.observations import ObservationArrays, from_observations
from fusion.tracking.store import CONFIRMED, N_CLASSES, TENTATIVE, TrackStore
from fusion.types import Observation, TrackUpdate

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]
# 2: track arrays as base64 bytes (``TrackStore.to_dict``); 1 (plain lists) still restores
SNAPSHOT_VERSION = 2
_READABLE_VERSIONS = (1, 2)


@dataclass
class TrackerConfig:
    """Tracker settings; defaults suit people, vehicles and small boats at a land/river border."""

    q: float = 0.5  # NCV process noise spectral density, m²/s³ per axis
    gate_probability: float = 0.999  # chi-square gate (2 dof)
    max_candidates: int = 8  # nearest tracks tested per observation
    max_gate_radius_m: float = 3000.0  # cap on the k-d tree search radius
    init_speed_sigma: float = 10.0  # m/s, velocity prior of a new track
    confirm_m: int = 3  # M hits ...
    confirm_n: int = 5  # ... within the first N opportunities confirm a track (0: no window)
    tentative_max_misses: int = 0  # consecutive misses that delete a tentative track (0: off)
    # a tentative track is reported (updates, and its deletion) from this many plots on:
    # under load most tracks are one clutter plot that the next scans do not continue, and
    # each cost an update and a deletion downstream (docs/performance.md, "Session 10")
    announce_hits: int = 1
    max_misses: int = 5  # consecutive missed opportunities that delete a confirmed track
    coast_after_s: float = 5.0  # a confirmed track without update this long is "coasting"
    max_coast_s: float = 60.0  # ... and is deleted after this long
    max_pos_std_m: float = 500.0  # ... or once its position σ grows past this
    association: str = "gnn"  # "gnn" | "jpda"
    pd: float = 0.9  # detection probability (JPDA)
    clutter_density: float = 1e-6  # false alarms per m² per scan (JPDA)
    adaptive: bool = True  # manoeuvre-adaptive q (see filters.adaptive)
    adapt_probability: float = 0.95  # NIS above this chi-square quantile = manoeuvre
    adapt_grow: float = 10.0  # q scale × this on a manoeuvre ...
    adapt_decay: float = 0.85  # ... × this on a quiet update (never below 1)
    adapt_max_scale: float = 1000.0
    batch_window_s: float = 1.0  # consecutive observations of one sensor within this = one scan
    # kinds of event-driven point sensors (geophones) whose consecutive observations within
    # ``batch_window_s`` form one scan whatever sensor made them: each geophone event was a
    # scan of one plot, most of a busy sector's scans at a third of the tracker's time
    # (docs/performance.md, "Session 11"); in one such scan a track takes its nearest event
    # and the others inside its gate start nothing, as a second plot in a radar scan
    merged_event_kinds: tuple[str, ...] = ()
    # a call's events of ``merged_event_kinds`` (within ``batch_window_s``) as one scan after
    # its other scans, instead of one scan per run between them: under the 10 000/s mix 55 %
    # of the scans were one geophone event, each paying a scan's fixed cost (~240 µs + 0.27 µs
    # per track in the sector); an event older than a plot that already updated its track is
    # then absorbed by it (out of sequence), as a late plot is (docs/performance.md
    # "Session 15")
    events_after_scans: bool = False
    polar_update: str = "ekf"  # "ekf" (range/bearing update) | "converted" (position)
    init_exclude_gated: bool = True  # no new track from an observation inside a track's gate
    ais_timeout_s: float = 600.0  # AIS track dropped after this silence
    ais_speed_sigma: float = 1.0  # m/s, velocity prior from SOG/COG
    sources_window_s: float = 10.0  # ``sources``: sensors that fed the track this recently
    # duplicate tracks (``_dedupe``): two updated confirmed tracks whose state difference is
    # inside this chi-square gate (4 dof) of their summed covariance at ``dup_hold``
    # consecutive checks (one per ``batch_window_s``), never both fed by one sensor's scan,
    # are one target: the younger is deleted (0: off)
    dup_probability: float = 0.99
    dup_hold: int = 8
    # out-of-sequence observations (module doc): older than the tracker time by more than
    # this they are ``late`` (tracks may have been confirmed or deleted since)
    oosm_max_lag_s: float = 5.0
    correlation: CorrelationConfig = field(default_factory=CorrelationConfig)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrackerConfig:
        d = dict(d)
        if "merged_event_kinds" in d:  # a JSON list (a checkpoint) or a tuple
            d["merged_event_kinds"] = tuple(d["merged_event_kinds"])
        corr = CorrelationConfig(**d.pop("correlation", {}))
        return cls(**d, correlation=corr)


# What the streaming engine runs (``FusionStage.tracker``), measured with
# benchmarks/alert_quality.py: the manoeuvre-adaptive q made a standing target's velocity
# swing 10-30 m/s (false crossings/approaches at the line), and tentative tracks that kept
# coasting picked up plots hundreds of metres away; q 0.5 -> 0.2 because a boat standing
# 20-50 m off the line 4 km from the radar (cross-range error ~40 m) took 3-5 m/s of false
# velocity and wandered across it (full set: crossing precision 80 -> 93 %, false alerts
# 16.3 -> 12.9 per sector-hour, crossing TTA median 5.9 -> 6.1 s). TrackerConfig's own defaults stay as
# the fusion core's unit tests and benchmark document them.
ENGINE_TRACKER: dict[str, Any] = {
    "adaptive": False,
    "tentative_max_misses": 2,
    "q": 0.2,
    "announce_hits": 2,
    "merged_event_kinds": ("seismic",),
    "events_after_scans": True,
}
# (``oosm_max_lag_s`` is not here: the streaming engine sets it to its late tolerance,
# ``FusionStage.tracker_config``, so that what the stage buffers late the tracker applies)


@lru_cache(maxsize=64)
def chi2_gate(probability: float, dof: int = 2) -> float:
    """``gating.chi2_gate`` cached: scipy's ``ppf`` costs ~0.1 ms, paid twice per restore."""
    return _chi2_gate_uncached(probability, dof)


def _config_dict(cfg: TrackerConfig) -> dict[str, Any]:
    """``dataclasses.asdict`` without its recursive deep copy (every field is a scalar or
    the flat ``CorrelationConfig``); same keys, order and values."""
    return {**vars(cfg), "correlation": dict(vars(cfg.correlation))}


def engine_config(overrides: dict[str, Any] | None = None) -> TrackerConfig:
    """The engine's tracker settings, with ``overrides`` (a TrackerConfig dict) on top."""
    return TrackerConfig.from_dict({**ENGINE_TRACKER, **(overrides or {})})


def _of(s_idx: int | NDArray[np.intp], rows: NDArray[np.intp]) -> int | NDArray[np.intp]:
    """The sensor index of scan observations ``rows``: one for all, or per observation."""
    return s_idx if isinstance(s_idx, int) else s_idx[rows]


def _pos_var_at(store: TrackStore, dt: FloatArray, q: float) -> FloatArray:
    """Trace of the predicted position covariance after ``dt`` (cheap, no full predict)."""
    p = store.P
    return (
        p[:, 0, 0]
        + p[:, 1, 1]
        + 2.0 * dt * (p[:, 0, 2] + p[:, 1, 3])
        + dt**2 * (p[:, 2, 2] + p[:, 3, 3])
        + 2.0 * q * store.qscale * dt**3 / 3.0
    )


class SectorTracker:
    """All tracks of one sector. ``process`` is the engine's entry point (see module doc)."""

    def __init__(
        self, sector: str, lat0: float, lon0: float, config: TrackerConfig | None = None
    ) -> None:
        self.sector = sector
        self.lat0, self.lon0 = float(lat0), float(lon0)
        self.config = config or TrackerConfig()
        self.frame = LocalFrame(self.lat0, self.lon0)
        self.tracks = TrackStore()
        self.ais = TrackStore()  # num = MMSI, kept sorted
        self.correlator = AisCorrelator(self.config.correlation)
        self.sensors: list[str] = []
        self.sensor_kinds: list[str] = []
        self._non_ais = np.zeros(0, bool)  # per sensor column: not an AIS station
        self._sensor_idx: dict[str, int] = {}
        self.time = -math.inf
        self.counter = 0
        self.n_late = 0
        self.n_absorbed = 0  # out-of-sequence observations superseded by a newer update
        self.n_duplicates = 0  # tracks deleted by ``_dedupe``
        self._dup_last = -math.inf  # time of the last duplicate check
        self._maintain_last = -math.inf  # time of the last ``_maintain``
        self.late: list[Observation] = []
        self.absorbed: list[str] = []  # ids absorbed by the last call
        self.invalid: list[Observation] = []
        self._pending: set[int] = set()
        self._check_all = False  # next ``_confirm_and_prune`` tests every row (restore)
        self._gate = chi2_gate(self.config.gate_probability)
        self._adapt_gate = chi2_gate(self.config.adapt_probability)
        self._reset_call()

    # ------------------------------------------------------------------ public API
    def track_id(self, num: int) -> str:
        return f"{self.sector}-T{num}"

    def ais_track_id(self, mmsi: int) -> str:
        return f"{self.sector}-AIS{mmsi}"

    def process(self, observations: Sequence[Observation]) -> list[TrackUpdate]:
        """Apply observations (any order); return one update per track touched.

        Out-of-sequence observations are applied or absorbed per track (module doc); those
        more than ``oosm_max_lag_s`` older than the tracker's time land in ``self.late``,
        malformed ones in ``self.invalid`` (both reset each call); neither changes any track.
        """
        self.late, self.invalid = [], []
        ordered = sorted(observations, key=lambda o: o.t)  # stable: keeps given order on ties
        valid: list[Observation] = []
        behind: list[Observation] = []
        oldest = self.time - self.config.oosm_max_lag_s
        for o in ordered:
            if not _well_formed(o):
                self.invalid.append(o)
            elif o.t >= self.time:
                valid.append(o)
            elif o.t >= oldest:
                behind.append(o)
            else:
                self.late.append(o)
        if self.late:
            self.n_late += len(self.late)
            log.info("sector %s: %d late observations", self.sector, len(self.late))
        ekf = self.config.polar_update == "ekf"
        events = None
        cfg = self.config
        if (cfg.events_after_scans and valid
                and valid[-1].t - valid[0].t <= cfg.batch_window_s):
            ev = [o for o in valid if o.kind in cfg.merged_event_kinds]
            if ev and len(ev) < len(valid):
                valid = [o for o in valid if o.kind not in cfg.merged_event_kinds]
                events = from_observations(ev, self.frame, ekf)
        arrays = from_observations(valid, self.frame, ekf) if valid else None
        old = from_observations(behind, self.frame, ekf) if behind else None
        return self.process_arrays(arrays, behind=old, events=events)

    def process_arrays(
        self,
        obs: ObservationArrays | None,
        emit: bool = True,
        behind: ObservationArrays | None = None,
        events: ObservationArrays | None = None,
    ) -> list[TrackUpdate]:
        """The array-level core of ``process`` (observations already valid, sorted, in frame;
        ``behind``: those older than the tracker time, applied first, per track; ``events``:
        event-sensor observations taken as one scan after ``obs``, ``events_after_scans``).

        ``emit=False`` skips building ``TrackUpdate`` objects (the benchmark reads arrays).
        """
        self._reset_call()
        coasting_before = self._coasting_nums()
        if behind is not None and len(behind):
            for start, stop in self._segments(behind):
                if behind.mmsi[start] >= 0:
                    self._ais_rows(behind, start, stop)
                else:
                    self._sensor_batch(behind, start, stop, out_of_sequence=True)
        if obs is not None and len(obs):
            if obs.t[0] < self.time:
                raise ValueError("observations older than the tracker time: pass as behind")
            for start, stop in self._segments(obs):
                if obs.mmsi[start] >= 0:
                    self._ais_rows(obs, start, stop)
                else:
                    self._sensor_batch(obs, start, stop)
            self.time = max(self.time, float(obs.t[-1]))
        if events is not None and len(events):
            self._sensor_batch(events, 0, len(events),
                               out_of_sequence=bool(events.t[0] < self.time))
            self.time = max(self.time, float(events.t[-1]))
        if self.absorbed:
            self.n_absorbed += len(self.absorbed)
            log.debug("sector %s: %d superseded observations", self.sector, len(self.absorbed))
        self._maintain()
        self._dedupe()
        self._correlate()
        for num in coasting_before ^ self._coasting_nums():
            self._touched.setdefault(num, [])
        for num in self._pending:
            self._touched.setdefault(num, [])
        self._pending = set()
        if not emit:
            return []
        return self._emit()

    def override_correlation(self, track_id: str, mmsi: int | None) -> None:
        """Operator decision: ``track_id`` is vessel ``mmsi`` (force) or is not (``None``)."""
        num = self._parse_id(track_id)
        if mmsi is None:
            self.correlator.unlink(num)
        else:
            self.correlator.force(num, int(mmsi))
        self._apply_correlation()
        self._pending.add(num)

    def live_tracks(
        self, t: float | None = None, include_tentative: bool = False
    ) -> list[TrackUpdate]:
        """Every live sensor track predicted to ``t`` (default: the tracker time)."""
        t = self.time if t is None else t
        st = self.tracks
        rows = np.flatnonzero(include_tentative | (st.status == CONFIRMED))
        return self._updates(rows, at=t)

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to continue identically, as JSON-safe plain data."""
        return {
            "version": SNAPSHOT_VERSION,
            "sector": self.sector,
            "lat0": self.lat0,
            "lon0": self.lon0,
            "config": _config_dict(self.config),
            "time": None if not math.isfinite(self.time) else self.time,
            "counter": self.counter,
            "n_late": self.n_late,
            "n_absorbed": self.n_absorbed,
            "n_duplicates": self.n_duplicates,
            "dup_last": None if not math.isfinite(self._dup_last) else self._dup_last,
            "maintain_last": (
                None if not math.isfinite(self._maintain_last) else self._maintain_last
            ),
            "sensors": [[s, k] for s, k in zip(self.sensors, self.sensor_kinds, strict=True)],
            "tracks": self.tracks.to_dict(),
            "ais": self.ais.to_dict(),
            "correlator": self.correlator.to_dict(),
            "pending": sorted(self._pending),
        }

    @classmethod
    def restore(cls, state: dict[str, Any], config: TrackerConfig | None = None) -> SectorTracker:
        """The tracker ``snapshot`` saved; with ``config``, run on from here with those settings
        instead of the saved ones (an upgraded or reconfigured deployment resuming its
        sectors: the settings are configuration, the tracks are state)."""
        if state.get("version") not in _READABLE_VERSIONS:
            raise ValueError(f"unsupported tracker snapshot version {state.get('version')}")
        tr = cls(
            state["sector"],
            state["lat0"],
            state["lon0"],
            config or TrackerConfig.from_dict(state["config"]),
        )
        tr.time = -math.inf if state["time"] is None else float(state["time"])
        tr.counter = int(state["counter"])
        tr.n_late = int(state["n_late"])
        tr.n_duplicates = int(state.get("n_duplicates", 0))  # older snapshots: none
        tr.n_absorbed = int(state.get("n_absorbed", 0))
        dl = state.get("dup_last")
        tr._dup_last = -math.inf if dl is None else float(dl)
        ml = state.get("maintain_last")  # older snapshots: maintained on every call
        tr._maintain_last = -math.inf if ml is None else float(ml)
        for s, k in state["sensors"]:  # the stores below come with their sensor columns
            tr._sensor_idx[s] = len(tr.sensors)
            tr.sensors.append(s)
            tr.sensor_kinds.append(k)
        tr._non_ais = np.array([k != "ais" for k in tr.sensor_kinds], bool)
        tr.tracks = TrackStore.from_dict(state["tracks"])
        tr.ais = TrackStore.from_dict(state["ais"])
        tr.correlator = AisCorrelator.from_dict(state["correlator"])
        tr._pending = {int(n) for n in state["pending"]}
        tr._check_all = True  # a state from another version may hold rows to confirm or drop
        return tr

    # ------------------------------------------------------------------ internals
    def _reset_call(self) -> None:
        self._touched: dict[int, list[str]] = {}
        self._ais_touched: set[int] = set()
        self.absorbed = []
        # deletions in order: sensor-track rows (built in ``_emit``) or AIS updates
        self._deleted: list[_Rows | list[TrackUpdate]] = []

    def _parse_id(self, track_id: str) -> int:
        prefix = f"{self.sector}-T"
        if not track_id.startswith(prefix) or not track_id[len(prefix) :].isdigit():
            raise KeyError(f"not a track of sector {self.sector}: {track_id}")
        return int(track_id[len(prefix) :])

    def _sensor(self, sensor_id: str, kind: str) -> int:
        idx = self._sensor_idx.get(sensor_id)
        if idx is None:
            idx = self._sensor_idx[sensor_id] = len(self.sensors)
            self.sensors.append(sensor_id)
            self.sensor_kinds.append(kind)
            self._non_ais = np.append(self._non_ais, kind != "ais")
            self.tracks.ensure_sensors(len(self.sensors))
            self.ais.ensure_sensors(len(self.sensors))
        return idx

    def _segments(self, obs: ObservationArrays) -> list[tuple[int, int]]:
        """Split into scans: runs of one sensor (AIS apart), or of one of the
        ``merged_event_kinds``, within ``batch_window_s``."""
        m = len(obs)
        merged = self.config.merged_event_kinds
        key = [
            (k, False) if k in merged else (s, a >= 0)
            for s, k, a in zip(obs.sensor, obs.kind, obs.mmsi.tolist(), strict=True)
        ]
        t = obs.t.tolist()  # Python floats: the same differences, no NumPy scalar per row
        window = self.config.batch_window_s
        out: list[tuple[int, int]] = []
        start = 0
        for i in range(1, m + 1):
            if i == m or key[i] != key[start] or t[i] - t[start] > window:
                out.append((start, i))
                start = i
        return out

    def _coasting_nums(self) -> set[int]:
        st = self.tracks
        if not len(st) or not math.isfinite(self.time):
            return set()
        mask = (st.status == CONFIRMED) & (self.time - st.t > self.config.coast_after_s)
        return set(st.num[mask].tolist())

    def _touch(
        self,
        rows: NDArray[np.intp],
        obs_rows: NDArray[np.intp] | None,
        obs: ObservationArrays | None,
    ) -> None:
        nums = self.tracks.num[rows].tolist()
        if obs_rows is None or obs is None:
            for n in nums:
                self._touched.setdefault(n, [])
            return
        for n, j in zip(nums, obs_rows.tolist(), strict=True):
            self._touched.setdefault(n, []).append(obs.obs_id[j])

    def _sensor_batch(
        self, obs: ObservationArrays, start: int, stop: int, out_of_sequence: bool = False
    ) -> None:
        """One scan of one sensor: gate, assign, update, count opportunities, initiate.

        ``out_of_sequence``: the scan is older than the tracker time; pairs with tracks
        updated past an observation's time are only tested for absorption (``_absorb``)."""
        cfg, st = self.config, self.tracks
        # the sensor of each observation: one index for a one-sensor scan (the usual case),
        # an array (per observation) for a merged scan of event-driven sensors
        s_idx: int | NDArray[np.intp] = self._sensor(obs.sensor[start], obs.kind[start])
        if obs.kind[start] in cfg.merged_event_kinds and len(set(obs.sensor[start:stop])) > 1:
            s_idx = np.array(
                [self._sensor(obs.sensor[i], obs.kind[i]) for i in range(start, stop)], np.intp
            )
        rows = slice(start, stop)
        meas = obs.measurements(rows)
        m, n = len(meas), len(st)
        assigned_obs = np.zeros(m, bool)
        gated_obs = np.zeros(m, bool)
        absorbed_obs = np.zeros(m, bool)
        hit_rows = np.empty(0, np.intp)
        if n:
            tb = float(meas.t.sum()) / m  # = meas.t.mean(), without its dispatch (per scan)
            if out_of_sequence:  # tracks newer than the scan: back along their velocity
                dtk = tb - st.t
                adt = np.abs(dtk)
                cross = np.abs(st.P[:, 0, 2] + st.P[:, 1, 3])
                var = _pos_var_at(st, adt, cfg.q) + 4.0 * adt * cross  # either direction
            else:
                dtk = np.maximum(tb - st.t, 0.0)
                var = _pos_var_at(st, dtk, cfg.q)
            pos_pred = st.x[:, :2] + dtk[:, None] * st.x[:, 2:]
            cov = obs.cov[rows]
            r_var = float((cov[:, 0, 0] + cov[:, 1, 1]).max())  # largest trace
            span = float(meas.t.max() - meas.t.min())  # 0 for a radar scan or one plot
            spread = span * float(np.abs(st.x[:, 2:]).max()) if span else 0.0
            radius = min(
                math.sqrt(self._gate * (float(var.max()) + r_var)) + spread, cfg.max_gate_radius_m
            )
            ti, oj = candidate_pairs(pos_pred, meas.pos, radius, cfg.max_candidates)
            absorbing = np.empty(0, np.intp)
            if out_of_sequence and ti.size:
                ahead = st.t[ti] > meas.t[oj]
                if ahead.any():
                    absorbing = self._absorb(meas, ti[ahead], oj[ahead], absorbed_obs, s_idx)
                    self.absorbed.extend(
                        obs.obs_id[start + j] for j in np.flatnonzero(absorbed_obs).tolist()
                    )
                    keep = ~ahead & ~absorbed_obs[oj]
                    ti, oj = ti[keep], oj[keep]
            if ti.size:  # nothing near (a clutter-only scan): no pair to test or assign
                hit_rows, best_obs, gated = self._gate_and_update(meas, ti, oj, m, n)
                gated_obs[gated] = True
                assigned_obs[best_obs] = True
            if hit_rows.size:
                s_hit = _of(s_idx, best_obs)
                st.seen[hit_rows, s_hit] = True
                st.seen_t[hit_rows, s_hit] = meas.t[best_obs]
                st.cls[hit_rows] = classification.fuse(
                    st.cls[hit_rows], obs.cls_ll[start + best_obs]
                )
                st.hits[hit_rows] += 1
                self._touch(hit_rows, start + best_obs, obs)
            # every track this sensor has seen had an opportunity -- at most one per
            # ``batch_window_s``: a rotation's plots arrive in several segments (split by
            # other sensors' observations and bucket edges), and counting each segment as
            # a scan turned one missed plot into three misses (tracks deleted in 2 s)
            fresh = (tb - st.last_opp) >= 0.9 * cfg.batch_window_s
            seen_by = (
                st.seen[:, s_idx] if isinstance(s_idx, int)
                else st.seen[:, np.unique(s_idx)].any(axis=1)
            )
            opp = seen_by & fresh
            opp[absorbing] = False  # seen, but by an observation that came too late
            opp_rows = np.flatnonzero(opp)  # rows from here on: a scan sees few tracks
            st.opps[opp_rows] += 1
            st.last_opp[opp_rows] = tb
            hit = np.zeros(n, bool)
            hit[hit_rows] = True
            missed = opp_rows[~hit[opp_rows]]
            st.misses[missed] += 1
            st.misses[hit_rows] = 0
            if cfg.adaptive:  # a confirmed track that missed may be turning: widen its gate
                grow = missed[st.status[missed] == CONFIRMED]
                st.qscale[grow] = np.minimum(st.qscale[grow] * 10.0, 1000.0)
            changed = np.concatenate([hit_rows, opp_rows])
        else:
            changed = np.empty(0, np.intp)
        new = ~assigned_obs & ~absorbed_obs & (~gated_obs if cfg.init_exclude_gated else True)
        born = np.flatnonzero(new)
        self._initiate(obs, start + born, _of(s_idx, born))
        # the rows whose counts this scan changed, and its new tracks (appended at the end)
        self._confirm_and_prune(np.concatenate([changed, np.arange(n, len(st))]))

    def _absorb(
        self,
        meas: MeasurementBatch,
        ti: NDArray[np.intp],
        oj: NDArray[np.intp],
        absorbed: NDArray[np.bool_],
        s_idx: int | NDArray[np.intp],
    ) -> NDArray[np.intp]:
        """Out-of-sequence pairs whose track was updated after the observation: an
        observation inside such a track's gate (track retrodicted to its time, process noise
        of the gap added) is superseded: marked in ``absorbed``, its nearest such track
        credited with the sensor (``seen``; its state is not touched). Returns those rows."""
        cfg, st = self.config, self.tracks
        dt = meas.t[oj] - st.t[ti]  # < 0
        xp, pp = ncv_predict(st.x[ti], st.P[ti], dt, 0.0)
        pp += ncv_process_noise(-dt, cfg.q * st.qscale[ti])
        y, _, s = innovations(xp, pp, meas.take(oj))
        s_inv, _ = inv2(s)
        d2 = mahalanobis2(y, s_inv)
        g = d2 <= self._gate
        if not g.any():
            return np.empty(0, np.intp)
        ti, oj, d2 = ti[g], oj[g], d2[g]
        order = np.lexsort((d2, oj))  # per observation, nearest track first
        first = np.r_[True, oj[order][1:] != oj[order][:-1]]
        rows, js = ti[order][first], oj[order][first]
        absorbed[js] = True
        st.credit(rows, _of(s_idx, js), meas.t[js])  # a track may absorb several
        return rows

    def _gate_and_update(
        self, meas: MeasurementBatch, ti: NDArray[np.intp], oj: NDArray[np.intp], m: int, n: int
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
        """Mahalanobis gate of the candidate pairs, assignment and Kalman update; returns
        the updated track rows, their observations and the observations inside a gate."""
        cfg, st = self.config, self.tracks
        xp, pp = ncv_predict(st.x[ti], st.P[ti], meas.t[oj] - st.t[ti], cfg.q * st.qscale[ti])
        y, h, s = innovations(xp, pp, meas.take(oj))
        s_inv, det = inv2(s)
        d2 = mahalanobis2(y, s_inv)
        g = d2 <= self._gate
        if cfg.association == "jpda":
            if not g.all():
                ti, oj = ti[g], oj[g]
                xp, pp, y, h, s, d2, det = (a[g] for a in (xp, pp, y, h, s, d2, det))
            rows, best = self._jpda_update(ti, oj, xp, pp, y, h, s, d2, det, meas, n, m)
            return rows, best, oj
        # GNN: only the gated pairs' indices are filtered; the predictions are indexed once,
        # for the assigned pairs (most candidate pairs of a scan fail the gate)
        inside = None if g.all() else np.flatnonzero(g)
        if inside is not None:
            ti, oj, d2 = ti[inside], oj[inside], d2[inside]
        at, ao = self._gnn_two_pass(ti, oj, d2, n, m)
        if at.size:
            # the assigned pairs were already predicted for the gate: reuse those rows
            key = ti.astype(np.int64) * m + oj
            order = np.argsort(key, kind="stable")
            k = order[np.searchsorted(key[order], at.astype(np.int64) * m + ao)]
            if inside is not None:
                k = inside[k]
            self._apply_update(at, meas.t[ao], xp[k], pp[k], y[k], h[k], s[k])
        return at, ao, oj

    def _gnn_two_pass(
        self, ti: NDArray[np.intp], oj: NDArray[np.intp], d2: FloatArray, n: int, m: int
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """GNN for confirmed tracks first, then tentative tracks on what is left.

        A new tentative track started beside a manoeuvring confirmed track must not steal
        the confirmed track's detections (it is nearer only because it has no velocity yet).
        """
        miss = self._gate * (1 + 1e-9)
        conf = self.tracks.status[ti] == CONFIRMED
        if int(np.count_nonzero(conf)) in (0, conf.size):  # one kind in reach: one pass
            return gnn_assign(ti, oj, d2, n, m, miss)
        at1, ao1 = gnn_assign(ti[conf], oj[conf], d2[conf], n, m, miss)
        free = np.ones(m, bool)
        free[ao1] = False
        rest = ~conf & free[oj]
        at2, ao2 = gnn_assign(ti[rest], oj[rest], d2[rest], n, m, miss)
        return np.concatenate([at1, at2]), np.concatenate([ao1, ao2])

    def _apply_update(
        self,
        at: NDArray[np.intp],
        t: FloatArray,
        xp: FloatArray,
        pp: FloatArray,
        y: FloatArray,
        h: FloatArray,
        s: FloatArray,
    ) -> None:
        """Kalman-update tracks ``at`` from their predictions and innovations at times ``t``."""
        cfg, st = self.config, self.tracks
        if at.size == 0:
            return
        xu, pu = kalman_update(xp, pp, y, h, s)
        if cfg.adaptive:
            s_inv, _ = inv2(s)
            nis = mahalanobis2(y, s_inv)
            conf = st.status[at] == CONFIRMED
            st.qscale[at] = np.where(
                conf,
                adapt_q_scale(
                    st.qscale[at],
                    nis,
                    self._adapt_gate,
                    cfg.adapt_grow,
                    cfg.adapt_decay,
                    cfg.adapt_max_scale,
                ),
                st.qscale[at],
            )
        st.x[at], st.P[at], st.t[at] = xu, pu, t

    def _jpda_update(self, ti, oj, xp, pp, y, h, s, d2, det, meas, n, m):  # type: ignore[no-untyped-def]
        """Cheap-JPDA mixture update of every gated track; returns (rows, best obs per row)."""
        cfg, st = self.config, self.tracks
        if ti.size == 0:
            e = np.empty(0, np.intp)
            return e, e
        beta, beta0 = jpda_weights(ti, oj, d2, det, n, m, cfg.pd, cfg.clutter_density)
        xu, pu = kalman_update(xp, pp, y, h, s)
        rows = np.unique(ti)
        order = np.lexsort((-beta, ti))
        first = np.r_[True, ti[order][1:] != ti[order][:-1]]
        best = order[first]  # best pair per track, aligned with ``rows``
        t_new = meas.t[oj[best]]
        x0, p0 = ncv_predict(st.x[rows], st.P[rows], t_new - st.t[rows], cfg.q * st.qscale[rows])
        b0 = beta0[rows]
        loc = np.searchsorted(rows, ti)
        xm = b0[:, None] * x0
        np.add.at(xm, loc, beta[:, None] * xu)
        d0 = x0 - xm
        pm = b0[:, None, None] * (p0 + d0[:, :, None] * d0[:, None, :])
        dp = xu - xm[loc]
        np.add.at(pm, loc, beta[:, None, None] * (pu + dp[:, :, None] * dp[:, None, :]))
        st.x[rows], st.P[rows], st.t[rows] = xm, pm, t_new
        hit = (1.0 - b0) > 0.5
        return rows[hit], oj[best][hit]

    def _initiate(
        self, obs: ObservationArrays, rows: NDArray[np.intp], s_idx: int | NDArray[np.intp]
    ) -> None:
        """One-point initiation: a tentative track per observation ``rows`` (their sensor:
        ``s_idx``, one for all or one per row)."""
        k = rows.size
        if k == 0:
            return
        st, cfg = self.tracks, self.config
        x = np.zeros((k, 4))
        x[:, :2] = obs.pos[rows]
        p = np.zeros((k, 4, 4))
        p[:, :2, :2] = obs.cov[rows]
        p[:, 2, 2] = p[:, 3, 3] = cfg.init_speed_sigma**2
        nums = self.counter + np.arange(k)
        self.counter += k
        seen = np.zeros((k, len(self.sensors)), bool)
        seen[np.arange(k), s_idx] = True
        st.append(
            seen,
            num=nums,
            x=x,
            P=p,
            t=obs.t[rows],
            status=np.full(k, TENTATIVE),
            hits=np.ones(k),
            opps=np.ones(k),
            misses=np.zeros(k),
            qscale=np.ones(k),
            cls=classification.fuse(np.zeros((k, N_CLASSES)), obs.cls_ll[rows]),
            mmsi=np.full(k, -1),
            last_opp=obs.t[rows],
        )
        for n, j in zip(nums.tolist(), rows.tolist(), strict=True):
            self._touched[n] = [obs.obs_id[j]]

    def _confirm_and_prune(self, rows: NDArray[np.intp] | None = None) -> None:
        """M-of-N confirmation; deletion of hopeless tentative and long-missed tracks.

        ``rows``: the only rows whose status or counts changed since the last check (which
        left no row to confirm or delete), so the only ones to test: the same outcome as
        testing all ~1 000 tracks of a busy sector after every scan (a geophone's event is
        a scan of one plot). The first check after ``restore`` tests all rows."""
        if rows is not None and not self._check_all:
            self._confirm_and_prune_rows(rows)
            return
        self._check_all = False
        cfg, st = self.config, self.tracks
        tent = st.status == TENTATIVE
        confirm = tent & (st.hits >= cfg.confirm_m)
        if cfg.confirm_n > 0:
            confirm &= st.opps <= cfg.confirm_n
        if confirm.any():
            st.status[confirm] = CONFIRMED
            self._touch(np.flatnonzero(confirm), None, None)
        none = np.zeros(len(st), bool)
        # can no longer reach M hits within the first N opportunities ...
        window = (st.opps - st.hits) > (cfg.confirm_n - cfg.confirm_m) if cfg.confirm_n else none
        # ... or missed too many opportunities in a row
        k = cfg.tentative_max_misses
        streak = st.misses >= k if k else none
        hopeless = tent & ~confirm & (window | streak)
        lost = (st.status == CONFIRMED) & (st.misses >= cfg.max_misses)
        self._delete(hopeless | lost)

    def _confirm_and_prune_rows(self, rows: NDArray[np.intp]) -> None:
        """``_confirm_and_prune`` on ``rows`` only (same conditions, same order)."""
        cfg, st = self.config, self.tracks
        rows = np.unique(rows)
        status, hits, opps = st.status[rows], st.hits[rows], st.opps[rows]
        tent = status == TENTATIVE
        confirm = tent & (hits >= cfg.confirm_m)
        if cfg.confirm_n > 0:
            confirm &= opps <= cfg.confirm_n
        if confirm.any():
            st.status[rows[confirm]] = CONFIRMED
            self._touch(rows[confirm], None, None)
        misses = st.misses[rows]
        drop = ~tent & (misses >= cfg.max_misses)  # lost: confirmed before this check
        drop |= confirm & (misses >= cfg.max_misses)  # ... or by it
        window = (opps - hits) > (cfg.confirm_n - cfg.confirm_m) if cfg.confirm_n else None
        k = cfg.tentative_max_misses
        streak = misses >= k if k else None
        if window is not None or streak is not None:
            either = window if streak is None else streak if window is None else window | streak
            drop |= tent & ~confirm & either
        if drop.any():
            mask = np.zeros(len(st), bool)
            mask[rows[drop]] = True
            self._delete(mask)

    def _delete(self, mask: NDArray[np.bool_]) -> None:
        if not mask.any():
            return
        rows = np.flatnonzero(mask)
        # the deletion records are built once per call (``_emit``), from copies taken now,
        # for the tracks that were reported (``announce_hits``)
        st = self.tracks
        told = rows[self._announced(rows)]
        if told.size:
            self._deleted.append(self._rows_of(told, st.x[told], st.P[told], st.t[told]))
        for n in st.num[rows].tolist():
            self._touched.pop(n, None)
            self.correlator.forced.pop(n, None)
        st.keep(~mask)

    def _announced(self, rows: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Which of ``rows`` are reported: all but tentative tracks of fewer than
        ``announce_hits`` plots."""
        st = self.tracks
        return (st.status[rows] != TENTATIVE) | (st.hits[rows] >= self.config.announce_hits)

    def _maintain(self) -> None:
        """Time-based deletion: too long without update, or position too uncertain.

        Once per ``batch_window_s`` of the event-time grid (the first call in each window):
        with 1 s buckets that is every call, as before; small buckets do not pay it per call
        (a deletion is at most one window later, the same as with 1 s buckets)."""
        cfg, st = self.config, self.tracks
        if not math.isfinite(self.time):
            return
        w = cfg.batch_window_s
        last = self._maintain_last
        if w > 0 and math.isfinite(last) and math.floor(self.time / w) == math.floor(last / w):
            return
        self._maintain_last = self.time
        if len(st):
            dt = self.time - st.t
            var = _pos_var_at(st, dt, cfg.q)
            self._delete((dt > cfg.max_coast_s) | (var > 2.0 * cfg.max_pos_std_m**2))
        ais = self.ais
        if len(ais):
            old = self.time - ais.t > cfg.ais_timeout_s
            if old.any():
                linked = set(self.correlator.assigned)
                rows = np.flatnonzero(old)
                self._deleted.append(
                    [
                        u
                        for u in self._ais_updates(rows, status="deleted")
                        if int(u.mmsi or -1) not in linked
                    ]
                )
                ais.keep(~old)

    def _dedupe(self) -> None:
        """Delete the younger of two confirmed tracks that have been one target for a while.

        A track born beside its target's own (a plot outside the gate after a manoeuvre,
        or a track dragged off another boat) used to live on: one plot per scan, nearest
        track takes it, and two tracks sharing a target's plots never miss five in a row
        (measured: two tracks on one boat for 30 s, two on one animal for 340 s, each
        raising its own alerts). The test is track-to-track: both predicted to the tracker
        time, their 4-D state difference within the ``dup_probability`` chi-square gate of
        ``P_i + P_j`` (the cross-covariance is ignored, so the test errs towards "same"),
        at ``dup_hold`` consecutive checks, each pair each track's nearest in that metric.
        What keeps two real boats a few metres apart apart: one sensor's scan fed both
        (their latest plots of a sensor less than half a batch window apart: a scan sees
        each target once), or two different MMSIs; either resets the count. Coasting
        tracks take no part (a new track on a target that vanished for a while is the
        alert engine's fragment merge). The survivor is the one with an MMSI, else the
        older; it inherits the other's sensors."""
        cfg, st = self.config, self.tracks
        if cfg.dup_hold <= 0 or not math.isfinite(self.time):
            return
        if self.time - self._dup_last < 0.9 * cfg.batch_window_s:
            return
        self._dup_last = self.time
        rows = np.flatnonzero((st.status == CONFIRMED) & (self.time - st.t <= cfg.coast_after_s))
        prev_of, prev_n = st.dup_of.copy(), st.dup_n.copy()
        st.dup_n[:] = 0
        st.dup_of[:] = -1
        if rows.size < 2:
            return
        x, p = ncv_predict(st.x[rows], st.P[rows], self.time - st.t[rows], cfg.q * st.qscale[rows])
        gate = chi2_gate(cfg.dup_probability, 4)
        var = p[:, 0, 0] + p[:, 1, 1]
        radius = min(math.sqrt(gate * 2.0 * float(var.max())), cfg.max_gate_radius_m)
        # each track's three nearest others within the widest gate
        dist, idx = cKDTree(x[:, :2]).query(
            x[:, :2], k=min(4, rows.size), distance_upper_bound=radius
        )
        found = np.isfinite(dist) & (idx != np.arange(rows.size)[:, None])
        q = np.broadcast_to(np.arange(rows.size)[:, None], idx.shape)[found]
        nb = idx[found]
        pair = np.unique(np.minimum(q, nb) * rows.size + np.maximum(q, nb))  # each pair once
        a, b = pair // rows.size, pair % rows.size
        if a.size == 0:
            return
        d = x[a] - x[b]
        s = p[a] + p[b]
        d2 = np.einsum("ki,ki->k", d, np.linalg.solve(s, d[:, :, None])[:, :, 0])
        ra, rb = rows[a], rows[b]
        ok = d2 <= gate
        ma, mb = st.mmsi[ra], st.mmsi[rb]
        ok &= ~((ma >= 0) & (mb >= 0) & (ma != mb))
        both = st.seen[ra] & st.seen[rb]
        if both.shape[1]:
            non_ais = self._non_ais
            same_scan = np.abs(st.seen_t[ra] - st.seen_t[rb]) < 0.5 * cfg.batch_window_s
            ok &= ~(both & same_scan & non_ais).any(axis=1)
        a, b, d2, ra, rb = a[ok], b[ok], d2[ok], ra[ok], rb[ok]
        if a.size == 0:
            return
        # each track's nearest partner; a pair counts when each is the other's nearest
        ends = np.concatenate([a, b])
        other = np.concatenate([b, a])
        order = np.lexsort((np.concatenate([d2, d2]), ends))
        first = np.r_[True, ends[order][1:] != ends[order][:-1]]
        best = np.full(rows.size, -1, np.intp)
        best[ends[order][first]] = other[order][first]
        mutual = (best[a] == b) & (best[b] == a)
        ra, rb = ra[mutual], rb[mutual]
        if ra.size == 0:
            return
        cont = (prev_of[ra] == st.num[rb]) & (prev_of[rb] == st.num[ra])
        n = np.where(cont, prev_n[ra] + 1, 1)
        st.dup_n[ra] = st.dup_n[rb] = n
        st.dup_of[ra], st.dup_of[rb] = st.num[rb], st.num[ra]
        done = n >= cfg.dup_hold
        if not done.any():
            return
        ra, rb = ra[done], rb[done]
        # survivor: the one with an MMSI, else the older (rows are in creation order: ra < rb)
        swap = (st.mmsi[rb] >= 0) & (st.mmsi[ra] < 0)
        keep_r, drop_r = np.where(swap, rb, ra), np.where(swap, ra, rb)
        st.seen[keep_r] |= st.seen[drop_r]
        st.seen_t[keep_r] = np.maximum(st.seen_t[keep_r], st.seen_t[drop_r])
        for k, dr in zip(st.num[keep_r].tolist(), st.num[drop_r].tolist(), strict=True):
            log.info(
                "sector %s: track %s deleted as a duplicate of %s",
                self.sector,
                self.track_id(dr),
                self.track_id(k),
            )
        self.n_duplicates += int(drop_r.size)
        self._touch(keep_r, None, None)
        mask = np.zeros(len(st), bool)
        mask[drop_r] = True
        self._delete(mask)

    # ------------------------------------------------------------------ AIS
    def _ais_rows(self, obs: ObservationArrays, start: int, stop: int) -> None:
        """AIS reports update their vessel's own track, and its correlated sensor track."""
        cfg, ais = self.config, self.ais
        for j in range(start, stop):
            s_idx = self._sensor(obs.sensor[j], obs.kind[j])
            mmsi = int(obs.mmsi[j])
            meas = obs.measurements(slice(j, j + 1))
            i = int(ais.index_of(np.array([mmsi]))[0])
            if i < 0:
                x = np.zeros((1, 4))
                x[0, :2] = obs.pos[j]
                p = np.zeros((1, 4, 4))
                p[0, :2, :2] = obs.cov[j]
                if np.isfinite(obs.vel[j]).all():
                    x[0, 2:] = obs.vel[j]
                    p[0, 2, 2] = p[0, 3, 3] = cfg.ais_speed_sigma**2
                else:
                    p[0, 2, 2] = p[0, 3, 3] = cfg.init_speed_sigma**2
                seen = np.zeros((1, len(self.sensors)), bool)
                seen[0, s_idx] = True
                ais.append(
                    seen,
                    num=[mmsi],
                    x=x,
                    P=p,
                    t=[obs.t[j]],
                    status=[CONFIRMED],
                    hits=[1],
                    opps=[1],
                    misses=[0],
                    qscale=[1.0],
                    cls=classification.fuse(np.zeros((1, N_CLASSES)), obs.cls_ll[j : j + 1]),
                    mmsi=[mmsi],
                    last_opp=[obs.t[j]],
                )
                order = np.argsort(ais.num, kind="stable")
                ais.keep(np.ones(len(ais), bool))  # no-op copy keeps names in sync
                for k in ais.cols:
                    ais.cols[k] = ais.cols[k][order]
                ais.seen = ais.seen[order]
                ais.seen_t = ais.seen_t[order]
            elif ais.t[i] > obs.t[j]:  # out of sequence, superseded: the station only
                ais.credit(i, s_idx, obs.t[j])
                self.absorbed.append(obs.obs_id[j])
            else:
                at = np.array([i])
                xp, pp = ncv_predict(ais.x[at], ais.P[at], obs.t[j] - ais.t[at], cfg.q)
                y, h, s = innovations(xp, pp, meas)
                ais.x[at], ais.P[at] = kalman_update(xp, pp, y, h, s)
                ais.t[at] = obs.t[j]
                ais.seen[i, s_idx] = True
                ais.seen_t[i, s_idx] = obs.t[j]
                ais.hits[i] += 1
            if obs.names[j]:
                ais.names[mmsi] = str(obs.names[j])
            self._ais_touched.add(mmsi)
            num = self.correlator.assigned.get(mmsi)
            if num is not None:
                self._ais_to_track(obs, j, s_idx, mmsi, num, meas)

    def _ais_to_track(
        self,
        obs: ObservationArrays,
        j: int,
        s_idx: int,
        mmsi: int,
        num: int,
        meas: MeasurementBatch,
    ) -> None:
        """Apply a vessel's AIS report to its correlated sensor track, if it fits there.

        A report outside the track's gate means the pairing is wrong (or the vessel left the
        track): it unpairs instead of dragging the track to the vessel (a wrong pairing
        used to be sticky: each report pulled the track toward the AIS vessel).
        """
        cfg = self.config
        r = self.tracks.index_of(np.array([num]))
        if r[0] < 0:
            return
        st = self.tracks
        if st.t[r[0]] > meas.t[0]:  # out of sequence, superseded: keep the AIS source only
            st.credit(r[0], s_idx, obs.t[j])
            return
        xp, pp = ncv_predict(st.x[r], st.P[r], meas.t - st.t[r], cfg.q * st.qscale[r])
        y, h, s = innovations(xp, pp, meas)
        s_inv, _ = inv2(s)
        if self.correlator.forced.get(num) != mmsi and mahalanobis2(y, s_inv)[0] > self._gate:
            self.correlator.drop(mmsi)
            self._apply_correlation()
            return
        self._apply_update(r, meas.t, xp, pp, y, h, s)
        st.seen[r[0], s_idx] = True
        st.seen_t[r[0], s_idx] = obs.t[j]
        st.cls[r] = classification.fuse(st.cls[r], obs.cls_ll[j : j + 1])
        st.misses[r] = 0
        self._touch(r, np.array([j]), obs)

    def _correlate(self) -> None:
        cfg = self.config.correlation
        if not math.isfinite(self.time) or self.time - self.correlator.last_eval < cfg.interval_s:
            return
        self.correlator.last_eval = self.time
        st, ais = self.tracks, self.ais
        non_ais = self._non_ais
        elig = (st.status == CONFIRMED) & (
            st.seen[:, non_ais].any(axis=1) if non_ais.size else np.zeros(len(st), bool)
        )
        rows = np.flatnonzero(elig)
        xt, pt = ncv_predict(
            st.x[rows], st.P[rows], self.time - st.t[rows], self.config.q * st.qscale[rows]
        )
        xa, pa = ncv_predict(ais.x, ais.P, self.time - ais.t, self.config.q)
        before = dict(self.correlator.assigned)
        self.correlator.evaluate(ais.num, xa, pa, st.num[rows], xt, pt, self.time - ais.t)
        if before != self.correlator.assigned:
            for m in set(before) ^ set(self.correlator.assigned) | {
                m for m in before if self.correlator.assigned.get(m) not in (None, before[m])
            }:
                self._ais_touched.add(m)
        self._apply_correlation()

    def _apply_correlation(self) -> None:
        st = self.tracks
        new = np.full(len(st), -1, np.int64)
        assigned = self.correlator.assigned  # one-to-one: one lookup for all pairs
        if assigned:
            mm = np.fromiter(assigned.keys(), np.int64, len(assigned))
            at = st.index_of(np.fromiter(assigned.values(), np.int64, len(assigned)))
            new[at[at >= 0]] = mm[at >= 0]
        changed = np.flatnonzero(new != st.mmsi)
        st.cols["mmsi"] = new
        nums, new_l, ais_names = st.num.tolist(), new.tolist(), self.ais.names
        for num, mmsi in zip(nums, new_l, strict=True):
            if mmsi >= 0:
                name = ais_names.get(mmsi)
                if name:
                    st.names[num] = name
        for r in changed.tolist():
            if new_l[r] < 0:
                st.names.pop(nums[r], None)
        self._touch(changed, None, None)

    # ------------------------------------------------------------------ output
    def _status(self, rows: NDArray[np.intp]) -> list[str]:
        st = self.tracks
        out = []
        for s, t in zip(st.status[rows].tolist(), st.t[rows].tolist(), strict=True):
            if s == TENTATIVE:
                out.append("tentative")
            elif self.time - t > self.config.coast_after_s:
                out.append("coasting")
            else:
                out.append("confirmed")
        return out

    def _updates(
        self, rows: NDArray[np.intp], at: float | None = None, status: str | None = None
    ) -> list[TrackUpdate]:
        st = self.tracks
        if rows.size == 0:
            return []
        statuses = [status] * rows.size if status else self._status(rows)
        x, p, t = st.x[rows], st.P[rows], st.t[rows]
        if at is not None:
            x, p = ncv_predict(x, p, np.maximum(at - t, 0.0), self.config.q * st.qscale[rows])
            t = np.maximum(t, at)
        elif status is None:
            coast = np.array([s == "coasting" for s in statuses])
            if coast.any():
                xc, pc = ncv_predict(
                    x[coast], p[coast], self.time - t[coast], self.config.q * st.qscale[rows][coast]
                )
                x, p, t = x.copy(), p.copy(), t.copy()
                x[coast], p[coast], t[coast] = xc, pc, self.time
        return self._build([self._rows_of(rows, x, p, t)], statuses)

    def _rows_of(
        self, rows: NDArray[np.intp], x: FloatArray, p: FloatArray, t: FloatArray
    ) -> _Rows:
        """The output columns of track ``rows`` with state ``x``, ``p`` at ``t``: copies,
        positions converted now (a deletion's, like every other, one conversion per call
        of ``_delete`` -- the conversion's last bits depend on how many points it gets)."""
        st = self.tracks
        lat, lon = self.frame.to_latlon(x[:, 0], x[:, 1])
        nums = st.num[rows].tolist()
        return _Rows(
            nums=nums,
            names=[st.names.get(n) for n in nums],
            obs_ids=[list(self._touched.get(n, [])) for n in nums],
            x=x,
            p=p,
            t=t,
            lat=lat,
            lon=lon,
            cls=st.cls[rows],
            mmsi=st.mmsi[rows],
            seen=st.seen[rows],
            seen_t=st.seen_t[rows],
            t_upd=st.t[rows],
        )

    def _build(self, parts: list[_Rows], statuses: list[str]) -> list[TrackUpdate]:
        """``TrackUpdate``s of ``parts`` (in order), each column converted once for all."""
        c = parts[0] if len(parts) == 1 else _Rows.concat(parts)
        cls = classification.labels(c.cls)
        # sources: who fed the track lately (by its last update), not everyone who ever did:
        # a vessel that switches AIS off must lose the AIS station (dark-vessel rule)
        recent = c.seen & (c.seen_t >= (c.t_upd - self.config.sources_window_s)[:, None])
        # one conversion per column, not per track (same Python floats/ints as float()/int())
        mmsis, ts, lats, lons = c.mmsi.tolist(), c.t.tolist(), c.lat.tolist(), c.lon.tolist()
        ves, vns, covs = c.x[:, 2].tolist(), c.x[:, 3].tolist(), c.p.tolist()
        sources = _flagged(recent, self.sensors)
        sector, prefix = self.sector, f"{self.sector}-T"
        out = []
        for k, num in enumerate(c.nums):
            mmsi = mmsis[k]
            out.append(
                TrackUpdate(
                    track_id=f"{prefix}{num}",
                    t=ts[k],
                    lat=lats[k],
                    lon=lons[k],
                    vel_e=ves[k],
                    vel_n=vns[k],
                    cov=covs[k],
                    status=statuses[k],
                    sources=sources[k],
                    sector=sector,
                    mmsi=mmsi if mmsi >= 0 else None,
                    name=c.names[k],
                    classification=cls[k],
                    obs_ids=c.obs_ids[k],
                )
            )
        return out

    def _ais_updates(self, rows: NDArray[np.intp], status: str | None = None) -> list[TrackUpdate]:
        ais = self.ais
        if rows.size == 0:
            return []
        lat, lon = self.frame.to_latlon(ais.x[rows, 0], ais.x[rows, 1])
        out = []
        for k, r in enumerate(rows.tolist()):
            mmsi = int(ais.num[r])
            st = status or (
                "coasting" if self.time - ais.t[r] > self.config.coast_after_s else "confirmed"
            )
            out.append(
                TrackUpdate(
                    track_id=self.ais_track_id(mmsi),
                    t=float(ais.t[r]),
                    lat=float(lat[k]),
                    lon=float(lon[k]),
                    vel_e=float(ais.x[r, 2]),
                    vel_n=float(ais.x[r, 3]),
                    cov=ais.P[r].tolist(),
                    status=st,
                    sources=[self.sensors[s] for s in np.flatnonzero(ais.seen[r]).tolist()],
                    sector=self.sector,
                    mmsi=mmsi,
                    name=ais.names.get(mmsi),
                    classification="boat",
                    obs_ids=[],
                )
            )
        return out

    def _deleted_updates(self) -> list[TrackUpdate]:
        """The call's deletions, in order; the sensor tracks' built in one pass."""
        graves = [d for d in self._deleted if isinstance(d, _Rows)]
        if not graves:
            return [u for d in self._deleted for u in d]  # type: ignore[union-attr]
        built = iter(self._build(graves, ["deleted"] * sum(len(g.nums) for g in graves)))
        out: list[TrackUpdate] = []
        for d in self._deleted:
            if isinstance(d, _Rows):
                out.extend(next(built) for _ in range(len(d.nums)))
            else:
                out.extend(d)
        return out

    def _emit(self) -> list[TrackUpdate]:
        st = self.tracks
        nums = np.array(sorted(self._touched), np.int64)
        rows = st.index_of(nums) if nums.size else np.empty(0, np.intp)
        rows = rows[rows >= 0]
        out = self._deleted_updates() + self._updates(rows[self._announced(rows)])
        if self._ais_touched:
            linked = set(self.correlator.assigned)
            mm = np.array(sorted(self._ais_touched), np.int64)
            r = self.ais.index_of(mm)
            r = r[r >= 0]
            for u in self._ais_updates(r):
                if u.mmsi in linked:
                    u.status = "deleted"  # merged into the correlated sensor track
                out.append(u)
        return out


@dataclass
class _Rows:
    """Output columns of some sensor-track rows, taken before the rows change or go."""

    nums: list[int]
    names: list[str | None]
    obs_ids: list[list[str]]
    x: FloatArray
    p: FloatArray
    t: FloatArray  # the time reported (predicted for coasting tracks)
    lat: FloatArray
    lon: FloatArray
    cls: FloatArray
    mmsi: NDArray[np.int64]
    seen: NDArray[np.bool_]
    seen_t: FloatArray
    t_upd: FloatArray  # the track's last update (what ``sources`` is measured from)

    @classmethod
    def concat(cls, parts: list[_Rows]) -> _Rows:
        """All parts' rows; ``seen`` padded (no contribution) where a sensor came later."""
        width = max(p.seen.shape[1] for p in parts)

        def pad(a: NDArray[Any], fill: Any) -> NDArray[Any]:
            extra = width - a.shape[1]
            return a if not extra else np.hstack([a, np.full((a.shape[0], extra), fill)])

        def cat(name: str) -> NDArray[Any]:
            return np.concatenate([getattr(p, name) for p in parts])

        return cls(
            nums=[n for p in parts for n in p.nums],
            names=[n for p in parts for n in p.names],
            obs_ids=[o for p in parts for o in p.obs_ids],
            x=cat("x"),
            p=cat("p"),
            t=cat("t"),
            lat=cat("lat"),
            lon=cat("lon"),
            cls=cat("cls"),
            mmsi=cat("mmsi"),
            seen=np.concatenate([pad(p.seen, False) for p in parts]),
            seen_t=np.concatenate([pad(p.seen_t, 0.0) for p in parts]),
            t_upd=cat("t_upd"),
        )


def _flagged(flags: NDArray[np.bool_], names: list[str]) -> list[list[str]]:
    """Per row, the ``names`` of its True columns (in column order). From the nonzero
    entries, not per row and column: a sector's tracker knows ~20 sensors, a track has 1-3."""
    rows, cols = np.nonzero(flags)
    flat = [names[s] for s in cols.tolist()]
    out, start = [], 0
    for stop in np.cumsum(np.bincount(rows, minlength=flags.shape[0])).tolist():
        out.append(flat[start:stop])
        start = stop
    return out


def _well_formed(o: Observation) -> bool:
    """Finite numbers, a valid position and a positive-definite covariance. Spelled out
    (no generator over the seven values): it runs once per observation."""
    fin = math.isfinite
    try:
        c = o.cov_en
        c0, c1 = c[0], c[1]
        ok = (
            fin(float(o.t))
            and fin(float(o.lat))
            and fin(float(o.lon))
            and fin(float(c0[0]))
            and fin(float(c0[1]))
            and fin(float(c1[0]))
            and fin(float(c1[1]))
        )
        return (
            ok
            and abs(o.lat) <= 90
            and abs(o.lon) <= 180
            and c[0][0] > 0
            and c[1][1] > 0
            and c[0][0] * c[1][1] - c[0][1] * c[1][0] > 0
        )
    except (TypeError, ValueError, IndexError):
        return False
