"""Band-pass, recursive STA/LTA and hysteresis triggering, as whole-array operations.

Every function takes and returns explicit state so that the streaming detector can process
frames of any length and get the same result as one long array: the filters are IIR
(``scipy.signal.sosfilt`` / ``lfilter`` with ``zi``) and the trigger state machine is a
forward fill over threshold events, so no Python loop runs per sample.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = [
    "bandpass_sos",
    "bandpass",
    "sta_lta",
    "trigger_mask",
    "mask_runs",
    "envelope",
]


def bandpass_sos(lo_hz: float, hi_hz: float, rate_hz: float, order: int = 4) -> np.ndarray:
    """Butterworth band-pass as second-order sections.

    ``hi_hz`` at or above 0.95 × Nyquist degrades to a high-pass (the band edge cannot be
    realised); ``lo_hz <= 0`` gives a low-pass.
    """
    nyq = 0.5 * rate_hz
    hi = min(hi_hz, 0.95 * nyq) if hi_hz > 0 else 0.95 * nyq
    if lo_hz <= 0:
        return signal.butter(order, hi, btype="lowpass", fs=rate_hz, output="sos")
    if lo_hz >= hi:
        raise ValueError(f"band-pass {lo_hz}-{hi_hz} Hz is empty at {rate_hz} Hz sampling")
    if hi_hz >= 0.95 * nyq:
        return signal.butter(order, lo_hz, btype="highpass", fs=rate_hz, output="sos")
    return signal.butter(order, [lo_hz, hi], btype="bandpass", fs=rate_hz, output="sos")


def bandpass(
    x: np.ndarray, lo_hz: float, hi_hz: float, rate_hz: float, order: int = 4
) -> np.ndarray:
    """Zero-phase (forward-backward) band-pass for offline use."""
    sos = bandpass_sos(lo_hz, hi_hz, rate_hz, order)
    x = np.asarray(x, dtype=np.float64)
    if len(x) <= 3 * (2 * len(sos) + 1):
        return signal.sosfilt(sos, x - x.mean())
    return signal.sosfiltfilt(sos, x - x.mean())


def _recursive_mean(e: np.ndarray, n: int, state: float, n_before: int) -> tuple[np.ndarray, float]:
    """Exponential mean with time constant ``n`` samples, started as an expanding mean.

    For the first ``n`` samples of a stream the average is the plain mean of everything seen
    so far (``cumsum / count``), so the LTA is usable after a few seconds instead of only
    after one full LTA window; afterwards ``m[k] = e[k]/n + (1 - 1/n) m[k-1]``, a first-order
    IIR filter run by ``lfilter`` with carried state. Both parts depend only on the global
    sample index, so any framing of the stream gives the same numbers.
    """
    out = np.empty_like(e)
    k = min(max(n - n_before, 0), len(e))
    if k:
        count = n_before + np.arange(1, k + 1)
        out[:k] = (state * n_before + np.cumsum(e[:k])) / count
        state = float(out[k - 1])
    if k < len(e):
        c = 1.0 / n
        out[k:], _ = signal.lfilter([c], [1.0, c - 1.0], e[k:], zi=[(1.0 - c) * state])
        state = float(out[-1])
    return out, state


def sta_lta(
    x: np.ndarray,
    nsta: int,
    nlta: int,
    state: tuple[float, float] = (0.0, 0.0),
    n_before: int = 0,
    warmup: int | None = None,
) -> tuple[np.ndarray, tuple[float, float]]:
    """Recursive STA/LTA characteristic function (Withers et al. 1998, as in ObsPy).

    ``sta[n] = x²[n]/nsta + (1 - 1/nsta) sta[n-1]``, likewise the LTA (see
    :func:`_recursive_mean` for the start of a stream). ``state`` is ``(sta, lta)`` of the
    sample before ``x``; ``n_before`` counts the samples already seen. The ratio is 0 for
    the first ``warmup`` samples of a stream (default ``nlta``, as ObsPy does).
    """
    e = np.square(np.asarray(x, dtype=np.float64))
    sta, s_sta = _recursive_mean(e, nsta, state[0], n_before)
    lta, s_lta = _recursive_mean(e, nlta, state[1], n_before)
    with np.errstate(divide="ignore", invalid="ignore"):
        cft = np.where(lta > 0, sta / np.where(lta > 0, lta, 1.0), 0.0)
    warm = (nlta if warmup is None else warmup) - n_before
    if warm > 0:
        cft[:warm] = 0.0
    return cft, (s_sta, s_lta)


def trigger_mask(cft: np.ndarray, on: float, off: float, active: bool = False) -> np.ndarray:
    """Boolean "triggered" per sample: switches on above ``on``, off below ``off``.

    Vectorised hysteresis: mark on/off events, forward-fill the index of the last event,
    and read its type. ``active`` is the state before the first sample.
    """
    if off > on:
        raise ValueError(f"off threshold {off} must not exceed on threshold {on}")
    ev = np.where(cft > on, 1, np.where(cft < off, -1, 0))
    idx = np.where(ev != 0, np.arange(len(ev)), -1)
    np.maximum.accumulate(idx, out=idx)
    state = np.where(idx >= 0, ev[np.maximum(idx, 0)] == 1, active)
    return state


def mask_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end indices (end exclusive) of the True runs of a boolean array."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def envelope(x: np.ndarray) -> np.ndarray:
    """Amplitude envelope (modulus of the analytic signal)."""
    return np.abs(signal.hilbert(np.asarray(x, dtype=np.float64)))
