"""Per-track class fusion: a log-likelihood vector over person/vehicle/boat/animal/unknown.

Each observation contributes a likelihood vector from what its sensor can tell (a thermal
camera's class and confidence, a seismic footstep or vehicle signature, AIS = a boat, a radar
plot on water = probably a boat); a track adds them up (naive Bayes), re-normalised and
clipped so one early, wrong report cannot lock a class in for ever.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusion.types import CLASSES

FloatArray = NDArray[np.float64]
_IDX = {c: i for i, c in enumerate(CLASSES)}
_FLOOR = -12.0  # clip: about e^-12 ~ 6e-6 relative belief
_SEISMIC = {"footstep": "person", "vehicle": "vehicle"}


def _peaked(cls: str, confidence: float) -> FloatArray:
    """Log-likelihood with ``confidence`` on ``cls`` and the rest spread evenly."""
    p = min(max(confidence, 0.2), 0.99)
    out = np.full(len(CLASSES), (1.0 - p) / (len(CLASSES) - 1))
    out[_IDX[cls]] = p
    return np.log(out)


def observation_loglik(kind: str, attrs: Mapping[str, Any]) -> FloatArray:
    """What one observation says about the class of the object it saw (uninformative = 0)."""
    if kind == "thermal" and attrs.get("class") in _IDX and attrs.get("class") != "unknown":
        return _peaked(str(attrs["class"]), float(attrs.get("confidence", 0.7)))
    if kind == "seismic" and attrs.get("seismic_kind") in _SEISMIC:
        return _peaked(_SEISMIC[str(attrs["seismic_kind"])], 0.6)
    if kind == "ais":
        return _peaked("boat", 0.95)
    if kind == "radar" and attrs.get("on_water"):
        return _peaked("boat", 0.6)
    return np.zeros(len(CLASSES))


def fuse(track_ll: FloatArray, obs_ll: FloatArray) -> FloatArray:
    """Add observation evidence to track log-likelihoods (rows), normalise max to 0, clip."""
    ll = track_ll + obs_ll
    ll = ll - ll.max(axis=-1, keepdims=True)
    return np.maximum(ll, _FLOOR)


def posterior(track_ll: FloatArray) -> FloatArray:
    """Class probabilities (rows sum to one)."""
    p = np.exp(track_ll - track_ll.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def labels(track_ll: FloatArray, min_probability: float = 0.5) -> list[str]:
    """Most probable class per track, ``unknown`` where no class reaches ``min_probability``."""
    p = posterior(np.atleast_2d(track_ll))
    best = p.argmax(axis=-1)
    ok = p[np.arange(p.shape[0]), best] >= min_probability
    return [CLASSES[b] if o else "unknown" for b, o in zip(best.tolist(), ok.tolist(), strict=True)]
