"""The cast of a scenario: who moves where, and which of them carry AIS.

Each situation the alert rules must handle gets at least one actor: dark and AIS boats
crossing the river border, a rendezvous on the water, people and vehicles crossing the
forest border past seismic sensors, a legitimate checkpoint crossing, someone who
approaches, loiters and turns back, an intruder into a restricted zone, and the
background that must *not* alert: AIS traffic on our half of the river, patrols on our
side, animals. Key moments are placed inside the scenario window from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .layout import HALF_WIDTH_M, Layout, border_y
from .motion import Path, along_river, off_border, river_point, route


@dataclass(frozen=True)
class AisProfile:
    """What a vessel's transponder says about itself, and when it is switched off."""

    mmsi: int
    ais_class: str  # "A" (types 1 + 5) or "B" (types 18 + 24)
    name: str
    callsign: str
    ship_type: int
    length_m: int
    beam_m: int
    off_at: float | None = None  # seconds from start; None: on all the time


@dataclass(frozen=True)
class Target:
    id: str
    cls: str  # boat | person | vehicle | animal
    role: str  # threat | legit | patrol | animal
    path: Path
    ais: AisProfile | None = None

    def transmits(self, times: np.ndarray) -> np.ndarray:
        """Whether the AIS transponder is on at ``times``."""
        times = np.asarray(times, dtype=float)
        if self.ais is None:
            return np.zeros(times.shape, dtype=bool)
        if self.ais.off_at is None:
            return np.ones(times.shape, dtype=bool)
        return times < self.ais.off_at


BOAT_NAMES = ("DNIPRO", "PRYPIAT", "POLISSIA", "CHAIKA", "ZORIA", "VOLNA", "LEBID", "KALYNA")


