"""The ground a scenario plays on: border, river, zones and where the sensors stand.

Geometry is built in metres on a tangent plane (:class:`fusion.geodesy.LocalFrame`) near
51.5°N 30.55°E — the Belarus–Ukraine border country around the Pripyat and Dnieper — and
converted to WGS84 only when written. It is synthetic (no real border data): a forest
section (green border) in the west and a river section (blue border on the river's
centreline) in the east; "our side" is south. The layout is fixed per kind and does not
depend on the seed, so a live run that loops scenarios keeps one sensor registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely.geometry import LineString, Polygon, box, mapping

from fusion.geodesy import LocalFrame

LayoutKind = Literal["river", "forest", "mixed"]
LAYOUTS: tuple[str, ...] = ("river", "forest", "mixed")

ORIGIN = (51.50, 30.55)
HALF_WIDTH_M = 6_000.0  # area spans x in [-6 km, 6 km]
HALF_HEIGHT_M = 4_000.0  # and y in [-4 km, 4 km]
RIVER_HALF_WIDTH_M = 60.0
STRIP_WIDTH_M = 300.0
VERTEX_STEP_M = 100.0


def forest_y(x: ArrayLike) -> np.ndarray:
    """Green border: a gently winding line through the woods (y = north metres)."""
    x = np.asarray(x, dtype=float)
    return 120.0 * np.sin(x / 900.0) + 40.0 * np.sin(x / 230.0)


def river_y(x: ArrayLike) -> np.ndarray:
    """River centreline: a slow meander; the blue border follows it."""
    x = np.asarray(x, dtype=float)
    return 250.0 * np.sin(x / 1400.0)


@dataclass(frozen=True)
class BorderSection:
    id: str
    border_type: str  # green | blue
    line: LineString


@dataclass(frozen=True)
class Zone:
    id: str
    kind: str
    geom: Any
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Layout:
    """All geometry in local east/north metres of ``frame``, plus the sensor registry."""

    kind: str
    frame: LocalFrame
    borders: tuple[BorderSection, ...]
    territory: Polygon
    water: Any  # Polygon | MultiPolygon | empty
    zones: tuple[Zone, ...]
    sensors: tuple[dict[str, Any], ...]
    river_line: LineString | None  # centreline of the border river, if any

    @property
    def border(self) -> Any:
        """All border sections as one (multi)line, for distances and crossings."""
        return shapely.line_merge(shapely.union_all([b.line for b in self.borders]))

    def zones_of(self, kind: str) -> list[Zone]:
        return [z for z in self.zones if z.kind == kind]

    def sensor_en(self, sensor: dict[str, Any]) -> tuple[float, float]:
        e, n = self.frame.to_en(sensor["lat"], sensor["lon"])
        return float(e), float(n)

    def to_latlon_geom(self, geom: Any) -> Any:
        """A local-metre geometry as lon/lat degrees (GeoJSON order), 7 decimals.

        Edges are first cut to ``VERTEX_STEP_M`` so that a straight edge in metres stays
        within millimetres of itself in degrees and adjacent sectors still tile.
        """

        def conv(xy: np.ndarray) -> np.ndarray:
            lat, lon = self.frame.to_latlon(xy[:, 0], xy[:, 1])
            return np.round(np.stack([lon, lat], axis=1), 7)

        return shapely.transform(shapely.segmentize(geom, VERTEX_STEP_M), conv)

    def zones_geojson(self) -> dict[str, Any]:
        """DESIGN §5 zones file: borders, territory, strip, restricted, checkpoint, water, sectors."""
        features = []
        for b in self.borders:
            features.append(
                _feature(
                    self.to_latlon_geom(b.line),
                    {"id": b.id, "kind": "border", "border_type": b.border_type},
                )
            )
        for z in self.zones:
            features.append(
                _feature(self.to_latlon_geom(z.geom), {"id": z.id, "kind": z.kind, **z.props})
            )
        return {"type": "FeatureCollection", "features": features}

    def sensors_doc(self) -> dict[str, Any]:
        return {"sensors": [dict(s) for s in self.sensors]}


def _feature(geom: Any, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": _plain(mapping(geom))}


def _plain(obj: Any) -> Any:
    """shapely's mapping() gives nested tuples; JSON/YAML writers want lists."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _border_vertices(kind: str) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """Sections as (border_type, xs) west to east, and the whole line's y(x) sampler."""
    xs = np.arange(-HALF_WIDTH_M, HALF_WIDTH_M + 1.0, VERTEX_STEP_M)
    if kind == "forest":
        return [("green", xs)], forest_y(xs)
    if kind == "river":
        return [("blue", xs)], river_y(xs)
    west, east = xs[xs <= 0.0], xs[xs >= 0.0]
    ys = np.where(xs <= 0.0, forest_y(xs), river_y(xs))  # both are 0 at x = 0
    return [("green", west), ("blue", east)], ys


def border_y(kind: str, x: np.ndarray | float) -> np.ndarray:
    """North coordinate of the border at east coordinate ``x`` for a layout kind."""
    x = np.asarray(x, dtype=float)
    if kind == "forest":
        return forest_y(x)
    if kind == "river":
        return river_y(x)
    return np.where(x <= 0.0, forest_y(x), river_y(x))


def build_layout(kind: str = "mixed") -> Layout:
    """The fixed geometry and sensor registry of a layout kind (river, forest or mixed)."""
    if kind not in LAYOUTS:
        raise ValueError(f"unknown layout {kind!r}; choose one of {', '.join(LAYOUTS)}")
    frame = LocalFrame(*ORIGIN)
    area = box(-HALF_WIDTH_M, -HALF_HEIGHT_M, HALF_WIDTH_M, HALF_HEIGHT_M)
    sections, ys = _border_vertices(kind)
    xs_all = np.arange(-HALF_WIDTH_M, HALF_WIDTH_M + 1.0, VERTEX_STEP_M)
    borders = []
    for i, (btype, xs) in enumerate(sections):
        line = LineString(np.stack([xs, border_y(kind, xs)], axis=1))
        borders.append(BorderSection(f"border-{i + 1}-{btype}", btype, line))
    ring = (
        [(-HALF_WIDTH_M, -HALF_HEIGHT_M)]
        + list(zip(xs_all.tolist(), ys.tolist(), strict=True))
        + [(HALF_WIDTH_M, -HALF_HEIGHT_M)]
    )
    territory = Polygon(ring)
    border_all = shapely.union_all([b.line for b in borders])

    river_line = None
    water: Any = Polygon()
    zones: list[Zone] = [Zone("territory", "territory", territory, {"name": "our side"})]
    strip = territory.intersection(border_all.buffer(STRIP_WIDTH_M)).buffer(0)
    zones.append(Zone("strip-1", "strip", strip, {"width_m": STRIP_WIDTH_M}))
    if kind != "forest":
        x0 = 0.0 if kind == "mixed" else -HALF_WIDTH_M - 500.0
        rx = np.arange(x0, HALF_WIDTH_M + 501.0, VERTEX_STEP_M)
        river_line = LineString(np.stack([rx, river_y(rx)], axis=1))
        course = river_line
        if kind == "mixed":  # the river leaves the border at x = 0 and flows south through our side
            south = np.array([[0.0, 0.0], [-150.0, -800.0], [-100.0, -2000.0], [-300.0, -4500.0]])
            course = shapely.union_all([river_line, LineString(south)])
        water = course.buffer(RIVER_HALF_WIDTH_M, cap_style="flat").intersection(area)
        zones.append(Zone("water-1", "water", water, {"name": "river"}))

    # restricted zones and a checkpoint, placed by section
    if kind != "forest":
        xr = 3000.0
        yr = float(river_y(xr)) - 450.0
        zones.append(
            Zone(
                "restricted-1",
                "restricted",
                box(xr - 150, yr - 100, xr + 150, yr + 100),
                {"severity": "high", "name": "pumping station"},
            )
        )
    if kind != "river":
        xr = -2200.0
        yr = float(forest_y(xr)) - 700.0
        zones.append(
            Zone(
                "restricted-2",
                "restricted",
                box(xr - 200, yr - 150, xr + 200, yr + 150),
                {"severity": "medium", "name": "forestry depot"},
            )
        )
    xc = -3000.0
    yc = float(border_y(kind, xc))
    zones.append(
        Zone(
            "checkpoint-1",
            "checkpoint",
            box(xc - 100, yc - 100, xc + 100, yc + 100),
            {"name": "road crossing" if kind != "river" else "ferry landing"},
        )
    )

    cuts = [-2000.0, 2000.0] if kind == "mixed" else [0.0]
    edges = [-HALF_WIDTH_M, *cuts, HALF_WIDTH_M]
    for i in range(len(edges) - 1):
        zones.append(
            Zone(
                f"sector-{i + 1}",
                "sector",
                box(edges[i], -HALF_HEIGHT_M, edges[i + 1], HALF_HEIGHT_M),
                {},
            )
        )

    sensors = _sensors(kind, frame)
    return Layout(
        kind, frame, tuple(borders), territory, water, tuple(zones), tuple(sensors), river_line
    )


def _at(frame: LocalFrame, e: float, n: float) -> tuple[float, float]:
    lat, lon = frame.to_latlon(e, n)
    return round(float(lat), 7), round(float(lon), 7)


def _heading_to(e0: float, n0: float, e1: float, n1: float) -> float:
    return round(float(np.degrees(np.arctan2(e1 - e0, n1 - n0)) % 360.0), 1)


def _sensors(kind: str, frame: LocalFrame) -> list[dict[str, Any]]:
    """The registry (DESIGN §5): only the fields the contract allows per type."""
    out: list[dict[str, Any]] = []

    def radar(sid: str, e: float, n: float, h: float, rmax: float, sr: float, sb: float) -> None:
        lat, lon = _at(frame, e, n)
        out.append(
            {
                "id": sid,
                "type": "radar",
                "lat": lat,
                "lon": lon,
                "height_m": h,
                "max_range_m": rmax,
                "sigma_range_m": sr,
                "sigma_bearing_deg": sb,
                "scan_period_s": 1.0,
            }
        )

    def thermal(
        sid: str, e: float, n: float, h: float, look_x: float, fov: float, rmax: float
    ) -> None:
        lat, lon = _at(frame, e, n)
        heading = _heading_to(e, n, look_x, float(border_y(kind, look_x)))
        out.append(
            {
                "id": sid,
                "type": "thermal",
                "lat": lat,
                "lon": lon,
                "height_m": h,
                "heading_deg": heading,
                "fov_deg": fov,
                "max_range_m": rmax,
                "sigma_bearing_deg": 0.2,
            }
        )

    has_river = kind != "forest"
    has_forest = kind != "river"
    # river-side sensors sit on the home bank of the blue section
    if has_river:
        xr = 2500.0 if kind == "mixed" else 0.0
        radar("R1", xr, float(river_y(xr)) - 400.0, 12.0, 5000.0, 10.0, 0.6)
        river_cams = (4200.0,) if kind == "mixed" else (-3500.0, 0.0, 3500.0)
        for xt in river_cams:
            thermal(f"T{len(out)}", xt, float(river_y(xt)) - 250.0, 20.0, xt + 100.0, 40.0, 3000.0)
    if has_forest:
        xr = -3500.0 if kind == "mixed" else 0.0
        radar("R2", xr, float(forest_y(xr)) - 600.0, 8.0, 3000.0, 15.0, 1.0)
        cams = (-1500.0, -4500.0) if kind == "mixed" else (-3000.0, 0.0, 3000.0)
        first = sum(1 for s in out if s["type"] == "thermal") + 1
        for i, xt in enumerate(cams):
            thermal(f"T{first + i}", xt, float(forest_y(xt)) - 300.0, 10.0, xt, 60.0, 1500.0)
        x0, x1 = (-5600.0, -400.0) if kind == "mixed" else (-5600.0, 5600.0)
        for i, xs in enumerate(np.arange(x0, x1 + 1.0, 400.0)):
            lat, lon = _at(frame, float(xs), float(forest_y(xs)) - 80.0)
            out.append(
                {
                    "id": f"S{i + 1:02d}",
                    "type": "seismic",
                    "lat": lat,
                    "lon": lon,
                    "height_m": 0.0,
                    "radius_m": 50.0,
                }
            )
    xa = 3000.0 if has_river else 0.0
    lat, lon = _at(frame, xa, float(border_y(kind, xa)) - 800.0)
    out.append({"id": "A1", "type": "ais", "lat": lat, "lon": lon, "height_m": 30.0})
    if has_forest:  # patrols work the land border: their TAK feed (blue-force tracking),
        # listed last so every other sensor keeps its place and its readings
        lat, lon = _at(frame, 0.0, float(border_y(kind, 0.0)) - 1500.0)
        out.append({"id": "TAK1", "type": "friendly", "lat": lat, "lon": lon, "height_m": 0.0})
    return out
