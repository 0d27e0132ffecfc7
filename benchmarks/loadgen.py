"""Load generator for the end-to-end benchmark: a long border at a target reading rate.

The scenario simulator (``sensors/simulate``) models one small border section at about 20
readings/s; a national border carries ~10 000/s. This module builds a synthetic but
realistic deployment sized for a target rate — radars every 3 km scanning at 1 Hz with tens
of plots per scan (targets + clutter), thermal cameras sending gateway batches, seismic
event readings and AIS position reports from shore stations — and streams it to Kafka with
event time = now, so the pipeline's latency can be measured against the wall clock.

Records follow DESIGN §3: a radar scan is one record (a JSON array of its plots), a thermal
camera's second is one gateway batch, seismic events and AIS sentences are single readings.

    .venv/bin/python benchmarks/loadgen.py --bootstrap 127.0.0.1:9092 --prefix p. \
        --rate 10000 --duration 60 --stats out.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fusion.geodesy import LocalFrame  # noqa: E402

ORIGIN = (51.5, 30.5)
SPACING_M = 3000.0  # radars and cameras every 3 km along the border
BAND_M = 700.0  # walkers move across the border inside |n| < BAND_M (wrapping)
AIS_PERIOD_S = 3.0


@dataclass(frozen=True)
class Mix:
    """Reading mix for a target rate; the counts of sensors follow from it."""

    rate: float = 10_000.0
    radar: float = 0.80
    thermal: float = 0.08
    seismic: float = 0.08
    ais: float = 0.04
    plots_per_scan: int = 80
    sectors: int = 4
    walkers_per_radar: int = 4
    seed: int = 0

    @property
    def n_radars(self) -> int:
        return max(1, round(self.rate * self.radar / self.plots_per_scan))

    @property
    def thermal_per_camera(self) -> int:
        return max(1, round(self.rate * self.thermal / self.n_radars))

    @property
    def n_seismic(self) -> int:
        return max(1, round(self.rate * self.seismic / 2.0))  # 2 events/s per geophone

    @property
    def n_vessels(self) -> int:
        return max(1, round(self.rate * self.ais * AIS_PERIOD_S))

    @property
    def length_m(self) -> float:
        return self.n_radars * SPACING_M


def sector_ids(n: int, partitions: int = 2) -> list[str]:
    """Sector ids that the default (murmur2) partitioner spreads evenly over ``partitions``,
    so a 2-worker run really splits the fusion work."""
    from kafka.partitioner.default import murmur2

    want = [i % partitions for i in range(n)]
    out: list[str] = []
    k = 0
    for p in want:
        while True:
            sid = f"sector-{k}"
            k += 1
            if (murmur2(sid.encode()) & 0x7FFFFFFF) % partitions == p:
                out.append(sid)
                break
    return out


class Border:
    """The deployment: sensor positions in a tangent plane along a straight border (n = 0)."""

    def __init__(self, mix: Mix, partitions: int = 2) -> None:
        self.mix = mix
        self.frame = LocalFrame(*ORIGIN)
        rng = np.random.default_rng(mix.seed)
        nr = mix.n_radars
        self.radar_en = np.c_[(np.arange(nr) + 0.5) * SPACING_M, np.full(nr, -1000.0)]
        self.cam_en = np.c_[np.arange(nr) * SPACING_M + 200.0, np.full(nr, -500.0)]
        ns = mix.n_seismic
        self.seis_en = np.c_[(np.arange(ns) + 0.5) * mix.length_m / ns, np.full(ns, -100.0)]
        self.sectors = sector_ids(mix.sectors, partitions)
        self.stations = [f"A{i + 1}" for i in range(mix.sectors)]
        width = mix.length_m / mix.sectors
        self.station_en = np.c_[
            (np.arange(mix.sectors) + 0.5) * width, np.full(mix.sectors, -2000.0)
        ]
        # walkers cross the border back and forth (wrapping inside the band)
        nw = nr * mix.walkers_per_radar
        self.w_e0 = rng.uniform(0, mix.length_m, nw)
        self.w_n0 = rng.uniform(-BAND_M, BAND_M, nw)
        speed = np.where(rng.random(nw) < 0.7, rng.uniform(1.0, 2.0, nw), rng.uniform(5, 10, nw))
        heading = rng.uniform(-0.4, 0.4, nw) + np.where(rng.random(nw) < 0.5, 0.0, math.pi)
        self.w_ve, self.w_vn = speed * np.sin(heading), speed * np.cos(heading)
        self.w_class = np.where(speed < 3, "person", "vehicle")
        # vessels on the far side, moving along the border
        nv = mix.n_vessels
        self.v_e0 = rng.uniform(0, mix.length_m, nv)
        self.v_n = rng.uniform(1500.0, 4000.0, nv)
        self.v_ve = rng.uniform(2.0, 6.0, nv) * np.where(rng.random(nv) < 0.5, 1, -1)
        self.v_mmsi = 211_000_000 + np.arange(nv)
        self.t0 = time.time()

    # ---------------------------------------------------------------- files

    def sensors_doc(self) -> dict[str, Any]:
        def at(e: float, n: float) -> tuple[float, float]:
            lat, lon = self.frame.to_latlon(e, n)
            return round(float(lat), 7), round(float(lon), 7)

        out: list[dict[str, Any]] = []
        for i, (e, n) in enumerate(self.radar_en):
            lat, lon = at(e, n)
            out.append(
                {
                    "id": f"R{i + 1}",
                    "type": "radar",
                    "lat": lat,
                    "lon": lon,
                    "height_m": 12.0,
                    "max_range_m": 5000.0,
                    "sigma_range_m": 15.0,
                    "sigma_bearing_deg": 0.5,
                    "scan_period_s": 1.0,
                }
            )
        for i, (e, n) in enumerate(self.cam_en):
            lat, lon = at(e, n)
            out.append(
                {
                    "id": f"T{i + 1}",
                    "type": "thermal",
                    "lat": lat,
                    "lon": lon,
                    "height_m": 15.0,
                    "heading_deg": 0.0,
                    "fov_deg": 90.0,
                    "max_range_m": 3000.0,
                    "sigma_bearing_deg": 0.3,
                }
            )
        for i, (e, n) in enumerate(self.seis_en):
            lat, lon = at(e, n)
            out.append(
                {
                    "id": f"S{i + 1}",
                    "type": "seismic",
                    "lat": lat,
                    "lon": lon,
                    "height_m": 0.0,
                    "radius_m": 50.0,
                }
            )
        for sid, (e, n) in zip(self.stations, self.station_en, strict=True):
            lat, lon = at(e, n)
            out.append({"id": sid, "type": "ais", "lat": lat, "lon": lon, "height_m": 30.0})
        return {"sensors": out}

    def zones_doc(self) -> dict[str, Any]:
        m = self.mix
        x0, x1 = -5000.0, m.length_m + 5000.0

        def ring(pts: list[tuple[float, float]]) -> list[list[float]]:
            e = np.array([p[0] for p in pts])
            n = np.array([p[1] for p in pts])
            lat, lon = self.frame.to_latlon(e, n)
            return [[round(float(b), 7), round(float(a), 7)] for a, b in zip(lat, lon, strict=True)]

        def feat(props: dict[str, Any], geom: dict[str, Any]) -> dict[str, Any]:
            return {"type": "Feature", "properties": props, "geometry": geom}

        xs = np.linspace(x0, x1, 60)
        feats = [
            feat(
                {"id": "border-1", "kind": "border", "border_type": "green"},
                {"type": "LineString", "coordinates": ring([(x, 0.0) for x in xs])},
            ),
            feat(
                {"id": "territory", "kind": "territory", "name": "our side"},
                {
                    "type": "Polygon",
                    "coordinates": [
                        ring([(x0, -20000.0), (x1, -20000.0), (x1, 0.0), (x0, 0.0), (x0, -20000.0)])
                    ],
                },
            ),
        ]
        width = m.length_m / m.sectors
        for k, sid in enumerate(self.sectors):
            a = -5000.0 if k == 0 else k * width
            b = x1 if k == m.sectors - 1 else (k + 1) * width
            feats.append(
                feat(
                    {"id": sid, "kind": "sector"},
                    {
                        "type": "Polygon",
                        "coordinates": [
                            ring(
                                [
                                    (a, -20000.0),
                                    (b, -20000.0),
                                    (b, 20000.0),
                                    (a, 20000.0),
                                    (a, -20000.0),
                                ]
                            )
                        ],
                    },
                )
            )
        return {"type": "FeatureCollection", "features": feats}

    def write(self, out: Path) -> tuple[Path, Path]:
        import yaml

        out.mkdir(parents=True, exist_ok=True)
        (out / "sensors.yaml").write_text(yaml.safe_dump(self.sensors_doc(), sort_keys=False))
        (out / "zones.geojson").write_text(json.dumps(self.zones_doc()))
        return out / "sensors.yaml", out / "zones.geojson"

    # ---------------------------------------------------------------- targets

    def walkers(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        dt = t - self.t0
        e = (self.w_e0 + self.w_ve * dt) % self.mix.length_m
        n = (self.w_n0 + self.w_vn * dt + BAND_M) % (2 * BAND_M) - BAND_M
        return e, n

    def vessels(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        e = (self.v_e0 + self.v_ve * (t - self.t0)) % self.mix.length_m
        return e, self.v_n


def _polar(sensor_en: np.ndarray, e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    de, dn = e - sensor_en[0], n - sensor_en[1]
    return np.hypot(de, dn), np.degrees(np.arctan2(de, dn)) % 360.0


class Generator:
    """Makes the records due in a time slice: (topic, key, value bytes, readings, positions)."""

    def __init__(self, border: Border) -> None:
        self.b = border
        self.rng = np.random.default_rng(border.mix.seed + 1)
        nr = border.mix.n_radars
        self.radar_phase = np.arange(nr) / nr  # scans spread over the second
        self.seis_phase = self.rng.uniform(0, 0.5, border.mix.n_seismic)
        self.ais_phase = self.rng.uniform(0, AIS_PERIOD_S, border.mix.n_vessels)

    @staticmethod
    def _due(phase: np.ndarray, period: float, a: float, b: float) -> np.ndarray:
        """Indices whose periodic tick (phase + k·period) falls in (a, b]."""
        ka = np.floor((a - phase) / period)
        kb = np.floor((b - phase) / period)
        return np.flatnonzero(kb > ka)

    def slice(self, a: float, b: float) -> list[tuple[str, str, bytes, int, int]]:
        out: list[tuple[str, str, bytes, int, int]] = []
        m, now = self.b.mix, b
        we, wn = self.b.walkers(now)
        for i in self._due(self.radar_phase, 1.0, a, b).tolist():
            out.append(self._radar(i, we, wn, now))
        for i in self._due(self.radar_phase, 1.0, a, b).tolist():
            out.append(self._thermal(i, we, wn, now))
        for i in self._due(self.seis_phase, 0.5, a, b).tolist():
            r = {
                "sensor_id": f"S{i + 1}",
                "t": round(now, 3),
                "kind": "footstep",
                "energy": round(float(self.rng.uniform(0.01, 0.2)), 4),
                "duration_s": round(float(self.rng.uniform(0.5, 3)), 2),
                "confidence": round(float(self.rng.uniform(0.3, 0.9)), 2),
            }
            out.append(("readings.seismic", r["sensor_id"], _dumps(r), 1, 1))
        due = self._due(self.ais_phase, AIS_PERIOD_S, a, b)
        if len(due):
            ve, vn = self.b.vessels(now)
            lat, lon = self.b.frame.to_latlon(ve[due], vn[due])
            width = m.length_m / m.sectors
            for j, k in enumerate(due.tolist()):
                station = self.b.stations[min(int(ve[k] // width), m.sectors - 1)]
                out.append(
                    (
                        "readings.ais",
                        station,
                        self._ais(k, float(lat[j]), float(lon[j]), station, now),
                        1,
                        1,
                    )
                )
        return out

    def _radar(
        self, i: int, we: np.ndarray, wn: np.ndarray, now: float
    ) -> tuple[str, str, bytes, int, int]:
        m, rng = self.b.mix, self.rng
        r, br = _polar(self.b.radar_en[i], we, wn)
        seen = (r < 4900.0) & (rng.random(len(r)) < 0.9)
        r, br = r[seen], br[seen]
        n_clutter = max(m.plots_per_scan - len(r), 0)
        r = np.r_[r + rng.normal(0, 15.0, len(r)), 5000.0 * np.sqrt(rng.random(n_clutter))]
        br = np.r_[br + rng.normal(0, 0.5, len(br)), rng.uniform(0, 360, n_clutter)] % 360.0
        r = np.clip(r, 1.0, 5000.0)[: m.plots_per_scan]
        br = br[: m.plots_per_scan]
        sid, t = f"R{i + 1}", round(now, 3)
        plots = [
            {"sensor_id": sid, "t": t, "range_m": a, "bearing_deg": c}
            for a, c in zip(np.round(r, 1).tolist(), np.round(br, 3).tolist(), strict=True)
        ]
        return "readings.radar", sid, _dumps(plots), len(plots), len(plots)

    def _thermal(
        self, i: int, we: np.ndarray, wn: np.ndarray, now: float
    ) -> tuple[str, str, bytes, int, int]:
        m, rng = self.b.mix, self.rng
        r, br = _polar(self.b.cam_en[i], we, wn)
        vis = (r < 2900.0) & ((br < 45) | (br > 315))
        idx = np.flatnonzero(vis)[: m.thermal_per_camera]
        n_other = m.thermal_per_camera - len(idx)
        rr = np.r_[r[idx] * rng.normal(1, 0.05, len(idx)), rng.uniform(100, 2900, n_other)]
        bb = np.r_[br[idx] + rng.normal(0, 0.3, len(idx)), rng.uniform(-45, 45, n_other)] % 360
        cls = [*self.b.w_class[idx].tolist(), *(["animal"] * n_other)]
        sid, t = f"T{i + 1}", round(now, 3)
        batch = [
            {
                "sensor_id": sid,
                "t": t,
                "bearing_deg": b_,
                "range_m": r_,
                "class": c,
                "confidence": 0.7,
            }
            for r_, b_, c in zip(
                np.round(rr, 1).tolist(), np.round(bb, 3).tolist(), cls, strict=True
            )
        ]
        return "readings.thermal", sid, _dumps(batch), len(batch), len(batch)

    def _ais(self, k: int, lat: float, lon: float, station: str, now: float) -> bytes:
        from pyais import encode_dict

        ve = float(self.b.v_ve[k])
        msg = {
            "type": 1,
            "mmsi": int(self.b.v_mmsi[k]),
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "speed": round(abs(ve) * 1.943844, 1),
            "course": 90.0 if ve > 0 else 270.0,
            "heading": 90 if ve > 0 else 270,
            "status": 0,
            "second": int(now) % 60,
            "accuracy": 1,
        }
        nmea = encode_dict(msg, talker_id="AI", sentence_type="VDM", radio_channel="A")[0]
        return _dumps(
            {"sensor_id": station, "station_id": station, "t": round(now, 3), "nmea": nmea}
        )


def _dumps(v: Any) -> bytes:
    return json.dumps(v, separators=(",", ":")).encode()


# ---------------------------------------------------------------- in process, as in backlog


@dataclass
class BacklogScene:
    """A deployment ingested and fused in process the way a worker in backlog takes it.

    One setup for the in-process benchmarks (``tracker_backlog``, ``checkpoint_size``,
    ``take_cost``), so they measure the same load: readings of any age are taken (ingest's
    wall clock is NaN, ``max_reading_age_s=0``) and fusion releases on the reorder window
    alone (its wall clock far ahead: the backlog rule). ``streams`` is imported only when a
    scene is made, so a caller that put another tree first on ``sys.path`` gets its engine.
    """

    ctx: Any  # streams.engine.Context
    ingest: Any  # streams.engine.IngestStage
    fusion: Any  # streams.engine.FusionStage
    gen: Generator | None = None  # the loadgen records; None for a scenario written otherwise
    partitions: int = 2
    t0: float = 1.0e9  # event time of the first loadgen slice
    step: float = 0.01  # s of event time per slice; a slice's records share its end time

    @classmethod
    def loadgen(
        cls, rate: float, sectors: int, work: Path, bucket_s: float | None = None
    ) -> BacklogScene:
        """The loadgen mix at ``rate`` readings/s in ``sectors`` sectors, its deployment
        (``sensors.yaml``, ``zones.geojson``) written under ``work``."""
        border = Border(Mix(rate=rate, sectors=sectors), 2)
        border.t0 = cls.t0  # walkers and vessels start at the first slice, not at the
        # wall-clock moment the run began: the same arguments give the same load
        border.write(work)
        return cls.of_dir(work, bucket_s, Generator(border))

    @classmethod
    def of_dir(
        cls, work: Path, bucket_s: float | None = None, gen: Generator | None = None
    ) -> BacklogScene:
        """The deployment written in ``work`` (``rules.yaml`` too, if there is one);
        ``bucket_s`` None: the settings' fusion bucket."""
        from streams.engine import Context, FusionStage, IngestStage

        kw = {} if bucket_s is None else {"bucket_s": bucket_s}
        ctx = Context.from_scenario(work, max_reading_age_s=0, **kw)
        ingest = IngestStage(ctx, now=lambda: float("nan"))
        fusion = FusionStage(ctx, now=lambda: float("inf"))  # always a backlog: window release
        return cls(ctx, ingest, fusion, gen)

    def partition(self, key: str) -> int:
        """The partition the default (murmur2) partitioner gives a record keyed ``key``."""
        from kafka.partitioner.default import murmur2

        return (murmur2(key.encode()) & 0x7FFFFFFF) % self.partitions

    def observations(
        self, records: list[tuple[str, bytes]], sources: list[list[Any]]
    ) -> dict[str, list[dict[str, Any]]]:
        """One ingest batch (``(topic, value)`` records stamped with their ``[topic,
        partition, offset]``) as the ingest agent writes it: observation dicts per sector."""
        from streams.engine import observation_dict

        by_sector: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for res in self.ingest.ingest_many(records, contain=True, sources=sources):
            for o in res.observations:
                by_sector[o.sector].append(observation_dict(o))
        return by_sector

    def fuse(self, by_sector: dict[str, list[dict[str, Any]]]) -> None:
        """Add each sector's observations to fusion as the fusion agent gets them: after the
        JSON hop of the ``observations`` topic (``raw`` kept for the checkpoint)."""
        from fusion.types import Observation
        from streams.agents import dumps, loads

        for sector, batch in by_sector.items():
            raw = loads(dumps(batch))
            self.fusion.add(sector, [Observation.from_dict(o) for o in raw], raw=raw)


