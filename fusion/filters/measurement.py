"""Measurement models, vectorised over (track, observation) pairs.

Two models share one 2-D measurement layout so a mixed batch updates in one pass:

* ``POSITION``: z = [east, north] in the sector frame (AIS, seismic, converted radar/thermal).
* ``POLAR``: z = [range, bearing] from the sensor (radar plots, thermal bearing with a
  ground-plane range); an extended-Kalman update with the exact Jacobian, which keeps the
  banana-shaped cross-range error that a converted position flattens at long range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
POSITION = 0
POLAR = 1


@dataclass
class MeasurementBatch:
    """Observations of one batch in the sector frame (m rows).

    ``pos`` is each observation's east/north (used by the spatial index for every model);
    ``z``/``r`` are in the model's own space; ``sensor`` is the sensor's east/north for POLAR.
    """

    pos: FloatArray  # (m, 2)
    z: FloatArray  # (m, 2)
    r: FloatArray  # (m, 2, 2)
    model: NDArray[np.int8]  # (m,)
    sensor: FloatArray  # (m, 2)
    t: FloatArray  # (m,)

    def __len__(self) -> int:
        return int(self.z.shape[0])

    def take(self, idx: NDArray[np.intp]) -> MeasurementBatch:
        """Rows ``idx`` (used to pair each track with an observation)."""
        return MeasurementBatch(
            self.pos[idx], self.z[idx], self.r[idx], self.model[idx], self.sensor[idx], self.t[idx]
        )


def wrap_angle(a: FloatArray) -> FloatArray:
    """Angles to (-pi, pi]."""
    return (a + np.pi) % (2.0 * np.pi) - np.pi


def innovations(
    x: FloatArray, p: FloatArray, meas: MeasurementBatch
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Innovation y (k, 2), Jacobian H (k, 2, 4) and innovation covariance S (k, 2, 2).

    Row i pairs predicted track state ``x[i]`` with measurement row i of ``meas``.
    """
    k = x.shape[0]
    h = np.zeros((k, 2, 4))
    y = meas.z - x[:, :2]
    polar = meas.model == POLAR
    if k and polar.all():  # a radar scan: the same arithmetic without the row masks
        de = x[:, 0] - meas.sensor[:, 0]
        dn = x[:, 1] - meas.sensor[:, 1]
        rng2 = np.maximum(de**2 + dn**2, 1.0)
        rng = np.sqrt(rng2)
        brg = np.arctan2(de, dn)
        y[:, 0] = meas.z[:, 0] - rng
        y[:, 1] = wrap_angle(meas.z[:, 1] - brg)
        h[:, 0, 0] = de / rng
        h[:, 0, 1] = dn / rng
        h[:, 1, 0] = dn / rng2
        h[:, 1, 1] = -de / rng2
        return y, h, _s(h, p, meas)
    h[:, 0, 0] = 1.0
    h[:, 1, 1] = 1.0
    if polar.any():
        de = x[polar, 0] - meas.sensor[polar, 0]
        dn = x[polar, 1] - meas.sensor[polar, 1]
        rng2 = np.maximum(de**2 + dn**2, 1.0)
        rng = np.sqrt(rng2)
        brg = np.arctan2(de, dn)  # bearing clockwise from north
        y[polar, 0] = meas.z[polar, 0] - rng
        y[polar, 1] = wrap_angle(meas.z[polar, 1] - brg)
        hp = np.zeros((int(polar.sum()), 2, 4))
        hp[:, 0, 0] = de / rng
        hp[:, 0, 1] = dn / rng
        hp[:, 1, 0] = dn / rng2
        hp[:, 1, 1] = -de / rng2
        h[polar] = hp
    return y, h, _s(h, p, meas)


def _s(h: FloatArray, p: FloatArray, meas: MeasurementBatch) -> FloatArray:
    """S = H P H^T + R; only the position block of P matters since H[:, :, 2:] == 0."""
    hpos = h[:, :, :2]
    return hpos @ p[:, :2, :2] @ np.swapaxes(hpos, 1, 2) + meas.r
