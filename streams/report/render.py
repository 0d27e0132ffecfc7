"""The incident report as one self-contained HTML file: inline CSS, SVG and a few lines of
JS (a GeoJSON download button); no external request of any kind, so it opens offline
and can be attached to a case file as is.
"""

from __future__ import annotations

import html
import json
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from fusion.geodesy import LocalFrame
from streams.report.build import Incident

SENSOR_COLORS = {"radar": "#1f6fb4", "thermal": "#e07b00", "seismic": "#7b4f2c", "ais": "#2b9a3a"}
SEVERITY_COLORS = {
    "info": "#5b6770",
    "low": "#3b7dd8",
    "medium": "#d99a00",
    "high": "#d9480f",
    "critical": "#b3001b",
}
ZONE_STYLE = {
    "territory": 'fill="#eef4e8" stroke="none"',
    "water": 'fill="#cfe2f3" stroke="#9cc2e5" stroke-width="0.8"',
    "strip": 'fill="none" stroke="#c9a227" stroke-width="1" stroke-dasharray="6 4"',
    "restricted": 'fill="#d62828" fill-opacity="0.12" stroke="#b00" stroke-width="1.2"',
    "checkpoint": 'fill="#2a9d45" fill-opacity="0.18" stroke="#1b7a32" stroke-width="1.2"',
    "sector": 'fill="none" stroke="#98a2ad" stroke-width="0.8" stroke-dasharray="2 4"',
}
MAP_W = 920


def esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def hms(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")


def full(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class MapView:
    """Local east/north metres around the alert, scaled into an SVG viewport."""

    def __init__(self, inc: Incident, min_half_m: float = 1200.0, pad: float = 0.15) -> None:
        a = inc.alert
        self.frame = LocalFrame(a["lat"], a["lon"])
        lats = [a["lat"]] + [u.lat for t in inc.incident_tracks for u in inc.tracks[t]]
        lons = [a["lon"]] + [u.lon for t in inc.incident_tracks for u in inc.tracks[t]]
        e, n = self.frame.to_en(np.array(lats), np.array(lons))
        half = max(min_half_m, float(np.ptp(e)) / 2 * (1 + pad), float(np.ptp(n)) / 2 * (1 + pad))
        ce, cn = (float(e.min() + e.max()) / 2, float(n.min() + n.max()) / 2)
        self.e0, self.e1 = ce - half * 1.25, ce + half * 1.25
        self.n0, self.n1 = cn - half * 0.8, cn + half * 0.8
        self.w = MAP_W
        self.scale = self.w / (self.e1 - self.e0)
        self.h = int(round((self.n1 - self.n0) * self.scale))

    def xy(self, lats: Any, lons: Any) -> tuple[np.ndarray, np.ndarray]:
        e, n = self.frame.to_en(np.asarray(lats, float), np.asarray(lons, float))
        return (e - self.e0) * self.scale, (self.n1 - n) * self.scale

    def contains(self, lat: float, lon: float) -> bool:
        x, y = self.xy([lat], [lon])
        return bool(0 <= x[0] <= self.w and 0 <= y[0] <= self.h)

    def path(self, coords: list[list[float]], close: bool = False) -> str:
        if not coords:
            return ""
        arr = np.asarray(coords, float)
        x, y = self.xy(arr[:, 1], arr[:, 0])
        pts = " L".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y, strict=True))
        return f"M{pts}{' Z' if close else ''}"


def _zones_svg(inc: Incident, v: MapView) -> str:
    out = []
    feats = (inc.zones or {}).get("features", [])
    order = ["territory", "water", "sector", "strip", "checkpoint", "restricted", "border"]
    for kind in order:
        for f in feats:
            p, g = f.get("properties", {}), f.get("geometry") or {}
            if p.get("kind") != kind:
                continue
            title = f"<title>{esc(p.get('id'))} ({esc(kind)})</title>"
            if g.get("type") == "Polygon":
                d = " ".join(v.path(ring, close=True) for ring in g["coordinates"])
                out.append(f'<path d="{d}" fill-rule="evenodd" {ZONE_STYLE[kind]}>{title}</path>')
            elif g.get("type") == "LineString":
                color = "#1d5fa8" if p.get("border_type") == "blue" else "#2f3a2f"
                out.append(
                    f'<path d="{v.path(g["coordinates"])}" fill="none" stroke="{color}" '
                    f'stroke-width="2.6" stroke-dasharray="10 3 2 3">{title}</path>'
                )
    return "\n".join(out)


