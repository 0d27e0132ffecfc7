"""Camera geometry: image position to bearing and depression, depression to ground range.

A pinhole model: a point at normalised image x (-1 left edge .. +1 right edge) lies
``atan(x * tan(fov/2))`` off the optical axis, so the centre is the heading and the edges
are heading -/+ fov/2 exactly; likewise vertically with ONVIF's y (+1 top .. -1 bottom).
The small coupling between tilt and horizontal angle is ignored (< 0.5 deg for a tilt under
10 deg at the image edge), as is earth curvature for ground range (< 1 m error at 3 km
from a 10 m mast). All functions take scalars or NumPy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Floats = float | NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CameraParams:
    """What the decoder needs to know about one camera (from the sensor registry).

    ``heading_deg``: true bearing of the optical axis; ``fov_deg``: horizontal field of
    view; ``vfov_deg``: vertical field of view (default ``fov_deg * 0.75``, a 4:3 sensor);
    ``tilt_deg``: elevation of the optical axis, negative when looking down;
    ``image_width_px``: for cameras that report pixel columns (see :func:`normalise_x`).
    """

    sensor_id: str
    heading_deg: float
    fov_deg: float
    height_m: float
    vfov_deg: float | None = None
    tilt_deg: float = 0.0
    image_width_px: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.fov_deg < 180.0:
            raise ValueError(f"{self.sensor_id}: fov_deg must be in (0, 180), got {self.fov_deg}")
        if self.vfov_deg is not None and not 0.0 < self.vfov_deg < 180.0:
            raise ValueError(f"{self.sensor_id}: vfov_deg must be in (0, 180)")
        if self.height_m < 0.0:
            raise ValueError(f"{self.sensor_id}: height_m must not be negative")

    @property
    def vertical_fov_deg(self) -> float:
        return self.vfov_deg if self.vfov_deg is not None else self.fov_deg * 0.75


def _out(x: NDArray[np.float64]) -> Floats:
    return float(x) if x.ndim == 0 else x


def bearing_from_pixel(x_norm: ArrayLike, camera: CameraParams) -> Floats:
    """True bearing (deg, [0, 360)) of normalised image x; centre 0 is the heading.

    >>> cam = CameraParams("T1", heading_deg=350.0, fov_deg=40.0, height_m=10.0)
    >>> bearing_from_pixel([-1.0, 0.0, 1.0], cam).round(6).tolist()
    [330.0, 350.0, 10.0]
    """
    x = np.asarray(x_norm, dtype=np.float64)
    off = np.degrees(np.arctan(x * np.tan(np.radians(camera.fov_deg) / 2.0)))
    return _out(np.mod(camera.heading_deg + off, 360.0))


def depression_from_pixel(y_norm: ArrayLike, camera: CameraParams) -> Floats:
    """Angle below the horizon (deg) of normalised image y (ONVIF: +1 top, -1 bottom).

    Positive below the horizon; zero or negative means the ray never meets the ground.
    """
    y = np.asarray(y_norm, dtype=np.float64)
    elev = np.degrees(np.arctan(y * np.tan(np.radians(camera.vertical_fov_deg) / 2.0)))
    return _out(-(camera.tilt_deg + elev))


def ground_range_from_depression(depression_deg: ArrayLike, height_m: ArrayLike) -> Floats:
    """Horizontal distance (m) to where a ray ``depression_deg`` below horizontal meets
    flat ground ``height_m`` below the camera; NaN at or above the horizon.

    >>> round(ground_range_from_depression(45.0, 10.0), 9)
    10.0
    """
    d = np.asarray(depression_deg, dtype=np.float64)
    h = np.asarray(height_m, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(d > 0.0, h / np.tan(np.radians(np.where(d > 0.0, d, 1.0))), np.nan)
    return _out(r)


def normalise_x(x_px: ArrayLike, camera: CameraParams) -> Floats:
    """Pixel column (0 = left edge, ``image_width_px`` = right edge) to normalised x."""
    if not camera.image_width_px:
        raise ValueError(f"{camera.sensor_id}: image_width_px is not set")
    x = np.asarray(x_px, dtype=np.float64)
    return _out(2.0 * x / camera.image_width_px - 1.0)
