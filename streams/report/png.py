"""A PNG of the incident map for documents (matplotlib, optional: the HTML never needs it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import PathPatch  # noqa: E402
from matplotlib.path import Path as MPath  # noqa: E402

from streams.report.build import Incident  # noqa: E402
from streams.report.render import SENSOR_COLORS, SEVERITY_COLORS, MapView, full  # noqa: E402

ZONE_MPL: dict[str, dict[str, Any]] = {
    "territory": {"facecolor": "#eef4e8", "edgecolor": "none"},
    "water": {"facecolor": "#cfe2f3", "edgecolor": "#9cc2e5"},
    "strip": {"facecolor": "none", "edgecolor": "#c9a227", "linestyle": "--"},
    "restricted": {"facecolor": (0.84, 0.16, 0.16, 0.12), "edgecolor": "#bb0000"},
    "checkpoint": {"facecolor": (0.16, 0.62, 0.27, 0.18), "edgecolor": "#1b7a32"},
    "sector": {"facecolor": "none", "edgecolor": "#98a2ad", "linestyle": ":"},
}


def render_png(inc: Incident, out: Path, dpi: int = 110) -> None:
    v = MapView(inc)
    fig, ax = plt.subplots(figsize=(v.w / 100, v.h / 100 + 0.5), dpi=dpi)
    ax.set_facecolor("#f7f8f6")
    for kind in ("territory", "water", "sector", "strip", "checkpoint", "restricted", "border"):
        for f in (inc.zones or {}).get("features", []):
            p, g = f.get("properties", {}), f.get("geometry") or {}
            if p.get("kind") != kind:
                continue
            if g.get("type") == "Polygon":
                verts, codes = [], []
                for ring in g["coordinates"]:
                    x, y = v.xy([c[1] for c in ring], [c[0] for c in ring])
                    verts += list(zip(x, y, strict=True))
                    codes += [MPath.MOVETO] + [MPath.LINETO] * (len(ring) - 1)
                ax.add_patch(PathPatch(MPath(verts, codes), lw=1, **ZONE_MPL[kind]))
            elif g.get("type") == "LineString":
                x, y = v.xy([c[1] for c in g["coordinates"]], [c[0] for c in g["coordinates"]])
                ax.plot(
                    x,
                    y,
                    color="#1d5fa8" if p.get("border_type") == "blue" else "#2f3a2f",
                    lw=2.4,
                    ls=(0, (8, 2, 2, 2)),
                )
    for tid, ups in inc.tracks.items():
        if len(ups) < 2:
            continue
        x, y = v.xy([u.lat for u in ups], [u.lon for u in ups])
        mine = tid in inc.incident_tracks
        ax.plot(
            x,
            y,
            color="#c1121f" if mine else "#6c757d",
            lw=3 if mine else 1.1,
            alpha=1 if mine else 0.7,
            zorder=3 if mine else 2,
        )
        if mine:
            ax.plot(x[-1], y[-1], "o", color="#c1121f", zorder=4)
            ax.annotate(
                tid,
                (x[-1], y[-1]),
                xytext=(6, -8),
                textcoords="offset points",
                color="#c1121f",
                fontsize=8,
                weight="bold",
            )
    obs = [o for o in inc.observations if v.contains(o.lat, o.lon)]
    for kind, color in SENSOR_COLORS.items():
        sel = [o for o in obs if o.kind == kind]
        if sel:
            x, y = v.xy([o.lat for o in sel], [o.lon for o in sel])
            ax.scatter(x, y, s=3, color=color, alpha=0.5, label=f"{kind} obs", zorder=2)
    for s in inc.sensors:
        if v.contains(s["lat"], s["lon"]):
            x, y = v.xy([s["lat"]], [s["lon"]])
            ax.plot(x, y, "^", color=SENSOR_COLORS.get(s["type"], "#333"), ms=8, mec="white")
            ax.annotate(
                s["id"], (x[0], y[0]), xytext=(6, 2), textcoords="offset points", fontsize=8
            )
    a = inc.alert
    x, y = v.xy([a["lat"]], [a["lon"]])
    ax.plot(
        x,
        y,
        "o",
        ms=18,
        mfc="none",
        mec=SEVERITY_COLORS.get(a["severity"], "#333"),
        mew=3,
        zorder=5,
    )
    ax.set_xlim(0, v.w)
    ax.set_ylim(v.h, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(
        f"{a['rule'].replace('_', ' ')} · {a['severity']} · {a['alert_id']}\n{full(a['t_first'])}",
        fontsize=10,
        loc="left",
    )
    if obs:
        ax.legend(loc="lower right", fontsize=7, markerscale=3, framealpha=0.85)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
