"""Synthetic ground-sensor signals: footsteps, a passing vehicle, background noise.

For tests and the scenario simulator: simple physical caricatures, not a propagation model.
A footstep is a short damped resonance of the ground/geophone (tens of Hz, ~0.1 s); a walker
repeats it at a cadence with some jitter. A vehicle is a few engine/tyre tones with a smooth
amplitude envelope as it approaches and leaves.
"""

from __future__ import annotations

import numpy as np

__all__ = ["noise", "footsteps", "vehicle"]


def noise(n: int, rng: np.random.Generator, sigma: float = 1.0) -> np.ndarray:
    """White Gaussian background noise."""
    return rng.normal(0.0, sigma, n)


def footsteps(
    rate_hz: float,
    duration_s: float,
    rng: np.random.Generator,
    cadence_hz: float = 2.0,
    amplitude: float = 10.0,
    resonance_hz: float = 25.0,
    decay_s: float = 0.03,
    jitter_s: float = 0.02,
) -> np.ndarray:
    """A walker: damped ``resonance_hz`` pulses at ``cadence_hz`` for ``duration_s``."""
    n = int(duration_s * rate_hz)
    out = np.zeros(n)
    t = np.arange(int(6 * decay_s * rate_hz)) / rate_hz
    pulse = np.exp(-t / decay_s) * np.sin(2 * np.pi * resonance_hz * t)
    times = np.arange(0.2, duration_s - 0.2, 1.0 / cadence_hz)
    times = times + rng.normal(0.0, jitter_s, len(times))
    amps = amplitude * rng.uniform(0.7, 1.3, len(times))
    for t0, a in zip(times, amps, strict=True):  # a few pulses, not samples
        i = int(t0 * rate_hz)
        m = min(len(pulse), n - i)
        if 0 <= i < n:
            out[i : i + m] += a * pulse[:m]
    return out


def vehicle(
    rate_hz: float,
    duration_s: float,
    rng: np.random.Generator,
    tones_hz: tuple[float, ...] = (18.0, 36.0),
    amplitude: float = 8.0,
) -> np.ndarray:
    """A vehicle passing by: tones under a smooth rise-and-fall envelope (peak mid-way)."""
    n = int(duration_s * rate_hz)
    t = np.arange(n) / rate_hz
    env = amplitude * np.exp(-0.5 * ((t - duration_s / 2) / (duration_s / 5)) ** 2)
    x = np.zeros(n)
    for k, f in enumerate(tones_hz):
        x += np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / (k + 1)
    return env * x
