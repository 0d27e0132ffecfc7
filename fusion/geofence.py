"""Geofences from ``zones.geojson`` (DESIGN §5), queried for many points at once.

All geometry is carried into one local metric frame (a tangent plane at the zones' centre) so
every distance is in metres and every query is a vectorised shapely 2.x call over arrays of
points or path segments (``STRtree`` per zone kind, prepared polygons), never a Python loop
over tracks. Latitude/longitude only appear at the edges (input and :meth:`Zones.to_latlon`).

Conventions:

- *signed distance to the border*: positive on our side (inside a ``territory`` polygon),
  negative on the far side; unsigned (positive) when the zones define no territory.
- a *crossing* is a path segment (previous → current position) that intersects a border line
  *and* changes side with respect to our territory; ``inbound`` = into the territory. With no
  territory, every intersection is a crossing with direction ``unknown``.
- a crossing whose crossing point lies inside (or within ``checkpoint_margin_m`` of) a
  ``checkpoint`` zone is exempt: that is the legal way through.
- a ``strip`` is its polygon, or for a line the band ``width_m`` wide centred on it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from fusion.geodesy import LocalFrame
from fusion.types import SEVERITIES

__all__ = [
    "ZONE_KINDS",
    "BORDER_TYPES",
    "ZoneError",
    "Zone",
    "Crossings",
    "BorderProximity",
    "Zones",
]

log = logging.getLogger(__name__)

ZONE_KINDS: tuple[str, ...] = (
    "border",
    "territory",
    "strip",
    "restricted",
    "checkpoint",
    "water",
    "sector",
)
BORDER_TYPES: tuple[str, ...] = ("green", "blue")
_LINES = ("LineString", "MultiLineString")
_AREAS = ("Polygon", "MultiPolygon")
_ALLOWED_GEOMS: dict[str, tuple[str, ...]] = {
    "border": _LINES,
    "territory": _AREAS,
    "strip": _AREAS + _LINES,
    "restricted": _AREAS,
    "checkpoint": _AREAS + ("Point",),
    "water": _AREAS,
    "sector": _AREAS,
}
_COMPASS = (
    "north",
    "north-east",
    "east",
    "south-east",
    "south",
    "south-west",
    "west",
    "north-west",
)

FloatArray = NDArray[np.float64]
_DENSIFY_DEG = 0.01  # ~1 km: a chord that long sags < 0.1 m off the lon/lat straight line


class ZoneError(ValueError):
    """A zones file that does not follow DESIGN §5; the message names the feature and field."""


@dataclass(frozen=True)
class Zone:
    """One validated feature; ``geom`` is in the local metric frame, ``geom_ll`` in lon/lat."""

    id: str
    kind: str
    name: str
    props: dict[str, Any]
    geom_ll: shapely.Geometry
    geom: shapely.Geometry


@dataclass(frozen=True)
class Crossings:
    """Result of :meth:`Zones.crossings` for n segments (arrays of length n)."""

    crossed: NDArray[np.bool_]  # a border was crossed (exempt ones included)
    exempt: NDArray[np.bool_]  # ... through a checkpoint
    border: NDArray[np.int64]  # index into Zones.borders, -1 if none
    direction: NDArray[np.str_]  # inbound|outbound|unknown|''
    lat: FloatArray  # crossing point (nan if none)
    lon: FloatArray
    checkpoint: NDArray[np.int64]  # index into Zones.checkpoints, -1 if none


@dataclass(frozen=True)
class BorderProximity:
    """Result of :meth:`Zones.border_proximity` for n points."""

    signed_distance_m: FloatArray  # + our side, - far side (nan when no border)
    border: NDArray[np.int64]  # nearest border index, -1 if none
    near_e: FloatArray  # nearest border point, local metres
    near_n: FloatArray
    closing_speed_mps: FloatArray  # velocity projected toward the nearest border point
    time_to_border_s: FloatArray  # inf when not closing


def _to_local(geom: shapely.Geometry, frame: LocalFrame) -> shapely.Geometry:
    def fn(coords: FloatArray) -> FloatArray:
        e, n = frame.to_en(coords[:, 1], coords[:, 0])
        return np.column_stack([e, n])

    return shapely.transform(geom, fn)


def _fail(fid: str, field_name: str, msg: str) -> ZoneError:
    return ZoneError(f"zone {fid!r}: field {field_name!r}: {msg}")


def _validate(i: int, feat: Any) -> tuple[str, str, dict[str, Any], shapely.Geometry]:
    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        raise ZoneError(f"feature #{i}: not a GeoJSON Feature")
    props = feat.get("properties") or {}
    fid = props.get("id")
    if not isinstance(fid, str) or not fid:
        raise ZoneError(f"feature #{i}: field 'id': missing or not a non-empty string")
    kind = props.get("kind")
    if kind not in ZONE_KINDS:
        raise _fail(fid, "kind", f"must be one of {'|'.join(ZONE_KINDS)}, got {kind!r}")
    try:
        geom = shapely.geometry.shape(feat.get("geometry"))
    except Exception as exc:  # shapely raises several types for bad GeoJSON
        raise _fail(fid, "geometry", f"not valid GeoJSON geometry ({exc})") from exc
    if geom.geom_type not in _ALLOWED_GEOMS[kind]:
        raise _fail(
            fid,
            "geometry",
            f"a {kind} must be {'|'.join(_ALLOWED_GEOMS[kind])}, got {geom.geom_type}",
        )
    if geom.is_empty:
        raise _fail(fid, "geometry", "is empty")
    if kind == "border" and props.get("border_type") not in BORDER_TYPES:
        raise _fail(fid, "border_type", f"must be green|blue, got {props.get('border_type')!r}")
    if kind == "territory" and not (isinstance(props.get("name"), str) and props["name"]):
        raise _fail(fid, "name", "a territory needs a non-empty name")
    if kind == "strip":
        w = props.get("width_m")
        if isinstance(w, bool) or not isinstance(w, int | float) or not w > 0:
            raise _fail(fid, "width_m", f"a strip needs a positive width in metres, got {w!r}")
    if kind == "restricted" and props.get("severity") not in SEVERITIES:
        raise _fail(
            fid, "severity", f"must be one of {'|'.join(SEVERITIES)}, got {props.get('severity')!r}"
        )
    if kind == "checkpoint" and geom.geom_type == "Point":
        r = props.get("radius_m", 50.0)
        if isinstance(r, bool) or not isinstance(r, int | float) or not r > 0:
            raise _fail(fid, "radius_m", f"a point checkpoint needs a positive radius, got {r!r}")
    return fid, kind, props, geom


@dataclass
class _Layer:
    """All zones of one kind: geometries as an array plus an STRtree over them."""

    zones: list[Zone]
    geoms: NDArray[np.object_] = field(init=False)
    tree: shapely.STRtree = field(init=False)

    def __post_init__(self) -> None:
        self.geoms = np.array([z.geom for z in self.zones], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)

    @property
    def ids(self) -> list[str]:
        return [z.id for z in self.zones]


class Zones:
    """The validated zones of a deployment and the vectorised queries the rules need."""

    def __init__(self, zones: list[Zone], frame: LocalFrame, checkpoint_margin_m: float = 0.0):
        self.frame = frame
        self.zones = zones
        self.by_id = {z.id: z for z in zones}
        self.checkpoint_margin_m = float(checkpoint_margin_m)
        self.layers = {k: _Layer([z for z in zones if z.kind == k]) for k in ZONE_KINDS}
        terr = [z.geom for z in self.layers["territory"].zones]
        self.territory: shapely.Geometry | None = shapely.union_all(terr) if terr else None
        if self.territory is not None:
            shapely.prepare(self.territory)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_geojson(cls, fc: dict[str, Any], checkpoint_margin_m: float = 0.0) -> Zones:
        """Validate a FeatureCollection and build the zones in a frame at their centre."""
        if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection":
            raise ZoneError("zones: top level must be a GeoJSON FeatureCollection")
        feats = fc.get("features")
        if not isinstance(feats, list):
            raise ZoneError("zones: 'features' must be a list")
        parsed = [_validate(i, f) for i, f in enumerate(feats)]
        seen: set[str] = set()
        for fid, *_ in parsed:
            if fid in seen:
                raise _fail(fid, "id", "duplicate zone id")
            seen.add(fid)
        if parsed:
            minx, miny, maxx, maxy = shapely.total_bounds([g for *_, g in parsed])
            frame = LocalFrame((miny + maxy) / 2.0, (minx + maxx) / 2.0)
        else:
            frame = LocalFrame(0.0, 0.0)
        zones = []
        for fid, kind, props, geom in parsed:
            # GeoJSON edges are straight in lon/lat; densify so they stay so in metres
            local = _to_local(shapely.segmentize(geom, _DENSIFY_DEG), frame)
            if kind == "strip" and geom.geom_type in _LINES:
                local = shapely.buffer(local, float(props["width_m"]) / 2.0)
            if kind == "checkpoint" and geom.geom_type == "Point":
                local = shapely.buffer(local, float(props.get("radius_m", 50.0)))
            name = str(props.get("name") or fid)
            zones.append(Zone(fid, kind, name, dict(props), geom, local))
        log.info("zones loaded: %s", {k: sum(z.kind == k for z in zones) for k in ZONE_KINDS})
        return cls(zones, frame, checkpoint_margin_m)

    @classmethod
    def load(cls, path: str) -> Zones:
        """Read and validate a ``zones.geojson`` file."""
        import json

        with open(path, encoding="utf-8") as fh:
            return cls.from_geojson(json.load(fh))

    # ---------------------------------------------------------------- accessors
    def of_kind(self, kind: str) -> list[Zone]:
        return self.layers[kind].zones

    @property
    def borders(self) -> list[Zone]:
        return self.layers["border"].zones

    @property
    def checkpoints(self) -> list[Zone]:
        return self.layers["checkpoint"].zones

    def to_en(self, lat: ArrayLike, lon: ArrayLike) -> tuple[FloatArray, FloatArray]:
        e, n = self.frame.to_en(lat, lon)
        return np.atleast_1d(e), np.atleast_1d(n)

    def to_latlon(self, e: ArrayLike, n: ArrayLike) -> tuple[FloatArray, FloatArray]:
        return self.frame.to_latlon(e, n)

    # ---------------------------------------------------------------- queries
    def near_checkpoint_en(self, e: ArrayLike, n: ArrayLike, margin_m: float) -> NDArray[np.bool_]:
        """True where a local point lies inside a checkpoint or within ``margin_m`` of one."""
        e = np.atleast_1d(np.asarray(e, float))
        n = np.atleast_1d(np.asarray(n, float))
        out = np.zeros(e.shape, dtype=bool)
        layer = self.layers["checkpoint"]
        ok = np.isfinite(e) & np.isfinite(n)
        if not layer.zones or not ok.any():
            return out
        idx = np.flatnonzero(ok)
        pts = shapely.points(e[idx], n[idx])
        if margin_m > 0:
            q, _ = layer.tree.query(pts, predicate="dwithin", distance=float(margin_m))
        else:
            q, _ = layer.tree.query(pts, predicate="intersects")
        out[idx[q]] = True
        return out

    def inside_territory(self, e: ArrayLike, n: ArrayLike) -> NDArray[np.bool_]:
        """True where a local point is on our side (inside a territory polygon)."""
        e, n = np.atleast_1d(np.asarray(e, float)), np.atleast_1d(np.asarray(n, float))
        if self.territory is None:
            return np.zeros(e.shape, dtype=bool)
        return np.asarray(shapely.intersects_xy(self.territory, e, n), dtype=bool)

    def points(self, e: ArrayLike, n: ArrayLike) -> NDArray[np.object_]:
        """Shapely points of local coordinates, to share among several queries of one batch
        (the ``pts`` argument of :meth:`zone_ids_at_en` and :meth:`border_proximity_en`)."""
        return shapely.points(
            np.atleast_1d(np.asarray(e, float)), np.atleast_1d(np.asarray(n, float))
        )

    def crossings(
        self, lat0: ArrayLike, lon0: ArrayLike, lat1: ArrayLike, lon1: ArrayLike
    ) -> Crossings:
        """Border crossings of n path segments (lat0, lon0) → (lat1, lon1), all at once."""
        e0, n0 = self.to_en(lat0, lon0)
        e1, n1 = self.to_en(lat1, lon1)
        return self.crossings_en(e0, n0, e1, n1)

    def crossings_en(
        self,
        e0: FloatArray,
        n0: FloatArray,
        e1: FloatArray,
        n1: FloatArray,
        dist1: FloatArray | None = None,
    ) -> Crossings:
        """:meth:`crossings` of segments already in local metres (1-d arrays), for a caller
        that has converted them for other queries too (the alert engine, once per batch).

        ``dist1``: each end point's distance to the nearest border (the signed distance of
        :meth:`border_proximity_en` will do), when the caller has it. A segment shorter than
        that cannot reach a border, so only the others are built and queried: most of a
        batch's tracks are far from the line, and the same answer costs a fraction."""
        m = e0.size
        crossed = np.zeros(m, dtype=bool)
        exempt = np.zeros(m, dtype=bool)
        border = np.full(m, -1, dtype=np.int64)
        checkpoint = np.full(m, -1, dtype=np.int64)
        direction = np.full(m, "", dtype="<U8")
        lat, lon = np.full(m, np.nan), np.full(m, np.nan)
        layer = self.layers["border"]
        if m == 0 or not layer.zones:
            return Crossings(crossed, exempt, border, direction, lat, lon, checkpoint)
        moved = (e0 != e1) | (n0 != n1)
        if dist1 is not None:
            with np.errstate(invalid="ignore"):  # (1 m: floating-point slack)
                moved &= np.abs(dist1) <= np.hypot(e1 - e0, n1 - n0) + 1.0
        rows = np.flatnonzero(moved)
        if rows.size == 0:
            return Crossings(crossed, exempt, border, direction, lat, lon, checkpoint)
        coords = np.stack(
            [np.column_stack([e0[rows], n0[rows]]), np.column_stack([e1[rows], n1[rows]])], axis=1
        )
        segs = np.empty(m, dtype=object)
        segs[rows] = shapely.linestrings(coords)
        q, b_idx = layer.tree.query(segs[rows], predicate="intersects")
        seg_idx = rows[q]
        # first border hit per segment (a segment crossing two borders at once is rare)
        seg_idx, first = np.unique(seg_idx, return_index=True)
        b_idx = b_idx[first]
        if self.territory is not None:
            in0 = self.inside_territory(e0[seg_idx], n0[seg_idx])
            in1 = self.inside_territory(e1[seg_idx], n1[seg_idx])
            changed = in0 != in1
            seg_idx, b_idx, in1 = seg_idx[changed], b_idx[changed], in1[changed]
            direction[seg_idx] = np.where(in1, "inbound", "outbound")
        else:
            direction[seg_idx] = "unknown"
        crossed[seg_idx] = True
        border[seg_idx] = b_idx
        if seg_idx.size:
            inter = shapely.intersection(segs[seg_idx], layer.geoms[b_idx])
            # several touch points (or a collinear piece): take its first vertex
            xy, owner = shapely.get_coordinates(inter, return_index=True)
            _, first_xy = np.unique(owner, return_index=True)
            xy = xy[first_xy]
            # back to degrees only where there is a crossing point: NaN points would take
            # the exact (iterative) inverse, on every call, for nothing
            lat[seg_idx], lon[seg_idx] = self.frame.to_latlon(xy[:, 0], xy[:, 1])
            pt = shapely.points(xy[:, 0], xy[:, 1])
            cps = self.layers["checkpoint"]
            if cps.zones:
                if self.checkpoint_margin_m > 0:
                    q, c = cps.tree.query(
                        pt, predicate="dwithin", distance=self.checkpoint_margin_m
                    )
                else:
                    q, c = cps.tree.query(pt, predicate="intersects")
                q, first_c = np.unique(q, return_index=True)
                exempt[seg_idx[q]] = True
                checkpoint[seg_idx[q]] = c[first_c]
        return Crossings(crossed, exempt, border, direction, lat, lon, checkpoint)

    def border_proximity(
        self, lat: ArrayLike, lon: ArrayLike, vel_e: ArrayLike = 0.0, vel_n: ArrayLike = 0.0
    ) -> BorderProximity:
        """Signed distance to the nearest border and the time to reach it at this velocity.

        The time is the distance over the velocity's component toward the nearest border
        point (``inf`` when that component is not positive): a first-order prediction that
        is exact for a straight approach and optimistic for an oblique one.
        """
        e, n = self.to_en(lat, lon)
        return self.border_proximity_en(e, n, vel_e, vel_n)

    def border_proximity_en(
        self,
        e: FloatArray,
        n: FloatArray,
        vel_e: ArrayLike = 0.0,
        vel_n: ArrayLike = 0.0,
        pts: NDArray[np.object_] | None = None,
    ) -> BorderProximity:
        """:meth:`border_proximity` of points already in local metres (``pts``: the same
        points from :meth:`points`, if the caller has them)."""
        m = e.size
        ve = np.broadcast_to(np.asarray(vel_e, float), (m,))
        vn = np.broadcast_to(np.asarray(vel_n, float), (m,))
        layer = self.layers["border"]
        if m == 0 or not layer.zones:
            nan = np.full(m, np.nan)
            return BorderProximity(nan, np.full(m, -1, np.int64), nan, nan, nan, np.full(m, np.inf))
        if pts is None:
            pts = shapely.points(e, n)
        idx, dist = layer.tree.query_nearest(pts, return_distance=True, all_matches=False)
        border = np.full(m, -1, dtype=np.int64)
        d = np.full(m, np.nan)
        border[idx[0]] = idx[1]
        d[idx[0]] = dist
        near = shapely.shortest_line(pts, layer.geoms[border])
        xy = shapely.get_coordinates(near).reshape(m, 2, 2)[:, 1, :]
        ne, nn = xy[:, 0], xy[:, 1]
        de, dn = ne - e, nn - n
        norm = np.hypot(de, dn)
        with np.errstate(invalid="ignore", divide="ignore"):
            closing = np.where(norm > 0, (ve * de + vn * dn) / norm, 0.0)
            ttb = np.where(closing > 0, d / closing, np.inf)
        ttb = np.where(d == 0, 0.0, ttb)
        if self.territory is not None:
            d = np.where(self.inside_territory(e, n), d, -d)
        return BorderProximity(d, border, ne, nn, closing, ttb)

    def membership(
        self, kind: str, lat: ArrayLike, lon: ArrayLike
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Pairs (point index, zone index within ``of_kind(kind)``) with the point inside."""
        e, n = self.to_en(lat, lon)
        return self.membership_en(kind, e, n)

    def membership_en(
        self, kind: str, e: ArrayLike, n: ArrayLike, pts: NDArray[np.object_] | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        layer = self.layers[kind]
        e = np.atleast_1d(np.asarray(e, float))
        if not layer.zones or e.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        if pts is None:
            pts = shapely.points(e, np.atleast_1d(np.asarray(n, float)))
        p, z = layer.tree.query(pts, predicate="intersects")
        order = np.lexsort((z, p))
        return p[order].astype(np.int64), z[order].astype(np.int64)

    def zone_ids_at(self, kind: str, lat: ArrayLike, lon: ArrayLike) -> list[list[str]]:
        """For each point, the ids of the ``kind`` zones containing it (in file order)."""
        e, n = self.to_en(lat, lon)
        return self.zone_ids_at_en(kind, e, n)

    def zone_ids_at_en(
        self, kind: str, e: FloatArray, n: FloatArray, pts: NDArray[np.object_] | None = None
    ) -> list[list[str]]:
        """:meth:`zone_ids_at` of points already in local metres (``pts``: see
        :meth:`border_proximity_en`)."""
        m = e.size
        out: list[list[str]] = [[] for _ in range(m)]
        if not self.layers[kind].zones:
            return out
        p, z = self.membership_en(kind, e, n, pts)
        ids = self.layers[kind].ids
        for pi, zi in zip(p.tolist(), z.tolist(), strict=True):
            out[pi].append(ids[zi])
        return out

    def sector_of(self, lat: float, lon: float) -> str:
        """The id of the ``sector`` polygon containing the point, or '' if none does."""
        ids = self.zone_ids_at("sector", [lat], [lon])[0]
        return ids[0] if ids else ""

    def sectors_of(self, lat: ArrayLike, lon: ArrayLike) -> list[str]:
        """Vectorised :meth:`sector_of`."""
        return [ids[0] if ids else "" for ids in self.zone_ids_at("sector", lat, lon)]

    def describe_location(self, lat: float, lon: float, max_m: float = 2000.0) -> str:
        """'120 m north of Checkpoint X' relative to the nearest checkpoint, or ''."""
        layer = self.layers["checkpoint"]
        if not layer.zones:
            return ""
        e, n = self.to_en([lat], [lon])
        pt = shapely.points(e[0], n[0])
        idx, dist = layer.tree.query_nearest(pt, return_distance=True, all_matches=False)
        if idx.size == 0 or dist[0] > max_m:
            return ""
        zone = layer.zones[int(idx[0])]
        c = shapely.centroid(zone.geom)
        de, dn = e[0] - c.x, n[0] - c.y
        rng = math.hypot(de, dn)
        if dist[0] == 0 and rng < 1.0:
            return f"at {zone.name}"
        bearing = math.degrees(math.atan2(de, dn)) % 360.0
        word = _COMPASS[int((bearing + 22.5) // 45) % 8]
        return f"{_round_m(rng)} m {word} of {zone.name}"


def _round_m(d: float) -> int:
    """Round a distance the way a person would say it (10 m steps, 100 m over 1 km)."""
    step = 100 if d >= 1000 else 10
    return int(round(d / step) * step)
