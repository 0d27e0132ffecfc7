"""Thermal-camera decoders: ONVIF analytics metadata to thermal readings (§4)."""

from sensors.problems import DecodeProblem
from sensors.thermal.geometry import (
    CameraParams,
    bearing_from_pixel,
    depression_from_pixel,
    ground_range_from_depression,
    normalise_x,
)
from sensors.thermal.onvif import decode_onvif_metadata, parse_utc, wrap_fragment

__all__ = [
    "CameraParams",
    "DecodeProblem",
    "bearing_from_pixel",
    "decode_onvif_metadata",
    "depression_from_pixel",
    "ground_range_from_depression",
    "normalise_x",
    "parse_utc",
    "wrap_fragment",
]