def map_svg(inc: Incident) -> str:
    v = MapView(inc)
    a = inc.alert
    parts = [
        f'<svg viewBox="0 0 {v.w} {v.h}" class="map" role="img" aria-label="map of the incident">',
        f'<defs><clipPath id="vp"><rect width="{v.w}" height="{v.h}"/></clipPath></defs>',
        f'<rect width="{v.w}" height="{v.h}" fill="#f7f8f6"/>',
        '<g clip-path="url(#vp)">',
        _zones_svg(inc, v),
    ]
    for tid, ups in sorted(inc.tracks.items(), key=lambda kv: kv[0] in inc.incident_tracks):
        if len(ups) < 2:
            continue
        mine = tid in inc.incident_tracks
        d = v.path([[u.lon, u.lat] for u in ups])
        style = (
            'stroke="#c1121f" stroke-width="3.2"'
            if mine
            else 'stroke="#6c757d" stroke-width="1.3" stroke-opacity="0.7"'
        )
        parts.append(
            f'<path d="{d}" fill="none" {style} stroke-linejoin="round">'
            f"<title>track {esc(tid)} {hms(ups[0].t)}–{hms(ups[-1].t)}</title></path>"
        )
        if mine:
            x, y = v.xy([ups[0].lat, ups[-1].lat], [ups[0].lon, ups[-1].lon])
            parts.append(
                f'<circle cx="{x[0]:.1f}" cy="{y[0]:.1f}" r="4" fill="#fff" '
                f'stroke="#c1121f" stroke-width="2"/>'
            )
            parts.append(f'<circle cx="{x[1]:.1f}" cy="{y[1]:.1f}" r="4.5" fill="#c1121f"/>')
            parts.append(
                f'<text x="{x[1] + 7:.1f}" y="{y[1] - 6:.1f}" class="lbl trk">{esc(tid)}</text>'
            )
    obs = [o for o in inc.observations if v.contains(o.lat, o.lon)]
    if obs:
        x, y = v.xy([o.lat for o in obs], [o.lon for o in obs])
        for o, px, py in zip(obs, x, y, strict=True):
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="1.8" '
                f'fill="{SENSOR_COLORS.get(o.kind, "#444")}" fill-opacity="0.55"/>'
            )
    for s in inc.sensors:
        if not v.contains(s["lat"], s["lon"]):
            continue
        x, y = v.xy([s["lat"]], [s["lon"]])
        c = SENSOR_COLORS.get(s["type"], "#333")
        parts.append(
            f'<path d="M{x[0]:.1f},{y[0] - 7:.1f} l6,11 h-12 z" fill="{c}" '
            f'stroke="#fff" stroke-width="1"><title>{esc(s["id"])} '
            f"({esc(s['type'])})</title></path>"
            f'<text x="{x[0] + 8:.1f}" y="{y[0] + 4:.1f}" class="lbl">{esc(s["id"])}</text>'
        )
    x, y = v.xy([a["lat"]], [a["lon"]])
    sev = SEVERITY_COLORS.get(a["severity"], "#333")
    parts.append(
        f'<circle cx="{x[0]:.1f}" cy="{y[0]:.1f}" r="13" fill="none" stroke="{sev}" '
        f'stroke-width="3"/><circle cx="{x[0]:.1f}" cy="{y[0]:.1f}" r="3" fill="{sev}"/>'
        f'<text x="{x[0] + 16:.1f}" y="{y[0] + 16:.1f}" class="lbl alert">ALERT</text>'
    )
    parts.append("</g>")
    parts.append(_scale_and_north(v))
    parts.append(f'<rect width="{v.w}" height="{v.h}" fill="none" stroke="#9aa3ab"/></svg>')
    return "\n".join(parts)


