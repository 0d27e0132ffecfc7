"""Shared pieces of the sensor models: the reading record and sensor-relative geometry."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from fusion.geodesy import LocalFrame

from .layout import Layout


class SimReading(NamedTuple):
    """One simulated reading. ``origin`` is the target id that caused it, or ``None`` for
    clutter; it stays in memory (tests, scoring of sensor models) and is never written."""

    t: float
    topic: str
    value: dict[str, Any]
    origin: str | None


class SensorView:
    """Range and bearing of layout-frame positions as seen from one sensor.

    Goes through WGS84 and the sensor's own tangent plane (fusion.geodesy), so bearings
    are true north at the sensor, exactly as a real sensor reports them.
    """

    def __init__(self, layout: Layout, sensor: dict[str, Any]) -> None:
        self.layout = layout
        self.sensor = sensor
        self.frame = LocalFrame(float(sensor["lat"]), float(sensor["lon"]))

    def polar(self, e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lat, lon = self.layout.frame.to_latlon(e, n)
        se, sn = self.frame.to_en(lat, lon)
        return np.hypot(se, sn), np.degrees(np.arctan2(se, sn)) % 360.0

    def to_layout(
        self, range_m: np.ndarray, bearing_deg: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        b = np.radians(bearing_deg)
        lat, lon = self.frame.to_latlon(range_m * np.sin(b), range_m * np.cos(b))
        return self.layout.frame.to_en(lat, lon)


def wrap_deg(x: np.ndarray) -> np.ndarray:
    """Degrees into [0, 360) after rounding to 0.001°, so 359.999 never prints as 360.0."""
    return np.round(np.asarray(x) % 360.0, 3) % 360.0


def angle_diff(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """Signed smallest difference a − b in degrees, in (−180, 180]."""
    return (np.asarray(a) - b + 180.0) % 360.0 - 180.0
