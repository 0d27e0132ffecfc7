"""The pipeline — ingest → fuse → rules — over plain data, with no Kafka in it.

Both drivers use these stages: the Faust agents (``streams/agents.py``) and the offline
runner (``borderfusion replay``), so a recorded stream replayed in-process yields the same
tracks and alerts as the live system. Each stage keeps its state per sector and can
snapshot/restore it, which is how the agents checkpoint into Faust tables.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fusion.sectors import Sectorizer, VesselSectors
from fusion.tracker import TrackerConfig
from fusion.types import Alert, Observation, TrackUpdate
from sensors.friendly import friendly_observation
from sensors.georef import (
    ais_observation,
    polar_observations,
    radar_observation,
    seismic_observation,
    thermal_observation,
)
from sensors.registry import SensorRegistry
from sensors.schemas import READING_TOPICS, ReadingError, split_batch, validate_reading
from streams import jsonio
from streams.deadletter import DeadLetter, dead_letter
from streams.idruns import RecentIds, iter_recent
from streams.settings import Settings

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 1_000_000


# Fusion and ingest defaults have one home, ``streams.settings.Settings``: a Context built
# without settings (offline replay, tests, benchmarks) uses the values a worker with the
# default settings uses, so the two cannot drift apart.
_DEFAULTS = Settings()


@dataclass
class Context:
    """What every stage needs to know about the deployment: sensors, zones, rules."""

    registry: SensorRegistry
    sectorizer: Sectorizer
    zones: dict[str, Any] | None = None
    rules: dict[str, Any] | None = None
    reorder_window_s: float = _DEFAULTS.reorder_window_s
    max_reading_age_s: float = _DEFAULTS.max_reading_age_s
    bucket_s: float = _DEFAULTS.fusion_bucket_s  # fusion time bucket
    # release a bucket as soon as every sensor heard from in the sector within this many
    # seconds of event time has passed its end, instead of waiting the reorder window
    # (0: window only; settings.fusion_sensor_idle_s; docs/streaming.md "Reorder window")
    sensor_idle_s: float = _DEFAULTS.fusion_sensor_idle_s
    # an observation up to this far behind the released watermark is still offered to the
    # tracker (out-of-sequence handling: it applies what its tracks' times allow, returns
    # the rest as late); further behind it is dead-lettered at once (settings)
    late_tolerance_s: float = _DEFAULTS.fusion_late_tolerance_s

    @functools.cached_property
    def sensor_homes(self) -> dict[str, str]:
        """Home sector of every registered sensor a sector holds (by its position; one
        outside every sector is left out): the sector whose alert state watches it for
        silence."""
        sensors = list(self.registry)
        if not sensors:
            return {}
        homes = self.sectorizer.home(np.array([x.lat for x in sensors]),
                                     np.array([x.lon for x in sensors]))
        return {x.id: h for x, h in zip(sensors, homes, strict=True) if h != "outside"}

    def seen_by_home(self, seen: dict[str, float]) -> dict[str, dict[str, float]]:
        """Sensors' newest reading times (``IngestResult.seen``) grouped by home sector."""
        out: dict[str, dict[str, float]] = defaultdict(dict)
        homes = self.sensor_homes
        for sid, t in seen.items():
            if sid in homes:
                out[homes[sid]][sid] = t
        return out

    @classmethod
    def from_files(cls, sensors_file: Path | str, zones_file: Path | str | None = None,
                   rules_file: Path | str | None = None, *,
                   grid_m: float = _DEFAULTS.sector_grid_m,
                   halo_m: float = _DEFAULTS.halo_m,
                   reorder_window_s: float = _DEFAULTS.reorder_window_s,
                   max_reading_age_s: float = _DEFAULTS.max_reading_age_s,
                   bucket_s: float = _DEFAULTS.fusion_bucket_s,
                   sensor_idle_s: float = _DEFAULTS.fusion_sensor_idle_s,
                   late_tolerance_s: float = _DEFAULTS.fusion_late_tolerance_s) -> Context:
        registry = SensorRegistry.load(sensors_file)
        zones = json.loads(Path(zones_file).read_text()) if zones_file else None
        rules = yaml.safe_load(Path(rules_file).read_text()) if rules_file else None
        sectorizer = Sectorizer.from_zones(zones, registry.centroid(), grid_m, halo_m)
        return cls(registry, sectorizer, zones, rules, reorder_window_s, max_reading_age_s,
                   bucket_s, sensor_idle_s, late_tolerance_s)

    @classmethod
    def from_settings(cls, s: Settings) -> Context:
        """The worker's context: files and every fusion/ingest knob from ``s``."""
        if s.sensors_file is None:
            raise RuntimeError("no sensor registry: set BORDERFUSION_SENSORS_FILE (sensors.yaml)")
        return cls.from_files(
            s.sensors_file, s.zones_file, s.rules_file, grid_m=s.sector_grid_m,
            halo_m=s.halo_m, reorder_window_s=s.reorder_window_s,
            max_reading_age_s=s.max_reading_age_s, bucket_s=s.fusion_bucket_s,
            sensor_idle_s=s.fusion_sensor_idle_s, late_tolerance_s=s.fusion_late_tolerance_s)

    @classmethod
    def from_scenario(cls, scenario_dir: Path | str, rules_file: Path | str | None = None,
                      **kw: Any) -> Context:
        d = Path(scenario_dir)
        zones = d / "zones.geojson"
        rules = rules_file or (d / "rules.yaml" if (d / "rules.yaml").exists() else None)
        return cls.from_files(d / "sensors.yaml", zones if zones.exists() else None, rules, **kw)


# ---------------------------------------------------------------- ingest