def _scale_and_north(v: MapView) -> str:
    target = (v.e1 - v.e0) / 5
    mag = 10 ** np.floor(np.log10(target))
    step = float(max(m * mag for m in (1, 2, 5) if m * mag <= target))
    px = step * v.scale
    x0, y0 = 20, v.h - 22
    label = f"{step / 1000:g} km" if step >= 1000 else f"{step:g} m"
    return (
        f'<g class="scale"><rect x="{x0 - 8}" y="{y0 - 22}" width="{px + 16:.0f}" '
        f'height="36" fill="#fff" fill-opacity="0.85" rx="3"/>'
        f'<path d="M{x0},{y0} h{px:.1f}" stroke="#222" stroke-width="3"/>'
        f'<path d="M{x0},{y0 - 5} v10 M{x0 + px:.1f},{y0 - 5} v10" stroke="#222" '
        f'stroke-width="1.5"/><text x="{x0}" y="{y0 - 9}" class="lbl">{label}</text></g>'
        f'<g transform="translate({v.w - 34},38)"><circle r="17" fill="#fff" '
        f'fill-opacity="0.85"/><path d="M0,-13 L6,8 L0,4 L-6,8 Z" fill="#222"/>'
        f'<text y="-16" text-anchor="middle" class="lbl">N</text></g>'
    )