def run(
    bootstrap: str,
    prefix: str,
    mix: Mix,
    duration: float,
    partitions: int = 2,
    tick_s: float = 0.05,
) -> dict[str, Any]:
    """Stream for ``duration`` s at the mix's rate; return what was sent and acknowledged."""
    from sensors.push import KafkaPusher

    border = Border(mix, partitions)
    gen = Generator(border)
    pusher = KafkaPusher(bootstrap, prefix, batch_size=256 * 1024)
    acked = {"records": 0, "readings": 0, "expected_obs": 0, "errors": 0}
    sent = {"records": 0, "readings": 0, "expected_obs": 0}
    per_topic: dict[str, int] = {}

    def ok(n: int, n_obs: int) -> Any:
        def cb(_md: Any) -> None:
            acked["records"] += 1
            acked["readings"] += n
            acked["expected_obs"] += n_obs

        return cb

    def err(_exc: Any) -> None:
        acked["errors"] += 1

    start = time.time()
    last = start
    behind = 0.0
    while True:
        now = time.time()
        if now - start >= duration:
            break
        for topic, key, value, n, n_obs in gen.slice(last, now):
            pusher.send(topic, value, key).add_callback(ok(n, n_obs)).add_errback(err)
            sent["records"] += 1
            sent["readings"] += n
            sent["expected_obs"] += n_obs
            per_topic[topic] = per_topic.get(topic, 0) + n
        last = now
        spent = time.time() - now
        behind = max(behind, spent - tick_s)
        time.sleep(max(tick_s - spent, 0.0))
    unflushed = False
    try:  # a producer starved of CPU may not deliver everything: report, never hang
        pusher.flush(60.0)
    except Exception:  # noqa: BLE001 - kafka.errors.KafkaTimeoutError
        unflushed = True
    with contextlib.suppress(Exception):
        pusher.close(5.0)
    elapsed = last - start
    return {
        "mix": asdict(mix),
        "n_radars": mix.n_radars,
        "n_seismic": mix.n_seismic,
        "n_vessels": mix.n_vessels,
        "sectors": border.sectors,
        "start": start,
        "end": last,
        "elapsed_s": elapsed,
        "sent": sent,
        "acked": acked,
        "per_topic": per_topic,
        "achieved_rate": sent["readings"] / max(elapsed, 1e-9),
        "max_slice_overrun_s": behind,
        "unflushed_at_end": unflushed,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--prefix", default="")
    p.add_argument("--rate", type=float, default=10_000.0)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--partitions", type=int, default=2)
    p.add_argument("--sectors", type=int, default=4)
    p.add_argument("--plots-per-scan", type=int, default=80)
    p.add_argument("--stats", type=Path, help="write the sent/acked figures here (JSON)")
    a = p.parse_args(argv)
    mix = Mix(rate=a.rate, sectors=a.sectors, plots_per_scan=a.plots_per_scan)
    stats = run(a.bootstrap, a.prefix, mix, a.duration, a.partitions)
    text = json.dumps(stats, indent=1)
    if a.stats:
        a.stats.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