@dataclass
class IngestResult:
    observations: list[Observation] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)
    accepted: int = 0
    # newest event time of an accepted reading per sensor: proof of life for the
    # sensor-silence rule, whether or not the reading gave an observation
    seen: dict[str, float] = field(default_factory=dict)

    def by_sector(self) -> dict[str, list[Observation]]:
        out: dict[str, list[Observation]] = defaultdict(list)
        for obs in self.observations:
            out[obs.sector].append(obs)
        return out


class IngestStage:
    """Validate readings, decode AIS/waveforms, geo-reference, assign sectors (+ halo)."""

    def __init__(self, ctx: Context, now: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.now = now
        self._ais: Any = None
        self._seismic: dict[str, Any] = {}
        # AIS hand-over: a report also goes to the sector of the vessel's previous report
        # when that is neither its home nor in its halo (fusion.sectors.VesselSectors;
        # in memory: after a restart the first report of each vessel has no previous one)
        self.vessels = VesselSectors(TrackerConfig.ais_timeout_s)

    def ingest(self, topic: str, value: bytes | str | Any, assign: bool = True) -> IngestResult:
        """One record of a ``readings.*`` topic: raw JSON bytes, or an already-parsed value.

        ``assign=False`` leaves ``sector`` unset (``ingest_many`` assigns a batch at once)."""
        result = IngestResult()
        kind = READING_TOPICS.get(topic)
        if kind is None:
            result.deadletters.append(dead_letter(topic, "unknown_topic", value))
            return result
        if isinstance(value, (bytes, str)):
            if len(value) > MAX_RECORD_BYTES:
                result.deadletters.append(dead_letter(
                    topic, "too_large", value[:256],
                    message=f"record of {len(value)} bytes exceeds {MAX_RECORD_BYTES}"))
                return result
            try:
                value = jsonio.loads(value)
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                # RecursionError: JSON nested deeper than the parser's stack (e.g. [[[[…]]]])
                result.deadletters.append(dead_letter(topic, "malformed_json", value,
                                                      message=str(exc) or type(exc).__name__))
                return result
        readings = split_batch(value)
        if kind in ("radar", "thermal") and len(readings) > 1:
            self._ingest_polar(topic, kind, readings, result)
        else:
            for index, reading in enumerate(readings):
                try:
                    self._ingest_one(kind, reading, result)
                    result.accepted += 1
                except ReadingError as err:
                    self._refuse(topic, reading, index, err, result)
        if assign:
            self._assign_sectors(result.observations)
        return result

    def ingest_many(self, records: list[tuple[str, bytes | str | Any]],
                    contain: bool = False,
                    sources: list[list[Any]] | None = None) -> list[IngestResult]:
        """Several records (``(topic, value)``, e.g. one Kafka batch) with one vectorised
        sector assignment for all their observations: a driver that holds a batch of
        single readings (seismic events, AIS sentences) saves the per-record NumPy and
        tree-query overhead. Same results as calling :meth:`ingest` per record.

        ``contain=True`` (the agent): a record whose ingest raises becomes an
        ``internal_error`` dead letter instead of failing the whole batch.
        ``sources`` (the agent): per record its ``[topic, partition, offset]``, stamped on
        its observations as ``src`` (halo copies included) for fusion's redelivery check."""
        results = []
        for topic, value in records:
            try:
                results.append(self.ingest(topic, value, assign=False))
            except Exception as exc:
                if not contain:
                    raise
                log.exception("ingest failed on a record")
                results.append(IngestResult(deadletters=[dead_letter(
                    topic, "internal_error", value, message=repr(exc))]))
        if sources is not None:
            for result, src in zip(results, sources, strict=True):
                for obs in result.observations:
                    obs.src = src  # one shared list per record: set before the halo copies
        self._assign_sectors([o for r in results for o in r.observations],
                             [r.observations for r in results])
        return results

    def _refuse(self, topic: str, reading: Any, index: int, err: ReadingError,
                result: IngestResult) -> None:
        sid = reading.get("sensor_id") if isinstance(reading, dict) else None
        result.deadletters.append(dead_letter(
            topic, err.reason, json.dumps(reading, default=str), field=err.field,
            message=err.message, sensor_id=sid if isinstance(sid, str) else None, index=index))

    def _ingest_polar(self, topic: str, kind: str, readings: list[Any],
                      result: IngestResult) -> None:
        """A radar scan or a camera batch: validate each reading, geo-reference all of one
        sensor's in one vectorised call (``sensors.georef.polar_observations``); a bad
        reading is refused alone, the order of observations follows the readings."""
        now = self.now()
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, reading in enumerate(readings):
            try:
                validate_reading(kind, reading, now=now, max_age_s=self.ctx.max_reading_age_s)
                sid = reading["sensor_id"]
                if sid not in self.ctx.registry:
                    raise ReadingError("sensor_id", "unknown_sensor",
                                       f"sensor {sid!r} is not in the registry")
            except ReadingError as err:
                self._refuse(topic, reading, index, err, result)
                continue
            groups.setdefault(sid, []).append((index, reading))
        placed: list[tuple[int, Observation]] = []
        for sid, items in groups.items():
            outcomes = polar_observations(kind, [r for _, r in items], self.ctx.registry.get(sid))
            for (index, reading), out in zip(items, outcomes, strict=True):
                if isinstance(out, ReadingError):
                    self._refuse(topic, reading, index, out, result)
                else:
                    placed.append((index, out))
                    keep_newest(result.seen, sid, float(reading["t"]))
        if len(groups) > 1:
            placed.sort(key=lambda item: item[0])
        result.observations.extend(o for _, o in placed)
        result.accepted += len(placed)

    def _ingest_one(self, kind: str, reading: Any, result: IngestResult) -> None:
        validate_reading(kind, reading, now=self.now(), max_age_s=self.ctx.max_reading_age_s)
        sensor = self.ctx.registry.get(reading["sensor_id"])
        if sensor is None:
            raise ReadingError("sensor_id", "unknown_sensor",
                               f"sensor {reading['sensor_id']!r} is not in the registry")
        keep_newest(result.seen, sensor.id, float(reading["t"]))
        if kind == "radar":
            result.observations.append(radar_observation(reading, sensor))
        elif kind == "thermal":
            result.observations.append(thermal_observation(reading, sensor))
        elif kind == "seismic":
            for event in self._seismic_events(reading, sensor):
                result.observations.append(seismic_observation(event, sensor))
        elif kind == "friendly":
            result.observations.append(friendly_observation(reading, sensor))
        else:
            result.observations.extend(self._ais_observations(reading, sensor.id, result))

    def _seismic_events(self, reading: dict[str, Any], sensor: Any) -> list[dict[str, Any]]:
        if "samples" not in reading:
            return [reading]
        from sensors.seismic import SeismicDetector  # waveform path only

        det = self._seismic.get(sensor.id)
        if det is None:
            det = self._seismic[sensor.id] = SeismicDetector(float(reading["rate_hz"]),
                                                             sensor_id=sensor.id)
        import numpy as np

        events = det.feed(np.asarray(reading["samples"], dtype=float), float(reading["t"]))
        return [{**e, "sensor_id": sensor.id} for e in events]

    def _ais_observations(self, reading: dict[str, Any], sensor_id: str,
                          result: IngestResult) -> list[Observation]:
        """Feed one sentence; positions become observations. A rejection of this very
        sentence refuses the reading; one of an earlier fragment (timed out) is
        dead-lettered on its own."""
        from sensors.ais import AisDecoder, AisRejection

        if self._ais is None:
            self._ais = AisDecoder()
        out: list[Observation] = []
        key = {"nmea": reading["nmea"], "t": reading["t"]}
        for item in self._ais.feed(reading["nmea"], reading.get("station_id", sensor_id),
                                   float(reading["t"])):
            if isinstance(item, AisRejection):
                if item.raw and item.raw.strip() == reading["nmea"].strip():
                    raise ReadingError("nmea", item.reason, item.message)
                result.deadletters.append(dead_letter(
                    "readings.ais", item.reason, item.raw, field="nmea", message=item.message,
                    sensor_id=sensor_id))
                continue
            obs = ais_observation(item.to_dict(), sensor_id, key)
            if obs is not None:
                out.append(obs)
        return out

    def _assign_sectors(self, observations: list[Observation],
                        owners: list[list[Observation]] | None = None) -> None:
        """Home sector per observation, plus a copy (``attrs.halo``) for each neighbour
        within the halo, appended to the list the observation came in (``owners``: the
        lists of several results, ``observations`` being their concatenation)."""
        if not observations:
            return
        sz = self.ctx.sectorizer
        homes, halos = sz.assign(np.fromiter((o.lat for o in observations), float,
                                             len(observations)),
                                 np.fromiter((o.lon for o in observations), float,
                                             len(observations)))
        targets = [observations] if owners is None else owners
        k = 0
        for target in targets:
            extra: list[Observation] = []
            for obs in target[:]:
                home, others = homes[k], halos[k]
                k += 1
                obs.sector = home
                copies = others if sz.halo_m > 0 else []
                if obs.kind == "ais" and "mmsi" in obs.attrs:
                    left = self.vessels.extra(int(obs.attrs["mmsi"]), obs.t, home, copies)
                    if left is not None:
                        copies = [*copies, left]
                for other in copies:
                    extra.append(Observation(obs.obs_id, obs.sensor_id, obs.kind, obs.t,
                                             obs.lat, obs.lon, obs.cov_en,
                                             {**obs.attrs, "halo": True}, other, obs.src))
            target.extend(extra)


# ---------------------------------------------------------------- fusion


def keep_newest(seen: dict[str, float], sensor_id: str, t: float) -> None:
    """Keep ``t`` as the sensor's newest reading time if it is newer."""
    if t > seen.get(sensor_id, float("-inf")):
        seen[sensor_id] = t


def observation_dict(o: Observation) -> dict[str, Any]:
    """``Observation.to_dict`` without ``dataclasses.asdict``'s deep copy (~10× faster):
    for serialising right away, the dict shares ``cov_en``/``attrs`` with the object.
    ``src`` only when set (optional field: absent, as in ``to_dict``)."""
    d = {"obs_id": o.obs_id, "sensor_id": o.sensor_id, "kind": o.kind, "t": o.t,
         "lat": o.lat, "lon": o.lon, "cov_en": o.cov_en, "attrs": o.attrs,
         "sector": o.sector}
    if o.src is not None:
        d["src"] = o.src
    return d


def _order_key(o: Observation) -> tuple[float, str, str]:
    return (o.t, o.sensor_id, o.obs_id)


class FusionStage:
    """Per-sector trackers behind a reorder window.

    Observations are released in event-time order once the sector's watermark passes
    them, and always handed to the tracker in whole time buckets (``bucket_s``), so the
    tracker sees the same sequence of calls whether the driver advances after every
    reading (offline replay) or after a Kafka batch (agents): that is what makes live and
    replayed runs agree on track and alert ids. Anything arriving behind the released
    watermark is late: returned for the dead-letter topic.

    The watermark is the sector's newest event time − ``reorder_window_s``, raised (when
    ``ctx.sensor_idle_s`` > 0) to the oldest newest-time of the sensors *active* in the
    sector, those heard from within ``sensor_idle_s`` of its newest time (unless the
    sector is more than a window behind the wall clock ``now``: a backlog): each sensor's
    readings arrive in event-time order, so once every active sensor has passed a bucket
    nothing more is expected for it. A sensor quiet for longer (a 1 Hz radar between
    scans, an event-driven geophone) is not waited for, so the hold is at most
    ``sensor_idle_s`` + a bucket instead of the window; its next reading is normally newer
    than the release anyway, and one that is not goes the late path below.

    A sector catching up (behind the wall clock, or since input marked as a backlog by the
    ingest, ``add(backlog=True)``, until its radars have passed where that backlog brought
    it) is released on the window alone, but not past its slowest radar within the late
    tolerance (:meth:`radar_hold`).

    Late observations (behind the released watermark by at most ``late_tolerance_s``) are
    not dropped here: the next ``advance`` offers them to the tracker in one call before
    the new buckets; the tracker applies them per track or absorbs those a newer update
    superseded (counted in ``absorbed``), and only what it cannot place at all is returned
    as late. Further behind, ``add`` returns them as late at once.

    ``friendly`` observations (own units' BFT reports) share the buffer and its ordering
    but never reach the tracker: each bucket's go to the sector's ``OwnForce`` picture,
    which then marks the tracker's updates of our own patrols (``fusion/friendly.py``).
    """

    def __init__(self, ctx: Context, bucket_s: float | None = None,
                 dedup_horizon_s: float | None = None,
                 now: Callable[[], float] | None = None) -> None:
        self.ctx = ctx
        self.bucket_s = ctx.bucket_s if bucket_s is None else bucket_s
        # wall clock (the agents): a sector more than a reorder window behind it is working
        # through a backlog, where the readings topics drift apart by seconds: it is released
        # on the window alone (latency is lost anyway; lateness would not be)
        self.now = now
        # how far behind the released watermark a redelivered observation is still
        # recognised by id (after a restart, readings since the last committed offset come
        # again): a few commit intervals of event time, at least three reorder windows
        self.dedup_horizon_s = (max(30.0, 3 * ctx.reorder_window_s) if dedup_horizon_s is None
                                else dedup_horizon_s)
        self.trackers: dict[str, Any] = {}
        self.buffers: dict[str, list[Observation]] = defaultdict(list)
        self.newest: dict[str, float] = {}
        self.sensor_newest: dict[str, dict[str, float]] = defaultdict(dict)  # per sector
        self.released: dict[str, float] = {}
        # per sector: ids released within ``dedup_horizon_s`` (id -> t in release order), kept
        # as runs of one bucket, its checkpoint form: a checkpoint encodes each id once
        self.recent: dict[str, RecentIds] = defaultdict(lambda: RecentIds(self.bucket_s))
        self.emitted: dict[str, int] = defaultdict(int)  # buckets published so far
        self.duplicates: dict[str, int] = defaultdict(int)
        # per sector: highest reading offset taken per readings "topic:partition" (from the
        # observations' ``src``); an observation at or below it is a re-ingested reading
        self.src_offsets: dict[str, dict[str, int]] = defaultdict(dict)
        self.redelivered: dict[str, int] = defaultdict(int)  # the part of duplicates by src
        # out-of-sequence observations the tracker found superseded (neither fused nor late)
        self.absorbed: dict[str, int] = defaultdict(int)
        self._buffered_ids: dict[str, set[str]] = {}
        # the JSON objects buffered observations arrived as (obs_id -> dict), when the driver
        # passes them to ``add``: the checkpoint writes them back as they are instead of
        # rebuilding each with ``Observation.to_dict`` (a deep copy, the top cost at 10k/s)
        self._raw: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        # per sector: own patrols' reported positions and which tracks are theirs
        # (blue-force tracking, fusion/friendly.py); ``friendly`` observations go there,
        # never to the tracker
        self.own: dict[str, Any] = {}
        # sector hand-over: per sector, the tracks whose newest update was inside it; the
        # first update of one outside is a departure (``departures``, one list per bucket
        # the last ``advance`` returned, for the alert stage); departures of a tracker call
        # that owned nothing wait for the next bucket (``_departing``)
        self.inside: dict[str, set[str]] = defaultdict(set)
        self.departures: dict[str, list[list[TrackUpdate]]] = {}
        self._departing: dict[str, list[TrackUpdate]] = defaultdict(list)
        # catching up (``backlog``): per sector, the newest time of each radar seen in it
        # (never pruned: a radar between scans is quiet, not gone); while it is catching up
        # (see ``add``), the sector's newest time at its last backlog call; and since when
        # (wall clock) a quiet flush has been held for a radar: after a reorder window of
        # quiet the radar is not coming and the tail goes
        self.radar_newest: dict[str, dict[str, float]] = defaultdict(dict)
        self.backlog_newest: dict[str, float] = {}
        self.flush_held: dict[str, float] = {}

    def forget(self) -> None:
        """Drop every sector's in-memory state (after a rebalance): the table is the truth,
        and a sector that comes back must be restored from it, not from a stale copy."""
        for d in (self.trackers, self.buffers, self.newest, self.sensor_newest,
                  self.released, self.recent, self.emitted, self.duplicates,
                  self.src_offsets, self.redelivered, self.absorbed, self._buffered_ids,
                  self._raw, self.own, self.inside, self.departures, self._departing,
                  self.radar_newest, self.backlog_newest, self.flush_held):
            d.clear()

    # TrackerConfig fields on top of the engine's (benchmarks/alert_quality.py --tracker)
    tracker_overrides: dict[str, Any] = {}  # replaced per instance, never mutated

    def tracker_config(self) -> Any:
        """The settings every sector's tracker runs with, new or restored: the engine's, with
        the tracker's out-of-sequence lag at the late tolerance (an observation this stage
        hands on late is applied or absorbed per track, not returned late again), and
        ``tracker_overrides`` on top."""
        from fusion.tracker import engine_config

        return engine_config({"oosm_max_lag_s": self.ctx.late_tolerance_s,
                              **self.tracker_overrides})

    def tracker(self, sector: str) -> Any:
        tr = self.trackers.get(sector)
        if tr is None:
            from fusion.tracker import SectorTracker

            origin = self.ctx.sectorizer.origin(sector)
            tr = self.trackers[sector] = SectorTracker(
                sector=sector, lat0=origin.lat0, lon0=origin.lon0, config=self.tracker_config())
        return tr

    def add(self, sector: str, observations: Iterable[Observation],
            raw: list[dict[str, Any]] | None = None,
            backlog: bool = False) -> list[Observation]:
        """Buffer observations; return those too far behind the released watermark (late).

        A redelivery (a restarted ingest or fusion worker reads again from its last
        committed offset) is counted in ``duplicates`` and dropped, neither late nor fused
        twice: an observation whose ``src`` reading offset is at or below the highest this
        sector has taken from that readings partition (exact, however old; also counted in
        ``redelivered``), or, without ``src``, whose id is already buffered or was released
        within ``dedup_horizon_s``. All observations of one reading come in one call (the
        ingest agent sends one record per sector per batch), so the mark moves after it.
        ``raw``: the JSON objects the observations were decoded from (same order), kept for
        a cheap :meth:`snapshot`. ``backlog``: they come from readings read as a backlog
        (the sector is *catching up* from then until a call without it finds every radar
        within the late tolerance past the newest time the last backlog call brought: the
        ingest drains one readings topic before another, so live records of the first come
        while the second's backlog is still in Kafka; see :meth:`watermark`).
        """
        radars = self.radar_newest[sector]
        raws = self._raw[sector] if raw is not None else None
        buf = self.buffers[sector]
        ids = self._buffered_ids.get(sector)
        if ids is None:
            ids = self._buffered_ids[sector] = {o.obs_id for o in buf}
        recent = self.recent[sector].times  # the dict itself: one lookup per observation
        released = self.released.get(sector, float("-inf"))
        too_late = released - self.ctx.late_tolerance_s
        newest0 = newest = self.newest.get(sector, float("-inf"))
        per_sensor = self.sensor_newest[sector]
        marks = self.src_offsets[sector]
        taken: dict[str, int] = {}  # this call's highest offsets, applied after the loop
        late = []
        for i, obs in enumerate(observations):
            src = obs.src
            if src is not None:
                part, offset = f"{src[0]}:{src[1]}", src[2]
                if offset <= marks.get(part, -1):
                    self.duplicates[sector] += 1
                    self.redelivered[sector] += 1
                    continue
                if offset > taken.get(part, -1):
                    taken[part] = offset
            if obs.obs_id in ids or obs.obs_id in recent:
                self.duplicates[sector] += 1
                continue
            if obs.t < too_late:
                late.append(obs)
                continue
            buf.append(obs)
            ids.add(obs.obs_id)
            if raws is not None:
                raws[obs.obs_id] = raw[i]  # type: ignore[index]
            if obs.t > newest:
                newest = obs.t
            if obs.t > per_sensor.get(obs.sensor_id, float("-inf")):
                per_sensor[obs.sensor_id] = obs.t
                if obs.kind == "radar" and obs.t > radars.get(obs.sensor_id, float("-inf")):
                    radars[obs.sensor_id] = obs.t
        if newest > newest0:
            self.newest[sector] = newest
        marks.update(taken)  # late ones too: a second copy is a redelivery, not late again
        self.flush_held.pop(sector, None)  # input: the sector is not quiet
        if backlog:
            self.backlog_newest[sector] = self.newest.get(sector, float("-inf"))
        elif self.catching_up(sector) and self.radar_hold(sector) >= self.backlog_newest[sector]:
            del self.backlog_newest[sector]  # the radars have passed where the backlog was
        return late

    def catching_up(self, sector: str) -> bool:
        """Whether the sector is catching up after a backlog (see :meth:`add`)."""
        return sector in self.backlog_newest

    def watermark(self, sector: str) -> float:
        """Event time before which the sector expects nothing more (see class doc)."""
        newest = self.newest[sector]
        floor = newest - self.ctx.reorder_window_s
        if self.catching_up(sector) or (
                self.now is not None and self.now() - newest > self.ctx.reorder_window_s):
            return min(floor, self.radar_hold(sector))
        idle = min(self.ctx.sensor_idle_s, self.ctx.reorder_window_s)
        if idle <= 0:
            return floor
        per_sensor = self.sensor_newest[sector]
        cut = newest - idle
        for sid in [sid for sid, t in per_sensor.items() if t <= cut]:
            del per_sensor[sid]  # quiet for longer than sensor_idle_s: not waited for
        return max(floor, min(per_sensor.values(), default=newest))

    def radar_hold(self, sector: str) -> float:
        """While the sector catches up: the newest time of its slowest radar, if within the
        late tolerance of the sector's newest (else the sector's newest). After a restart the
        readings topics come back at different speeds, seconds apart; a bucket released
        before a lagging radar's plots arrive would leave them to the tracker's out-of-
        sequence path, where a track already updated past them only absorbs them (chaos
        run 1 lost alerts so: one radar's 13 s absorbed). A radar further behind than the
        tolerance is taken for gone; event-driven sensors are not waited for."""
        newest = self.newest[sector]
        oldest = newest - self.ctx.late_tolerance_s
        return min((t for t in self.radar_newest[sector].values() if t >= oldest),
                   default=newest)

    def _flush_hold(self, sector: str, mark: float) -> float:
        """How far a quiet flush of a catching-up sector may release: to its slowest radar,
        until the sector has been quiet (no ``add``) for a reorder window of wall clock —
        then the radar is not coming (a backlog is read in well under that) and the
        catch-up ends, so the tail of a backlog never waits for new input forever."""
        hold = math.floor(self.radar_hold(sector) / self.bucket_s) * self.bucket_s
        if hold >= mark or self.now is None:
            return hold
        now = self.now()
        if now - self.flush_held.setdefault(sector, now) < self.ctx.reorder_window_s:
            return hold
        self.backlog_newest.pop(sector, None)  # the catch-up ends
        return mark

    def advance(self, sector: str, flush: bool = False
                ) -> tuple[list[list[TrackUpdate]], list[Observation]]:
        """Run the tracker over what the watermark releases.

        Returns the owned track updates per time bucket (one list per bucket, in order —
        downstream rules see the same sequence on every driver) and the late observations.
        """
        self.departures[sector] = []
        buf = self.buffers.get(sector)
        if not buf:
            return [], []
        if flush:
            mark = math.floor(self.newest[sector] / self.bucket_s + 1) * self.bucket_s
            if self.catching_up(sector):  # quiet: but a radar's backlog may still come
                mark = min(mark, self._flush_hold(sector, mark))
        else:
            mark = math.floor(self.watermark(sector) / self.bucket_s) * self.bucket_s
        ready = [o for o in buf if o.t < mark]
        if not ready:
            return [], []
        keep = [o for o in buf if o.t >= mark]
        self.buffers[sector] = keep
        # the ids of what left the buffer are dropped (buffered ids are unique), the rest of
        # the buffer, several times larger under load, is not copied; the raw dicts are
        # copied (popping them one by one left the next steps ~1 µs/obs slower: take_cost.py)
        gone = ready if len(ready) + len(keep) == len(buf) else [  # (a NaN time: neither)
            o for o in buf if not o.t >= mark]
        ids = self._buffered_ids.get(sector)
        if ids is not None:
            ids.difference_update([o.obs_id for o in gone])
        raws = self._raw.get(sector)
        if raws:
            self._raw[sector] = {o.obs_id: raws[o.obs_id] for o in keep if o.obs_id in raws}
        before = self.released.get(sector, float("-inf"))
        self.released[sector] = max(mark, before)
        ready.sort(key=_order_key)
        self._remember(sector, ready)
        tr = self.tracker(sector)
        outputs: list[list[TrackUpdate]] = []
        late: list[Observation] = []
        # late arrivals (behind the previous release) first, in one call; then whole buckets
        n_old = 0
        while n_old < len(ready) and ready[n_old].t < before:
            n_old += 1
        chunks = [ready[:n_old]] if n_old else []
        chunks += [list(c) for _, c in groupby(ready[n_old:],
                                               key=lambda o: math.floor(o.t / self.bucket_s))]
        for chunk in chunks:
            friendly: list[Observation] = []
            rest: list[Observation] = []
            for o in chunk:  # one pass splits own units' reports from the rest
                (friendly if o.kind == "friendly" else rest).append(o)
            if friendly:
                self.own_force(sector).report(friendly)
                chunk = rest
                if not chunk:  # the tracker sees exactly the calls it saw without BFT
                    continue
            updates = tr.process(chunk)
            own = self.own.get(sector)
            if own is not None:
                own.mark(updates)
            outputs.append(updates)
            if tr.late:  # reset by every call: collect per chunk
                late.extend(tr.late)
                tr.late = []
            self.absorbed[sector] += len(tr.absorbed)
        buckets = self._owned(sector, outputs)
        self.emitted[sector] += len(buckets)
        return buckets, late

    def _remember(self, sector: str, released: list[Observation]) -> None:
        """Keep the ids of released observations for ``dedup_horizon_s`` of event time
        (in event-time order, and releases only move forward: release order is time order,
        oldest first, but for late arrivals)."""
        recent = self.recent[sector]
        recent.release([o.obs_id for o in released], [o.t for o in released])
        recent.expire(self.released[sector] - self.dedup_horizon_s)

    def own_force(self, sector: str) -> Any:
        own = self.own.get(sector)
        if own is None:
            from fusion.friendly import OwnForce

            origin = self.ctx.sectorizer.origin(sector)
            own = self.own[sector] = OwnForce(origin.lat0, origin.lon0)
        return own

    def confirmed_count(self, sector: str) -> int:
        """Confirmed live sensor tracks of the sector (the ``ACTIVE_TRACKS`` gauge)."""
        from fusion.tracking.store import CONFIRMED

        tr = self.trackers.get(sector)
        return 0 if tr is None else int((tr.tracks.status == CONFIRMED).sum())

    def _owned(self, sector: str, outputs: list[list[TrackUpdate]]) -> list[list[TrackUpdate]]:
        """Per tracker call, the updates the sector owns (inside it, or deleted), those
        calls that have any: one sector test for all the calls of an ``advance`` (~35 µs a
        test however few the points). Sets ``departures[sector]`` alongside."""
        departures: list[list[TrackUpdate]] = []
        self.departures[sector] = departures
        updates = [u for us in outputs for u in us]
        if not updates:
            return []
        flags = self.ctx.sectorizer.contains(sector, [u.lat for u in updates],
                                             [u.lon for u in updates]).tolist()
        ins = self.inside[sector]
        pending = self._departing[sector]
        buckets = []
        i = 0
        for us in outputs:
            out = []
            for u in us:
                if u.status == "deleted":
                    out.append(u)
                    ins.discard(u.track_id)
                elif flags[i]:
                    out.append(u)
                    if u.status != "tentative":  # (no rule judges a tentative track)
                        ins.add(u.track_id)
                elif u.track_id in ins:  # left the sector: its alerts may go with it
                    ins.discard(u.track_id)
                    pending.append(u)
                i += 1
            for u in out:
                u.sector = sector
            if out:
                buckets.append(out)
                departures.append(pending)
                pending = self._departing[sector] = []
        return buckets

    def snapshot(self, sector: str) -> dict[str, Any]:
        """The sector's state as plain JSON data.

        Cheap by construction, since it is written on every checkpoint: buffered
        observations go out as the dicts they arrived as (see ``add``), and the recent-id
        set as ``recent_runs`` (``streams.idruns``): one entry per time bucket, ``t`` the
        newest event time in it (an id expires no earlier than before, so dedup is never
        weaker), content-hash ids as 8 bytes each, each run encoded once in its life.
        ``restore`` also reads the older ``recent_ids`` and ``recent`` forms, and a state
        without ``src_offsets`` (older checkpoints: dedup by id only until then).
        """
        raws = self._raw.get(sector) or {}
        buffer = [raws.get(o.obs_id) or observation_dict(o)
                  for o in self.buffers.get(sector, [])]
        state = {
            "tracker": self.tracker(sector).snapshot(),
            "buffer": buffer,
            "newest": self.newest.get(sector),
            "sensor_newest": dict(self.sensor_newest.get(sector) or {}),
            "released": self.released.get(sector),
            "recent_runs": recent.encoded() if (recent := self.recent.get(sector)) else [],
            "emitted": self.emitted.get(sector, 0),
            "src_offsets": dict(self.src_offsets.get(sector) or {}),
        }
        if sector in self.own:
            state["own_force"] = self.own[sector].snapshot()
        if self.inside.get(sector):
            state["inside"] = sorted(self.inside[sector])
        if self._departing.get(sector):  # a call that owned nothing left them waiting
            state["departing"] = [u.to_dict() for u in self._departing[sector]]
        if self.radar_newest.get(sector):
            state["radar_newest"] = dict(self.radar_newest[sector])
        return state

    def restore(self, sector: str, state: dict[str, Any]) -> None:
        from fusion.tracker import SectorTracker

        self.trackers[sector] = SectorTracker.restore(state["tracker"], self.tracker_config())
        raw_buffer = state.get("buffer") or []
        self.buffers[sector] = [Observation.from_dict(o) for o in raw_buffer]
        self._raw[sector] = {str(o["obs_id"]): o for o in raw_buffer}
        if state.get("newest") is not None:
            self.newest[sector] = float(state["newest"])
        self.sensor_newest[sector] = {str(k): float(t) for k, t in
                                      (state.get("sensor_newest") or {}).items()}
        if state.get("released") is not None:
            self.released[sector] = float(state["released"])
        self.recent[sector] = RecentIds.from_pairs(iter_recent(state), self.bucket_s)
        self.emitted[sector] = int(state.get("emitted") or 0)
        self.src_offsets[sector] = {str(k): int(v) for k, v in
                                    (state.get("src_offsets") or {}).items()}
        self._buffered_ids.pop(sector, None)
        self.inside[sector] = {str(t) for t in state.get("inside") or ()}
        self._departing[sector] = [TrackUpdate.from_dict(d) for d in state.get("departing") or ()]
        self.radar_newest[sector] = {str(k): float(t) for k, t in
                                     (state.get("radar_newest") or {}).items()}
        self.own.pop(sector, None)
        if state.get("own_force"):
            self.own_force(sector).restore(state["own_force"])


# ---------------------------------------------------------------- alerts


class AlertStage:
    """Geofences and rules per sector, with the alert lifecycle (ack, dismiss, escalate).

    Sensor silence (DESIGN §6: a sensor that stops reporting opens a coverage-gap alert):
    the drivers pass each sector the newest reading time of the sensors homed in it
    (:meth:`note_seen`, from ``IngestResult.seen``: readings that gave no observation count
    too), which checks, at most once per second of event time, the sensors that report on
    a clock — radars, every ``scan_period_s`` — against the newest reading time of all the
    stage's sectors (its own would stop with its only radar). A radar never heard from
    counts from the moment the sector's alert state started, so a restart or a new sector
    does not open an alert for each radar at once.
    Event-driven sensors (cameras, geophones, AIS receivers) report only when something is
    there: their silence is not a fault, and they are not watched.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.engines: dict[str, Any] = {}
        # where a message for another sector's alert state goes (a hand-over offer, an ack
        # for an alert handed over): None = a sector held here (in-process drivers; applied
        # at once); the agents set a function that sends it to the sector's partition
        self.remote: Callable[[str, dict[str, Any]], None] | None = None
        self._zones: Any = None
        self.seen: dict[str, dict[str, float]] = {}  # sector -> sensor -> newest reading t
        self.clock = float("-inf")  # newest reading time in any sector held here
        self._silence_at: dict[str, float] = {}  # sector -> event time of the last check

    def zones(self) -> Any:
        if self._zones is None:
            from fusion.geofence import Zones

            self._zones = Zones.from_geojson(self.ctx.zones or {"type": "FeatureCollection",
                                                                "features": []})
        return self._zones

    def forget(self) -> None:
        """Drop in-memory alert state (after a rebalance); see FusionStage.forget."""
        self.engines.clear()
        self.seen.clear()
        self.clock = float("-inf")
        self._silence_at.clear()

    def engine(self, sector: str) -> Any:
        eng = self.engines.get(sector)
        if eng is None:
            from fusion.alerts import AlertEngine

            eng = self.engines[sector] = AlertEngine(self.zones(), self.ctx.rules, self.sensors(),
                                                     id_prefix=f"{sector}:")
        return eng

    def sensors(self) -> dict[str, dict[str, Any]]:
        return {s.id: {"type": s.type, "lat": s.lat, "lon": s.lon} for s in self.ctx.registry}

    def process(self, sector: str, updates: list[TrackUpdate],
                departed: list[TrackUpdate] | None = None) -> list[Alert]:
        """One bucket of the sector's track updates through the rules; ``departed``: its
        tracks that left the sector meanwhile (``FusionStage.departures``). The rules judge
        a departed track's first update outside here, then its alerts are handed over to
        the sector it entered (``AlertEngine.hand_over``): what happened on the way out —
        a border crossed between its last update inside and that one — is this sector's
        to report; the next sector only knows the track from its first update there
        (hold-out river seed 6: an AIS boat whose report after the crossing was already
        past the sector edge was reported by neither)."""
        out: list[Alert] = []
        if departed:
            out += self.engine(sector).process(departed, max(u.t for u in departed))
            out += self._hand_over(sector, departed)
        if updates:
            out += self.engine(sector).process(updates, max(u.t for u in updates))
        return out

    def _hand_over(self, sector: str, departed: list[TrackUpdate]) -> list[Alert]:
        homes = self.ctx.sectorizer.home(np.array([u.lat for u in departed]),
                                         np.array([u.lon for u in departed]))
        moves = [(u, to) for u, to in zip(departed, homes, strict=True)
                 if to not in (sector, "outside")]
        offers = self.engine(sector).hand_over(moves) if moves else []
        return self._send([(to, {"handover": offer}) for to, offer in offers])

    def _send(self, messages: list[tuple[str, dict[str, Any]]]) -> list[Alert]:
        """Deliver messages for other sectors (see ``remote``); what changed here."""
        if self.remote is not None:
            for to, message in messages:
                self.remote(to, message)
            return []
        out: list[Alert] = []
        for to, message in messages:
            out += self.receive(to, message)
        return out

    def receive(self, sector: str, message: dict[str, Any]) -> list[Alert]:
        """A message from another sector's alert state: ``{"handover": offer}`` (an alert
        or suppression that follows a track here) or ``{"ack": ack}`` (an ack forwarded to
        the sector an alert was handed over to)."""
        if "handover" in message:
            self.engine(sector).receive(message["handover"])
            return []
        changed = self.apply_ack(sector, message["ack"])
        return [] if changed is None else [changed]

    def note_seen(self, sector: str, seen: dict[str, float], judge: bool = True) -> list[Alert]:
        """Newest reading times (event time) of sensors homed in ``sector``; then, unless
        ``judge`` is false (the driver is catching up a backlog, where one sector's input
        can lag another's by more than a silence), the silence check of every sector this
        stage holds, at most once per second of the clock: the newest reading time seen in
        any of them (a sector whose only radar died has no clock of its own)."""
        mine = self.seen.setdefault(sector, {})
        for sid, t in seen.items():
            keep_newest(mine, sid, float(t))
        self.clock = max(self.clock, max(seen.values(), default=self.clock))
        if not judge:
            return []
        out: list[Alert] = []
        for other in sorted(self.seen):
            if self.clock - self._silence_at.get(other, float("-inf")) >= 1.0:
                out += self.check_silence(other, self.clock)
        return out

    def check_silence(self, sector: str, now: float) -> list[Alert]:
        """Coverage-gap alerts opened or resolved for the sector's clocked sensors."""
        self._silence_at[sector] = now
        periods = self._clocked.get(sector)
        if not periods:
            return []
        mine = self.seen.setdefault(sector, {})
        for sid in periods:  # never heard of: counts from now (see the class doc)
            mine.setdefault(sid, now)
        return self.engine(sector).check_sensor_silence(now, mine, periods)

    @functools.cached_property
    def _clocked(self) -> dict[str, dict[str, float]]:
        """sector -> {radar id: scan period} for the radars homed in it."""
        out: dict[str, dict[str, float]] = defaultdict(dict)
        homes = self.ctx.sensor_homes
        for sensor in self.ctx.registry:
            period = sensor.param("scan_period_s") if sensor.type == "radar" else None
            if period and sensor.id in homes:
                out[homes[sensor.id]][sensor.id] = float(period)
        return dict(out)

    def apply_ack(self, sector: str, ack: dict[str, Any]) -> Alert | None:
        """A coordinator's action on an alert of ``sector`` (by its id's prefix), or on
        the sector it was handed over to since (forwarded, see ``remote``)."""
        eng = self.engine(sector)
        to = eng.forward_of(str(ack.get("alert_id")))
        if to is not None:
            changed = self._send([(to, {"ack": ack})])
            return changed[0] if changed else None
        return eng.apply_ack(ack)  # type: ignore[no-any-return]

    def reload_rules(self, rules: dict[str, Any] | None) -> None:
        self.ctx.rules = rules
        for eng in self.engines.values():
            eng.reload_rules(rules)

    def snapshot(self, sector: str, copy: bool = True) -> dict[str, Any]:
        """The sector's alert engine state; ``copy=False`` shares the engine's own data
        (serialise it at once)."""
        return self.engine(sector).snapshot(deep=copy)

    def restore(self, sector: str, state: dict[str, Any]) -> None:
        from fusion.alerts import AlertEngine

        self.engines[sector] = AlertEngine.restore(self.zones(), self.ctx.rules, state,
                                                   self.sensors(), id_prefix=f"{sector}:")


def alert_sector(alert_id: str) -> str | None:
    """Alert ids are ``<sector>:<hash>`` so an ack can be routed to the sector's state."""
    return alert_id.split(":", 1)[0] if ":" in alert_id else None
