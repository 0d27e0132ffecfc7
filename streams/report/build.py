"""Gather an incident's data — alert history and acks from the archive, tracks and
observations from a replay of the window around it — and write the report files.

The replay is in-process over an export of the window, so it never touches live state.
Its track ids can differ from the live ones (the tracker starts fresh at the window
start), so the incident's tracks are the live ``track_ids`` when the replay has them,
else the replayed tracks that pass within ``near_m`` of the alert during it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusion.geodesy import LocalFrame
from fusion.types import Observation, TrackUpdate
from sensors.recorded import RecordedLine, iter_recorded
from streams.archive.query import alert_history, export_window
from streams.engine import Context, IngestResult
from streams.replay import OfflinePipeline


class ReportError(RuntimeError):
    """The report cannot be made (unknown alert, empty archive)."""


@dataclass
class Incident:
    alert: dict[str, Any]  # newest version
    versions: list[dict[str, Any]]
    acks: list[dict[str, Any]]
    t_from: float
    t_to: float
    tracks: dict[str, list[TrackUpdate]] = field(default_factory=dict)
    incident_tracks: list[str] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    sensors: list[dict[str, Any]] = field(default_factory=list)
    zones: dict[str, Any] | None = None

    def geojson(self) -> dict[str, Any]:
        """Tracks seen on the map as LineStrings (incident ones flagged) plus the alert."""
        from streams.report.render import MapView

        view = MapView(self)
        feats: list[dict[str, Any]] = []
        for tid, ups in sorted(self.tracks.items()):
            if len(ups) < 2 or not any(view.contains(u.lat, u.lon) for u in ups):
                continue
            feats.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[round(u.lon, 6), round(u.lat, 6)] for u in ups],
                    },
                    "properties": {
                        "track_id": tid,
                        "incident": tid in self.incident_tracks,
                        "t_first": ups[0].t,
                        "t_last": ups[-1].t,
                        "times": [round(u.t, 1) for u in ups],
                        "classification": ups[-1].classification,
                        "mmsi": ups[-1].mmsi,
                        "sources": sorted({s for u in ups for s in u.sources}),
                    },
                }
            )
        a = self.alert
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [a["lon"], a["lat"]]},
                "properties": {
                    k: a.get(k)
                    for k in (
                        "alert_id",
                        "rule",
                        "severity",
                        "status",
                        "t_first",
                        "t_last",
                        "summary",
                        "zone_id",
                        "track_ids",
                    )
                },
            }
        )
        return {"type": "FeatureCollection", "features": feats}


def gather(
    archive: Path | str,
    alert_id: str,
    *,
    sensors_file: Path,
    zones_file: Path | None = None,
    rules_file: Path | None = None,
    before_s: float = 180.0,
    after_s: float = 60.0,
    reorder_window_s: float = 2.0,
    near_m: float = 300.0,
) -> Incident:
    hist = alert_history(archive, alert_ids={alert_id})
    versions = hist.versions.get(alert_id)
    if not versions:
        raise ReportError(f"alert {alert_id!r} is not in the archive at {archive}")
    alert = versions[-1]
    t_from = min(v["t_first"] for v in versions) - before_s
    t_to = max(v["t_last"] for v in versions) + after_s
    inc = Incident(alert, versions, hist.acks.get(alert_id, []), t_from, t_to)
    with tempfile.TemporaryDirectory(prefix="bf-report-") as tmp:
        scen = Path(tmp)
        export_window(
            archive,
            scen,
            t_from,
            t_to,
            sensors_file=sensors_file,
            zones_file=zones_file,
            rules_file=rules_file,
        )
        ctx = Context.from_scenario(scen, max_reading_age_s=0, reorder_window_s=reorder_window_s)

        def keep_tracks(_sector: str, ups: list[TrackUpdate]) -> None:
            for u in ups:
                inc.tracks.setdefault(u.track_id, []).append(u)

        pipe = OfflinePipeline(ctx, on_tracks=keep_tracks)
        ingest = pipe.ingest.ingest

        def capture(topic: str, value: bytes | str | Any, assign: bool = True) -> IngestResult:
            res = ingest(topic, value, assign)
            inc.observations.extend(o for o in res.observations if not o.attrs.get("halo"))
            return res

        pipe.ingest.ingest = capture  # type: ignore[method-assign]
        for item in iter_recorded(scen / "readings.jsonl"):
            if isinstance(item, RecordedLine):
                pipe.feed(item.topic, item.value)
        pipe.finish()
        inc.zones = json.loads((scen / "zones.geojson").read_text()) if zones_file else None
    inc.sensors = [{"id": s.id, "type": s.type, "lat": s.lat, "lon": s.lon} for s in ctx.registry]
    inc.incident_tracks = _incident_tracks(inc, near_m)
    return inc


def _incident_tracks(inc: Incident, near_m: float) -> list[str]:
    live = [t for t in inc.alert.get("track_ids") or [] if t in inc.tracks]
    if live:
        return live
    a = inc.alert
    frame = LocalFrame(a["lat"], a["lon"])
    t0, t1 = a["t_first"] - 5.0, a["t_last"] + 5.0
    out = []
    for tid, ups in inc.tracks.items():
        sel = [u for u in ups if t0 <= u.t <= t1]
        if not sel:
            continue
        e, n = frame.to_en(np.array([u.lat for u in sel]), np.array([u.lon for u in sel]))
        if float(np.min(np.hypot(e, n))) <= near_m:
            out.append(tid)
    return sorted(out)


def build_report(
    archive: Path | str,
    alert_id: str,
    out: Path | str,
    *,
    sensors_file: Path,
    zones_file: Path | None = None,
    rules_file: Path | None = None,
    before_s: float = 180.0,
    after_s: float = 60.0,
    reorder_window_s: float = 2.0,
    png: bool = True,
) -> dict[str, Path]:
    """Write ``out`` (HTML), ``out.geojson`` and, with matplotlib, ``out.png``."""
    from streams.report.render import render_html

    inc = gather(
        archive,
        alert_id,
        sensors_file=sensors_file,
        zones_file=zones_file,
        rules_file=rules_file,
        before_s=before_s,
        after_s=after_s,
        reorder_window_s=reorder_window_s,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = {"html": out, "geojson": out.with_suffix(".geojson")}
    gj = inc.geojson()
    written["geojson"].write_text(json.dumps(gj, separators=(",", ":")))
    out.write_text(render_html(inc, gj))
    if png:
        try:
            from streams.report.png import render_png
        except ImportError:  # matplotlib is optional
            return written
        written["png"] = out.with_suffix(".png")
        render_png(inc, written["png"])
    return written