def timeline_svg(inc: Incident) -> str:
    """Observations per sensor over the window; the alert's active span shaded; acks marked."""
    v = MapView(inc)
    obs = [o for o in inc.observations if v.contains(o.lat, o.lon)]
    sensors = sorted({o.sensor_id for o in obs})
    kind = {o.sensor_id: o.kind for o in obs}
    row, left, right, top = 22, 70, 20, 18
    w, h = MAP_W, top + row * max(1, len(sensors)) + 34
    span = max(inc.t_to - inc.t_from, 1.0)

    def X(t: float) -> float:
        return left + (t - inc.t_from) / span * (w - left - right)

    a = inc.alert
    parts = [
        f'<svg viewBox="0 0 {w} {h}" class="timeline" '
        f'role="img" aria-label="observations by sensor">',
        f'<rect x="{X(a["t_first"]):.1f}" y="{top - 6}" '
        f'width="{max(2.0, X(a["t_last"]) - X(a["t_first"])):.1f}" '
        f'height="{row * max(1, len(sensors)) + 6}" fill="#c1121f" fill-opacity="0.08"/>',
    ]
    for i, sid in enumerate(sensors):
        y = top + i * row + row / 2
        parts.append(
            f'<text x="{left - 10}" y="{y + 4:.1f}" text-anchor="end" class="lbl">'
            f'{esc(sid)}</text><path d="M{left},{y:.1f} H{w - right}" stroke="#e3e6e9"/>'
        )
        c = SENSOR_COLORS.get(kind[sid], "#444")
        ts = sorted({round(o.t, 2) for o in obs if o.sensor_id == sid})
        parts.append(
            "".join(
                f'<rect x="{X(t) - 1:.1f}" y="{y - 6:.1f}" width="2" height="12" fill="{c}"/>'
                for t in ts
            )
        )
    axis_y = top + row * max(1, len(sensors)) + 4
    step = next(s for s in (10, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200) if span / s <= 10)
    t = (inc.t_from // step + 1) * step
    parts.append(f'<path d="M{left},{axis_y} H{w - right}" stroke="#555"/>')
    while t < inc.t_to:
        parts.append(
            f'<path d="M{X(t):.1f},{axis_y} v5" stroke="#555"/><text x="{X(t):.1f}" '
            f'y="{axis_y + 18}" text-anchor="middle" class="lbl">{hms(t)}</text>'
        )
        t += step
    for ack in inc.acks:
        if ack.get("t") is not None and inc.t_from <= ack["t"] <= inc.t_to:
            parts.append(
                f'<path d="M{X(ack["t"]):.1f},{top - 8} V{axis_y}" stroke="#222" '
                f'stroke-dasharray="3 3"><title>{esc(ack.get("action"))} by '
                f'{esc(ack.get("user"))}</title></path><text x="{X(ack["t"]) + 3:.1f}" '
                f'y="{top - 8}" class="lbl">{esc(ack.get("action"))}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts)


CSS = """
:root{--ink:#1d2329;--mute:#5b6770;--line:#d5dadf;--accent:#0b3954}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 -apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#eceff1}
.page{max-width:980px;margin:24px auto;background:#fff;box-shadow:0 1px 4px #0002}
header{background:var(--accent);color:#fff;padding:22px 30px 18px}
header .kicker{letter-spacing:.14em;font-size:11px;opacity:.8;text-transform:uppercase}
header h1{margin:4px 0 6px;font-size:22px;font-weight:600}
header .meta{font-size:12px;opacity:.85}
.badge{display:inline-block;padding:2px 9px;border-radius:3px;color:#fff;font-size:11px;
font-weight:700;letter-spacing:.06em;text-transform:uppercase;margin-right:6px}
section{padding:18px 30px;border-top:1px solid var(--line)}
h2{font-size:13px;letter-spacing:.1em;text-transform:uppercase;color:var(--accent);margin:0 0 10px}
.summary{font-size:16px;margin:0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #edf0f2;vertical-align:top}
th{color:var(--mute);font-weight:600;font-size:11px;text-transform:uppercase;letter-spacing:.05em}
.facts{display:grid;grid-template-columns:repeat(3,1fr);gap:8px 24px}
.facts div span{display:block;color:var(--mute);font-size:11px;text-transform:uppercase;
letter-spacing:.05em}.facts div b{font-weight:600}
svg{width:100%;height:auto;display:block}.lbl{font-size:11px;fill:#222;
paint-order:stroke;stroke:#fff;stroke-width:3px}.trk{fill:#c1121f;font-weight:700}
.alert{font-weight:700}.legend{font-size:12px;color:var(--mute);margin-top:6px}
.legend i{display:inline-block;width:12px;height:12px;margin:0 4px -2px 12px;border-radius:2px}
code,pre{font:12px ui-monospace,Menlo,Consolas,monospace}pre{max-height:220px;overflow:auto;
background:#f5f7f8;padding:8px;border:1px solid var(--line)}
button{font:inherit;font-size:12px;padding:4px 10px;border:1px solid var(--accent);
background:#fff;color:var(--accent);border-radius:3px;cursor:pointer}
footer{padding:12px 30px 18px;color:var(--mute);font-size:11px;border-top:1px solid var(--line)}
@media print{body{background:#fff}.page{box-shadow:none;margin:0}button{display:none}}
"""

JS = """
document.getElementById('dl').addEventListener('click',function(){
 var t=document.getElementById('tracks-geojson').textContent;
 var a=document.createElement('a');a.href=URL.createObjectURL(new Blob([t],
 {type:'application/geo+json'}));a.download=this.dataset.name;a.click();});
"""


def render_html(inc: Incident, geojson: dict[str, Any], integrity: str = "") -> str:
    a = inc.alert
    sev = SEVERITY_COLORS.get(a["severity"], "#333")
    ev = a.get("evidence") or {}
    sensors = ev.get("sensors") or sorted(
        {s for t in inc.incident_tracks for u in inc.tracks[t] for s in u.sources}
    )
    facts = [
        ("Rule", a["rule"]),
        ("Severity", a["severity"]),
        ("Score", f"{a['score']:.2f}"),
        ("Status", a["status"]),
        ("First seen", full(a["t_first"])),
        ("Last seen", full(a["t_last"])),
        ("Position", f"{a['lat']:.5f}° N, {a['lon']:.5f}° E"),
        ("Sector", a["sector"]),
        ("Zone", a.get("zone_id") or "-"),
        ("Tracks (live)", ", ".join(a["track_ids"])),
        ("Classification", a.get("classification") or "-"),
        ("MMSI", a.get("mmsi") or "-"),
        ("Supporting sensors", ", ".join(map(str, sensors))),
        ("Evidence observations", len(ev.get("obs_ids") or [])),
        ("Versions archived", len(inc.versions)),
    ]
    fact_html = "".join(f"<div><span>{esc(k)}</span><b>{esc(v)}</b></div>" for k, v in facts)
    vrows = "".join(
        f"<tr><td>{hms(v.get('_ts'))}</td><td>{esc(v['status'])}</td><td>{esc(v['severity'])}"
        f"</td><td>{v['score']:.2f}</td><td>{hms(v['t_last'])}</td><td>{esc(v['summary'])}</td>"
        "</tr>"
        for v in inc.versions
    )
    arows = (
        "".join(
            f"<tr><td>{full(k.get('t'))}</td><td><b>{esc(k.get('action'))}</b></td>"
            f"<td>{esc(k.get('user'))}</td><td>{esc(k.get('note'))}</td></tr>"
            for k in inc.acks
        )
        or '<tr><td colspan="4">No coordinator action recorded.</td></tr>'
    )
    legend = "".join(f'<i style="background:{c}"></i>{k}' for k, c in SENSOR_COLORS.items())
    gj = json.dumps(geojson, separators=(",", ":")).replace("</", "<\\/")
    name = f"incident-{a['alert_id'].replace(':', '_')}.geojson"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Incident report {esc(a["alert_id"])}</title><style>{CSS}</style></head>
<body><div class="page">
<header><div class="kicker">borderfusion · incident report</div>
<h1>{esc(a["rule"].replace("_", " ").capitalize())} — {esc(a["sector"])}</h1>
<div class="meta"><span class="badge" style="background:{sev}">{esc(a["severity"])}</span>
<span class="badge" style="background:#445">{esc(a["status"])}</span>
Alert <code>{esc(a["alert_id"])}</code> · {full(a["t_first"])}</div></header>
<section><h2>Summary</h2><p class="summary">{esc(a["summary"])}</p></section>
<section><h2>Key facts</h2><div class="facts">{fact_html}</div></section>
<section><h2>Situation map</h2>{map_svg(inc)}
<div class="legend">Incident track <b style="color:#c1121f">red</b> (○ start, ● end), other
tracks grey; ring: alert position; ▲ sensors; dots: observations by sensor type:{legend}</div>
</section>
<section><h2>Observations by sensor</h2>{timeline_svg(inc)}
<div class="legend">{full(inc.t_from)} – {full(inc.t_to)}; shaded: alert active; dashed:
coordinator actions.</div></section>
<section><h2>Alert history</h2><table><tr><th>archived</th><th>status</th><th>severity</th>
<th>score</th><th>t_last</th><th>summary</th></tr>{vrows}</table></section>
<section><h2>Coordinator actions</h2><table><tr><th>time</th><th>action</th><th>user</th>
<th>note</th></tr>{arows}</table></section>
<section><h2>Evidence and data</h2>
<details><summary>{len(ev.get("obs_ids") or [])} supporting observation ids</summary>
<pre>{esc(" ".join(ev.get("obs_ids") or []))}</pre></details>
<p>Tracks of the window as GeoJSON ({len(geojson["features"]) - 1} tracks; also written
beside this file): <button id="dl" data-name="{esc(name)}">Download GeoJSON</button></p>
<script type="application/geo+json" id="tracks-geojson">{gj}</script></section>
<footer>Generated {full(time.time())} by borderfusion from the archive (alerts, acks) and an
isolated replay of {full(inc.t_from)} – {full(inc.t_to)} (tracks, observations). Track ids
in the map are the replay's; the live ids are listed above. {esc(integrity)}</footer>
</div><script>{JS}</script></body></html>
"""
