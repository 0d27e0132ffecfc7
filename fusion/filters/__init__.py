"""Batched Kalman filtering: every function works on all tracks of a sector at once.

State layout everywhere: ``x`` (n, 4) = [east, north, vel_east, vel_north] in metres and m/s
of the sector's local frame, ``P`` (n, 4, 4).
"""

from fusion.filters.kalman import kalman_update
from fusion.filters.measurement import POLAR, POSITION, MeasurementBatch, innovations
from fusion.filters.motion import ncv_predict, ncv_process_noise, ncv_transition

__all__ = [
    "POLAR",
    "POSITION",
    "MeasurementBatch",
    "innovations",
    "kalman_update",
    "ncv_predict",
    "ncv_process_noise",
    "ncv_transition",
]
