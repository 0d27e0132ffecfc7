"""Footstep / vehicle / unknown from the cadence and texture of a detection's envelope.

Footsteps are impulses repeated at a walking cadence (about 1.5–2.5 steps per second), so the
short-term envelope is spiky and its autocorrelation has a peak at the step period. Vehicles
give continuous energy (a smooth envelope) dominated by engine and tyre tones (a peaky
spectrum). Each cue becomes a 0..1 score; the class needs both of its cues, and anything
weak or ambiguous is ``unknown`` — a wrong class costs the coordinator more than no class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from sensors.seismic.filters import envelope

__all__ = ["Classification", "classify"]

STEP_HZ = (1.5, 2.5)
MIN_SCORE = 0.5
MIN_MARGIN = 0.2


@dataclass(frozen=True)
class Classification:
    """Class, confidence in it (0..1) and the cue scores that led there."""

    kind: str
    confidence: float
    footstep: float
    vehicle: float
    periodicity: float
    cadence_hz: float
    impulsiveness: float
    tonality: float


def _smooth(x: np.ndarray, n: float) -> np.ndarray:
    n = min(max(int(n), 1), len(x))
    return np.convolve(x, np.ones(n) / n, mode="same")


def _ramp(x: float, lo: float, hi: float) -> float:
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def classify(y: np.ndarray, rate_hz: float) -> Classification:
    """Classify a band-passed detection segment ``y`` sampled at ``rate_hz``."""
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n < 8 or not np.any(y):
        return Classification("unknown", 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    env = _smooth(envelope(y), 0.05 * rate_hz)  # keeps single steps (~0.1 s) apart
    slow = _smooth(env, 1.0 * rate_hz)  # longer than a step period: the local level
    ratio = env / np.maximum(slow, 1e-12 * env.max())
    # Impulsiveness: how far the envelope swings around its local level. Steps: ~1;
    # a steady engine: ~0.1 (only the noise ripple).
    edge = min(int(0.5 * rate_hz), n // 4)
    core = ratio[edge : n - edge] if n - 2 * edge > 8 else ratio
    swing = float(np.std(core))
    impulsive = _ramp(swing, 0.2, 0.5)

    # Cadence: the fundamental period of the envelope's swings around its local level (the
    # slow rise and fall of an approaching source removed), from the autocorrelation: the
    # first peak within 65 % of the highest one between 0.12 s and 1.2 s (so a 5 Hz rattle
    # is not mistaken for steps at a multiple of its period; with independent step jitter,
    # all multiples of the period correlate about equally).
    periodicity, cadence = 0.0, 0.0
    m = len(core)
    lo, hi = int(0.12 * rate_hz), int(1.2 * rate_hz)
    if m > 2.5 * rate_hz / STEP_HZ[0]:  # at least ~3 steps to speak of a cadence
        e = core - core.mean()
        acf = signal.correlate(e, e, mode="full", method="fft")[m - 1 :]
        acf = acf / np.maximum(acf[0], 1e-300)
        acf = acf / (1.0 - np.arange(m) / m)  # unbiased: long lags have fewer terms
        seg = acf[lo : min(hi, m // 2)]
        peaks, _ = signal.find_peaks(seg)
        if peaks.size:
            top = seg[peaks].max()
            first = peaks[np.argmax(seg[peaks] >= 0.65 * top)]
            periodicity = float(np.clip(seg[first], 0.0, 1.0))
            cadence = float(rate_hz / (first + lo))
    in_band = STEP_HZ[0] <= cadence <= STEP_HZ[1]
    periodic = _ramp(periodicity, 0.2, 0.6) if in_band else 0.0

    # Tonality: peak-to-median of the power spectrum (dB) over the band where the energy is.
    nper = int(min(n, max(64, 2 ** np.floor(np.log2(rate_hz)))))
    f, p = signal.welch(y, fs=rate_hz, nperseg=nper)
    band = p > 1e-3 * p.max()
    tonal_db = 10 * np.log10(p.max() / max(float(np.median(p[band])), 1e-300))
    tonal = _ramp(tonal_db, 8.0, 18.0)
    continuous = 1.0 - impulsive

    footstep = float(np.sqrt(impulsive * periodic))
    vehicle = float(np.sqrt(continuous * tonal)) if n >= rate_hz else 0.0
    best, other = max(footstep, vehicle), min(footstep, vehicle)
    if best < MIN_SCORE or best - other < MIN_MARGIN:
        kind, conf = "unknown", 1.0 - best
    else:
        kind, conf = ("footstep" if footstep > vehicle else "vehicle"), best
    return Classification(
        kind,
        round(conf, 3),
        round(footstep, 3),
        round(vehicle, 3),
        round(periodicity, 3),
        round(cadence, 2),
        round(swing, 3),
        round(float(tonal_db), 2),
    )
