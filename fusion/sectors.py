"""Geo-partitioning: which sector owns a point, and which neighbours see it in their halo.

Sectors are the unit of Kafka partitioning and of tracker state (DESIGN §1). They come
from ``kind: sector`` polygons in the zones file or, failing that, a square grid in a
tangent plane at a fixed origin. A point belongs to exactly one home sector; sectors
whose edge is within ``halo_m`` also receive it, so a track crossing a sector edge is
already being tracked on the far side when ownership moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import shape

from fusion.geodesy import LocalFrame

OUTSIDE = "outside"  # the home of a point no sector polygon contains


@dataclass(frozen=True, slots=True)
class SectorInfo:
    sector_id: str
    lat0: float
    lon0: float


class Sectorizer:
    """Maps positions to sector ids (vectorised over points)."""

    def __init__(self, frame: LocalFrame, polygons: dict[str, shapely.Geometry] | None,
                 grid_m: float, halo_m: float) -> None:
        self.frame = frame
        self.grid_m = grid_m
        self.halo_m = halo_m
        self._ids: list[str] = list(polygons or {})
        self._geoms = np.array([polygons[i] for i in self._ids], dtype=object) if polygons else None
        self._tree = shapely.STRtree(self._geoms) if self._geoms is not None else None
        self._origins: dict[str, SectorInfo] = {}
        self._cache: dict[tuple[float, float], tuple[list[str], list[list[str]]]] = {}
        if self._geoms is not None:
            for sid, g in zip(self._ids, self._geoms, strict=True):
                c = g.centroid
                lat, lon = frame.to_latlon_exact(c.x, c.y)  # once per sector: the reference
                self._origins[sid] = SectorInfo(sid, float(lat), float(lon))

    @classmethod
    def from_zones(cls, zones_geojson: dict | None, origin: tuple[float, float],
                   grid_m: float = 20_000.0, halo_m: float = 500.0) -> Sectorizer:
        """Sector polygons from a zones FeatureCollection, or a grid around ``origin``."""
        polygons: dict[str, shapely.Geometry] = {}
        frame = LocalFrame(*origin)
        for feat in (zones_geojson or {}).get("features", []):
            props = feat.get("properties") or {}
            if props.get("kind") != "sector":
                continue
            geom = shape(feat["geometry"])
            coords = shapely.get_coordinates(geom)
            e, n = frame.to_en(coords[:, 1], coords[:, 0])
            polygons[str(props["id"])] = shapely.set_coordinates(geom, np.column_stack([e, n]))
        return cls(frame, polygons or None, grid_m, halo_m)

    def home(self, lat: np.ndarray, lon: np.ndarray) -> list[str]:
        """Home sector id per point (``"outside"`` when no sector polygon contains it)."""
        e, n = self.frame.to_en(np.asarray(lat, float), np.asarray(lon, float))
        return self._home_en(np.atleast_1d(e), np.atleast_1d(n))

    def _home_en(self, e: np.ndarray, n: np.ndarray) -> list[str]:
        if self._tree is None:
            i = np.floor(e / self.grid_m).astype(int)
            j = np.floor(n / self.grid_m).astype(int)
            return [f"g{a}_{b}" for a, b in zip(i.tolist(), j.tolist(), strict=True)]
        pts = shapely.points(e, n)
        out = [OUTSIDE] * len(pts)
        pi, gi = self._tree.query(pts, predicate="intersects")
        for p, g in zip(pi.tolist(), gi.tolist(), strict=True):
            if out[p] == OUTSIDE:
                out[p] = self._ids[g]
        return out

    def halo(self, lat: float, lon: float, home: str) -> list[str]:
        """Other sectors within ``halo_m`` of the point (they track it but do not own it)."""
        e, n = self.frame.to_en(np.atleast_1d(np.asarray(lat, float)),
                                np.atleast_1d(np.asarray(lon, float)))
        return self._halos(e, n, [home])[0]

    def assign(self, lat: np.ndarray, lon: np.ndarray) -> tuple[list[str], list[list[str]]]:
        """Home sector and halo sectors of every point, in one vectorised pass.

        The ingest hot path: per point, ``home`` + ``halo`` cost two tangent-plane
        conversions and two tree queries (~150 µs); over a batch they cost that once.
        A single point (a seismic event at its sensor) is answered from a small cache,
        since ground sensors report from the same place again and again.
        """
        lat = np.atleast_1d(np.asarray(lat, float))
        lon = np.atleast_1d(np.asarray(lon, float))
        if len(lat) == 1:
            key = (float(lat[0]), float(lon[0]))
            hit = self._cache.get(key)
            if hit is None:
                if len(self._cache) >= 65_536:
                    self._cache.clear()
                hit = self._cache[key] = self._assign(lat, lon)
            return [hit[0][0]], [list(hit[1][0])]
        return self._assign(lat, lon)

    def _assign(self, lat: np.ndarray, lon: np.ndarray) -> tuple[list[str], list[list[str]]]:
        e, n = self.frame.to_en(lat, lon)
        e, n = np.atleast_1d(e), np.atleast_1d(n)
        homes = self._home_en(e, n)
        return homes, self._halos(e, n, homes)

    def _halos(self, e: np.ndarray, n: np.ndarray, homes: list[str]) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in homes]
        if self.halo_m <= 0:
            return out
        if self._tree is None:
            for de in (-self.halo_m, 0.0, self.halo_m):
                for dn in (-self.halo_m, 0.0, self.halo_m):
                    i = np.floor((e + de) / self.grid_m).astype(int).tolist()
                    j = np.floor((n + dn) / self.grid_m).astype(int).tolist()
                    for k, (a, b) in enumerate(zip(i, j, strict=True)):
                        sid = f"g{a}_{b}"
                        if sid != homes[k] and sid not in out[k]:
                            out[k].append(sid)
            return out
        pi, gi = self._tree.query(shapely.points(e, n), predicate="dwithin",
                                  distance=self.halo_m)
        for p, g in zip(pi.tolist(), gi.tolist(), strict=True):
            sid = self._ids[g]
            if sid != homes[p]:
                out[p].append(sid)
        return out

    def origin(self, sector_id: str) -> SectorInfo:
        """Tangent-plane origin for the sector's tracker (polygon centroid or cell centre)."""
        if sector_id in self._origins:
            return self._origins[sector_id]
        if sector_id.startswith("g") and "_" in sector_id:
            i, j = (int(v) for v in sector_id[1:].split("_"))
            lat, lon = self.frame.to_latlon_exact((i + 0.5) * self.grid_m,
                                                  (j + 0.5) * self.grid_m)
            return SectorInfo(sector_id, float(lat), float(lon))
        lat0, lon0 = self.frame.lat0, self.frame.lon0
        return SectorInfo(sector_id, lat0, lon0)

    def contains(self, sector_id: str, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Whether each point lies in the sector (used to publish only owned tracks)."""
        return np.array(self.home(lat, lon)) == sector_id


class VesselSectors:
    """The sector of each vessel's last AIS report: the hand-over of sparse reporters.

    A vessel reports every 2 s to 3 min (ITU-R M.1371), so between two reports it can leave
    a sector *and its halo* altogether: a class B boat at 4 m/s covers 700 m on its 3 min
    cycle, the halo is 500 m. Its next report then lands where nothing tracked it, and the
    sector that did sees nothing more: its track goes silent while a new track starts
    elsewhere, and a border crossed in between is crossed in neither (hold-out river seed 6:
    an AIS boat's last report 82 s before its crossing in sector-2, the next one 98 s after
    it, beyond the halo). :meth:`extra` names the sector of the previous report when it is
    neither the new home nor in the halo; the report goes there too, as a halo copy, and
    that sector's track is seen to leave — over the line, if it crossed.
    """

    def __init__(self, hold_s: float = 600.0) -> None:
        """``hold_s``: a previous report older than this is forgotten (the tracker drops
        an AIS track after as long a silence, ``TrackerConfig.ais_timeout_s``)."""
        self.hold_s = hold_s
        self._last: dict[int, tuple[str, float]] = {}  # mmsi -> (home sector, t)
        self._pruned = -math.inf

    def extra(self, mmsi: int, t: float, home: str, halo: list[str]) -> str | None:
        """Record a report of ``mmsi`` at ``t`` homed in ``home``; the other sector it must
        also go to, or None."""
        prev = self._last.get(mmsi)
        if prev is not None and t < prev[1]:
            return None  # an older report than the last one: it changes nothing
        self._last[mmsi] = (home, t)
        if t - self._pruned > self.hold_s:
            self._prune(t)
        if prev is None or t - prev[1] > self.hold_s:
            return None
        sector = prev[0]
        if sector in (home, OUTSIDE) or sector in halo:
            return None
        return sector

    def _prune(self, t: float) -> None:
        self._pruned = t
        self._last = {m: v for m, v in self._last.items() if t - v[1] <= self.hold_s}