class _Cast:
    """Accumulates targets with stable ids (B1, P1, V1, X1, …) in creation order."""

    def __init__(self, layout: Layout, rng: np.random.Generator, duration: float) -> None:
        self.layout = layout
        self.rng = rng
        self.duration = duration
        self.targets: list[Target] = []
        self.counts: dict[str, int] = {}
        self.mmsi_seq = 0

    def new_id(self, prefix: str) -> str:
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}{self.counts[prefix]}"

    def key_time(self, lo: float = 0.15, hi: float = 0.75) -> float:
        return float(self.rng.uniform(lo * self.duration, hi * self.duration))

    def ais(self, ais_class: str, off_at: float | None = None) -> AisProfile:
        self.mmsi_seq += 1
        mid = 272 if self.rng.random() < 0.7 else 206  # Ukraine / Belarus
        mmsi = mid * 1_000_000 + int(self.rng.integers(100_000, 999_999))
        name = f"{BOAT_NAMES[int(self.rng.integers(len(BOAT_NAMES)))]} {self.mmsi_seq}"
        length = (
            int(self.rng.integers(60, 110)) if ais_class == "A" else int(self.rng.integers(6, 14))
        )
        return AisProfile(
            mmsi=mmsi,
            ais_class=ais_class,
            name=name,
            callsign=f"UR{int(self.rng.integers(1000, 9999))}",
            ship_type=79 if ais_class == "A" else 37,
            length_m=length,
            beam_m=max(2, length // 6),
            off_at=off_at,
        )

    def add(
        self, prefix: str, cls: str, role: str, path: Path, ais: AisProfile | None = None
    ) -> Target:
        t = Target(self.new_id(prefix), cls, role, path, ais)
        self.targets.append(t)
        return t


def build_targets(
    layout: Layout, rng: np.random.Generator, duration: float, density: float = 1.0
) -> list[Target]:
    """All targets of one scenario; ``density`` scales the populations (1.0 ≈ 20 targets)."""
    cast = _Cast(layout, rng, duration)
    reps = max(1, int(round(density)))
    if layout.river_line is not None:
        x0 = 200.0 if layout.kind == "mixed" else -HALF_WIDTH_M + 200.0
        x1 = HALF_WIDTH_M - 200.0
        for _ in range(int(round(2 * density))):
            _legit_vessel(cast, x0, x1)
        for _ in range(reps):
            _dark_ferry(cast, x0, x1)
            _ais_crossing(cast, x0, x1)
            _rendezvous(cast, x0, x1)
            _goes_dark(cast, x0, x1)
    if layout.kind != "river":
        xf0, xf1 = -HALF_WIDTH_M + 400.0, (-400.0 if layout.kind == "mixed" else HALF_WIDTH_M - 400)
        for _ in range(int(round(2 * density))):
            _forest_crossing(cast, xf0, xf1, "person", inbound=True)
        for _ in range(reps):
            _forest_crossing(cast, xf0, xf1, "vehicle", inbound=False)
            _checkpoint_crossing(cast)
            _approach_and_loiter(cast, xf0, xf1)
            _restricted_intruder(cast, xf0, xf1)
        for _ in range(max(1, int(round(density)))):
            _patrol(cast, xf0, xf1)
    for _ in range(int(round(3 * density))):
        _animal(cast)
    return cast.targets


# --- river -----------------------------------------------------------------------------


def _legit_vessel(c: _Cast, x0: float, x1: float) -> None:
    """AIS traffic along our half of the river: never crosses the centreline."""
    rng = c.rng
    cls_a = rng.random() < 0.5
    speed = rng.uniform(2.0, 4.0) if cls_a else rng.uniform(3.0, 6.0)
    a, b = (x0, x1) if rng.random() < 0.5 else (x1, x0)
    pts = along_river(a, b, -rng.uniform(20.0, 40.0))
    path = route(
        pts, speed, rng, jitter_m=2.0, key=0, key_time=rng.uniform(-0.6, 0.3) * abs(b - a) / speed
    )
    c.add("B", "boat", "legit", path, c.ais("A" if cls_a else "B"))


def _dark_ferry(c: _Cast, x0: float, x1: float) -> None:
    """A dark boat crosses to our bank, lands a passenger, and goes back."""
    rng = c.rng
    x = rng.uniform(x0 + 300, x1 - 300)
    speed = rng.uniform(2.0, 3.5)
    far = river_point(x, 52.0)
    near = river_point(x + rng.uniform(-40, 40), -52.0)
    back = river_point(x + rng.uniform(-80, 80), 52.0)
    t_land = c.key_time(0.2, 0.6)
    dwell = rng.uniform(40.0, 90.0)
    c.add(
        "B",
        "boat",
        "threat",
        route([far, near, back], speed, rng, dwells=[30.0, dwell, 0.0], key=1, key_time=t_land),
    )
    # the passenger walks inland from the landing point
    inland = (near[0] + rng.uniform(-300, 300), near[1] - rng.uniform(800, 1500))
    c.add(
        "P",
        "person",
        "threat",
        route(
            [near, inland],
            rng.uniform(1.0, 1.5),
            rng,
            dwells=[5.0, 0.0],
            jitter_m=4.0,
            key=0,
            key_time=t_land + 1.0,
        ),
    )


def _ais_crossing(c: _Cast, x0: float, x1: float) -> None:
    """A class B boat with AIS on goes from our bank over to the far bank."""
    rng = c.rng
    x = rng.uniform(x0 + 300, x1 - 300)
    pts = [
        river_point(x, -50.0),
        river_point(x + rng.uniform(100, 300), -10.0),
        river_point(x + rng.uniform(350, 600), 45.0),
    ]
    c.add(
        "B",
        "boat",
        "threat",
        route(
            pts, rng.uniform(2.5, 4.0), rng, dwells=[20.0, 0.0, 60.0], key=1, key_time=c.key_time()
        ),
        c.ais("B"),
    )


# Where the rendezvous boats wait, metres over the centreline on the far half. It used to be
# 12 m, with the near boat 8 m over: a "crossing" of 8 m, and a far boat 12 m off the line,
# that no radar (σ 10–20 m at those ranges) can tell apart — the truth then demanded a
# crossing alert for one and forbade it for the other. 30 m keeps the situation (the near
# boat slips across to meet a dark boat on the far half) and makes it observable.
RDV_OFFSET_M = 30.0


def _rendezvous(c: _Cast, x0: float, x1: float) -> None:
    """Two boats meet on the far half of the river and wait together; the far one is dark."""
    rng = c.rng
    x = rng.uniform(x0 + 500, x1 - 500)
    meet = river_point(x, RDV_OFFSET_M)
    t_meet = c.key_time(0.2, 0.6)
    stay = rng.uniform(90.0, 150.0)
    far0 = river_point(x - rng.uniform(300, 600), 45.0)
    far1 = river_point(x + rng.uniform(300, 600), 45.0)
    c.add(
        "X",
        "boat",
        "threat",
        route(
            [far0, meet, far1],
            rng.uniform(2.0, 3.0),
            rng,
            dwells=[0.0, stay, 0.0],
            jitter_m=2.0,
            key=1,
            key_time=t_meet,
        ),
    )
    near0 = river_point(x + rng.uniform(-200, 200), -45.0)
    meet2 = (meet[0] + 8.0, meet[1] - 4.0)
    other_ais = c.ais("B") if rng.random() < 0.5 else None
    c.add(
        "X",
        "boat",
        "threat",
        route(
            [near0, meet2, near0],
            rng.uniform(2.0, 3.0),
            rng,
            dwells=[0.0, stay - 20, 0.0],
            key=1,
            key_time=t_meet + 10.0,
        ),
        other_ais,
    )


def _goes_dark(c: _Cast, x0: float, x1: float) -> None:
    """A class A vessel on our half switches AIS off, then slips across to the far bank."""
    rng = c.rng
    x_off = rng.uniform(x0 + 800, x1 - 800)
    t_off = c.key_time(0.25, 0.6)
    speed = rng.uniform(2.5, 3.5)
    pts = along_river(x_off - 1200.0, x_off, -30.0)
    pts += [river_point(x_off + 200.0, 40.0), river_point(x_off + 600.0, 40.0)]
    key = len(pts) - 3
    c.add(
        "B",
        "boat",
        "threat",
        route(
            pts,
            speed,
            rng,
            dwells=[0.0] * (len(pts) - 1) + [120.0],
            jitter_m=2.0,
            key=key,
            key_time=t_off,
        ),
        c.ais("A", off_at=t_off),
    )


# --- forest ----------------------------------------------------------------------------


def _nearest_seismic(c: _Cast, x: float) -> tuple[float, float] | None:
    best: tuple[float, float] | None = None
    for s in c.layout.sensors:
        if s["type"] != "seismic":
            continue
        e, n = c.layout.sensor_en(s)
        if best is None or abs(e - x) < abs(best[0] - x):
            best = (e, n)
    return best


def _forest_crossing(c: _Cast, xa: float, xb: float, cls: str, inbound: bool) -> None:
    """People (inbound) or a vehicle (outbound) crossing the green border off the roads,
    along a trail that passes a seismic sensor (sensors are laid on the likely trails)."""
    rng = c.rng
    kind = c.layout.kind
    for _ in range(20):  # keep clear of the checkpoint, which is a legal crossing
        x = rng.uniform(xa, xb)
        if abs(x + 3000.0) > 400.0:
            break
    sensor = _nearest_seismic(c, x)
    trail = (
        (sensor[0] + rng.uniform(-25, 25), sensor[1] + rng.uniform(-25, 25))
        if sensor
        else off_border(kind, x, -80.0)
    )
    far = off_border(kind, x + rng.uniform(-400, 400), rng.uniform(900, 1600))
    pre = off_border(kind, trail[0] + rng.uniform(-30, 30), 60.0)
    inland = off_border(kind, x + rng.uniform(-600, 600), -rng.uniform(1500, 2500))
    pts = [far, pre, trail, inland]
    speed = rng.uniform(1.0, 1.6) if cls == "person" else rng.uniform(4.0, 7.0)
    jitter = 5.0 if cls == "person" else 2.0
    if not inbound:
        pts = pts[::-1]
    key = 2 if inbound else 1
    path = route(pts, speed, rng, jitter_m=jitter, key=key, key_time=c.key_time(0.3, 0.8))
    c.add("P" if cls == "person" else "V", cls, "threat", path)


def _checkpoint_crossing(c: _Cast) -> None:
    """A vehicle crosses legally through the checkpoint after a stop: no crossing alert."""
    rng = c.rng
    kind = c.layout.kind
    if kind == "river":
        return
    x = -3000.0
    pts = [
        off_border(kind, x, 2500.0),
        off_border(kind, x, 40.0),
        off_border(kind, x, -40.0),
        off_border(kind, x - 200.0, -2500.0),
    ]
    c.add(
        "V",
        "vehicle",
        "legit",
        route(
            pts,
            rng.uniform(8.0, 12.0),
            rng,
            dwells=[0.0, 60.0, 20.0, 0.0],
            key=1,
            key_time=c.key_time(),
        ),
    )


def _approach_and_loiter(c: _Cast, xa: float, xb: float) -> None:
    """Someone on the far side walks up to the border, hangs about, and turns back."""
    rng = c.rng
    kind = c.layout.kind
    x = rng.uniform(xa, xb)
    far = off_border(kind, x, rng.uniform(1000, 1500))
    near = off_border(kind, x + rng.uniform(-50, 50), rng.uniform(30, 60))
    pts = [far, near]
    for _ in range(3):  # shuffle about near the border
        pts.append(off_border(kind, near[0] + rng.uniform(-15, 15), rng.uniform(30, 55)))
    pts.append(off_border(kind, x + rng.uniform(-400, 400), rng.uniform(1000, 1500)))
    dwells = [0.0, 40.0, 30.0, 30.0, 30.0, 0.0]
    c.add(
        "P",
        "person",
        "threat",
        route(
            pts,
            [1.3, 0.3, 0.3, 0.3, 1.3],
            rng,
            dwells=dwells,
            jitter_m=4.0,
            key=1,
            key_time=c.key_time(0.2, 0.5),
        ),
    )


def _restricted_intruder(c: _Cast, xa: float, xb: float) -> None:
    """A person on our side walks into the restricted forestry depot."""
    rng = c.rng
    zone = next((z for z in c.layout.zones_of("restricted") if z.id == "restricted-2"), None)
    if zone is None:
        return
    cx, cy = zone.geom.centroid.x, zone.geom.centroid.y
    start = (cx + rng.uniform(-900, 900), cy - rng.uniform(900, 1400))
    inside = (cx + rng.uniform(-60, 60), cy + rng.uniform(-40, 40))
    out = (cx + rng.uniform(-900, 900), cy - rng.uniform(900, 1400))
    c.add(
        "P",
        "person",
        "threat",
        route(
            [start, inside, out],
            rng.uniform(1.0, 1.4),
            rng,
            dwells=[0.0, 60.0, 0.0],
            jitter_m=4.0,
            key=1,
            key_time=c.key_time(0.35, 0.8),
        ),
    )


def _patrol(c: _Cast, xa: float, xb: float) -> None:
    """A foot patrol along the strip and a vehicle patrol on the rear road, our side."""
    rng = c.rng
    kind = c.layout.kind
    x = rng.uniform(xa, xb - 1500)
    foot = [off_border(kind, float(xx), -150.0) for xx in np.linspace(x, x + 1500, 16)]
    c.add(
        "P",
        "person",
        "patrol",
        route(
            foot + foot[::-1][1:],
            1.2,
            rng,
            jitter_m=3.0,
            key=0,
            key_time=rng.uniform(-0.3, 0.2) * c.duration,
        ),
        None,
    )
    road = [off_border(kind, float(xx), -600.0) for xx in np.linspace(xa, xb, 30)]
    if rng.random() < 0.5:
        road = road[::-1]
    c.add(
        "V",
        "vehicle",
        "patrol",
        route(
            road,
            rng.uniform(8.0, 11.0),
            rng,
            jitter_m=1.0,
            key=0,
            key_time=rng.uniform(0.0, 0.5) * c.duration,
        ),
    )


# --- background ------------------------------------------------------------------------


def _animal(c: _Cast) -> None:
    """Deer or boar wandering on one side, grazing between moves; never crosses."""
    rng = c.rng
    lay = c.layout
    border = lay.border
    side = -1.0 if rng.random() < 0.5 else 1.0
    x = rng.uniform(-HALF_WIDTH_M + 500, HALF_WIDTH_M - 500)
    pts = [off_border(lay.kind, x, side * rng.uniform(150, 1000))]
    for _ in range(200):  # bounded: rejection sampling of legs that would cross
        if len(pts) >= 8:
            break
        e = pts[-1][0] + rng.uniform(-200, 200)
        e = float(np.clip(e, -HALF_WIDTH_M + 100, HALF_WIDTH_M - 100))
        cand = (e, float(border_y(lay.kind, e)) + side * rng.uniform(120, 1000))
        leg = shapely.LineString([pts[-1], cand])
        if leg.intersects(border) or (not lay.water.is_empty and leg.intersects(lay.water)):
            continue
        pts.append(cand)
    dwells = rng.uniform(10.0, 60.0, len(pts))
    path = route(
        pts,
        rng.uniform(0.4, 1.5),
        rng,
        dwells=dwells.tolist(),
        jitter_m=3.0,
        key=0,
        key_time=rng.uniform(-0.5, 0.6) * c.duration,
    )
    c.add("N", "animal", "animal", path)
