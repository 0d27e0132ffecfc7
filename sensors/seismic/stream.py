"""Streaming STA/LTA detector for seismic waveform frames (DESIGN §4 seismic readings).

``SeismicDetector(rate_hz, params).feed(samples, t0)`` takes frames of any length and returns
the detections completed so far as DESIGN §4 seismic event dicts. All state that links one
frame to the next — band-pass filter memory, STA and LTA, trigger on/off, the open and the
not-yet-emitted detection, and the band-passed samples they span — is carried, so splitting a
stream into frames changes nothing (see ``tests/sensors/test_seismic_stream.py``), and
``snapshot()``/``restore()`` move that state through JSON (a Faust table, a restart).

A trigger is the run of samples between STA/LTA rising above ``on`` and falling below
``off``; runs closer than ``merge_gap_s`` merge (a walker's steps are one detection), so a
detection is reported once the signal has stayed quiet for ``merge_gap_s``, or at
``flush()``. A frame whose ``t0`` is not where the previous one ended (a gap or overlap)
flushes and restarts the detector: the filters must not bridge missing data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

from sensors.seismic.classify import classify
from sensors.seismic.filters import bandpass_sos, sta_lta, trigger_mask
from sensors.seismic.params import DetectorParams

__all__ = ["Detection", "SeismicDetector"]

log = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class Detection:
    """A detection with its sample span ``[start, end)`` in stream sample indices."""

    start: int
    end: int
    event: dict[str, Any]


class SeismicDetector:
    """Band-pass → recursive STA/LTA → hysteresis trigger → merge → classify, per sensor."""

    _zi: np.ndarray | None
    _open: int | None
    _pending: tuple[int, int] | None
    _t_ref: float | None

    def __init__(
        self, rate_hz: float, params: DetectorParams | None = None, sensor_id: str = ""
    ) -> None:
        if not rate_hz > 0:
            raise ValueError(f"sample rate must be positive, got {rate_hz}")
        self.rate_hz = float(rate_hz)
        self.params = params or DetectorParams()
        self.sensor_id = sensor_id
        p, r = self.params, self.rate_hz
        self._sos = bandpass_sos(p.lo_hz, p.hi_hz, r, p.order)
        self._nsta = max(1, round(p.sta_s * r))
        self._nlta = max(self._nsta + 1, round(p.lta_s * r))
        self._warm = max(round(p.warmup_s * r), self._nsta)
        self._merge_n = round(p.merge_gap_s * r)
        self._max_n = max(1, round(p.max_event_s * r))
        self._min_n = round(p.min_duration_s * r)
        self._gap_tol = max(p.gap_tolerance_s, 1.5 / r)
        self._reset()

    # -- public API -------------------------------------------------------------------------

    def feed(self, samples: np.ndarray, t0: float) -> list[dict[str, Any]]:
        """Process one frame (first sample at UTC ``t0``); return completed detections."""
        return [d.event for d in self.feed_detections(samples, t0)]

    def flush(self) -> list[dict[str, Any]]:
        """End of stream: close the open detection and report everything pending."""
        return [d.event for d in self.flush_detections()]

    def snapshot(self) -> dict[str, Any]:
        """All carried state as a JSON-serialisable dict."""
        return {
            "version": SNAPSHOT_VERSION,
            "sensor_id": self.sensor_id,
            "rate_hz": self.rate_hz,
            "params": self.params.to_dict(),
            "zi": self._zi.tolist() if self._zi is not None else None,
            "stalta": list(self._stalta),
            "n": self._n,
            "active": self._active,
            "open": self._open,
            "pending": list(self._pending) if self._pending else None,
            "t_ref": self._t_ref,
            "idx_ref": self._idx_ref,
            "buf0": self._buf0,
            "buf": self._buf.tolist(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a :meth:`snapshot` (same rate and parameters) into this detector."""
        if state.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported detector snapshot version {state.get('version')}")
        if float(state["rate_hz"]) != self.rate_hz:
            raise ValueError(f"snapshot is for {state['rate_hz']} Hz, detector runs {self.rate_hz}")
        if DetectorParams.from_dict(state["params"]) != self.params:
            raise ValueError("snapshot was taken with different detector parameters")
        self.sensor_id = state.get("sensor_id", self.sensor_id)
        zi = state["zi"]
        self._zi = None if zi is None else np.asarray(zi, dtype=np.float64).reshape(-1, 2)
        self._stalta = (float(state["stalta"][0]), float(state["stalta"][1]))
        self._n = int(state["n"])
        self._active = bool(state["active"])
        self._open = None if state["open"] is None else int(state["open"])
        pend = state["pending"]
        self._pending = None if pend is None else (int(pend[0]), int(pend[1]))
        self._t_ref = None if state["t_ref"] is None else float(state["t_ref"])
        self._idx_ref = int(state["idx_ref"])
        self._buf0 = int(state["buf0"])
        self._buf = np.asarray(state["buf"], dtype=np.float64)

    @classmethod
    def from_snapshot(cls, state: dict[str, Any]) -> SeismicDetector:
        """A detector rebuilt from a :meth:`snapshot`."""
        det = cls(state["rate_hz"], DetectorParams.from_dict(state["params"]), state["sensor_id"])
        det.restore(state)
        return det

    # -- internals --------------------------------------------------------------------------

    def _reset(self) -> None:
        self._zi = None
        self._stalta = (0.0, 0.0)
        self._n = 0
        self._active = False
        self._open = None
        self._pending = None
        self._t_ref = None
        self._idx_ref = 0
        self._buf0 = 0
        self._buf = np.zeros(0)

    def _time(self, idx: int) -> float:
        assert self._t_ref is not None
        return self._t_ref + (idx - self._idx_ref) / self.rate_hz

    def feed_detections(self, samples: np.ndarray, t0: float) -> list[Detection]:
        """As :meth:`feed`, keeping the sample spans (for offline re-analysis)."""
        x = np.asarray(samples, dtype=np.float64).ravel()
        out: list[Detection] = []
        if x.size == 0:
            return out
        if self._t_ref is not None and abs(t0 - self._time(self._n)) > self._gap_tol:
            log.info(
                "seismic %s: frame at %.3f, expected %.3f: flushing and restarting",
                self.sensor_id,
                t0,
                self._time(self._n),
            )
            out += self.flush_detections()
            self._reset()
        self._t_ref, self._idx_ref = float(t0), self._n
        if self._zi is None:  # steady state for the first sample: no DC step transient
            self._zi = signal.sosfilt_zi(self._sos) * x[0]
        y, self._zi = signal.sosfilt(self._sos, x, zi=self._zi)
        n0 = self._n
        cft, self._stalta = sta_lta(y, self._nsta, self._nlta, self._stalta, n0, self._warm)
        mask = trigger_mask(cft, self.params.on, self.params.off, self._active)
        edges = np.diff(np.concatenate(([self._active], mask)).astype(np.int8))
        self._active = bool(mask[-1])
        self._buf = np.concatenate([self._buf, y])
        self._n = n0 + len(x)
        # A loop over trigger edges (a handful per frame), not over samples.
        for idx in np.flatnonzero(edges):
            out += self._split_long(n0 + int(idx))
            if edges[idx] > 0:
                out += self._on(n0 + int(idx))
            else:
                self._off(n0 + int(idx))
        out += self._split_long(self._n)
        if self._pending and self._n - self._pending[1] > self._merge_n:
            out += self._emit(*self._pending)
            self._pending = None
        self._trim()
        return out

    def _split_long(self, idx: int) -> list[Detection]:
        out: list[Detection] = []
        while self._open is not None and idx - self._open > self._max_n:
            cut = self._open + self._max_n
            out += self._emit(self._open, cut)
            self._open = cut
        return out

    def _on(self, idx: int) -> list[Detection]:
        out: list[Detection] = []
        if self._pending is not None:
            start, end = self._pending
            self._pending = None
            if idx - end <= self._merge_n:
                self._open = start
                return out
            out += self._emit(start, end)
        self._open = idx
        return out

    def _off(self, idx: int) -> None:
        if self._open is not None and idx > self._open:
            self._pending = (self._open, idx)
        self._open = None

    def flush_detections(self) -> list[Detection]:
        """As :meth:`flush`, keeping the sample spans."""
        if self._open is not None:
            self._off(self._n)
        out: list[Detection] = []
        if self._pending is not None:
            out += self._emit(*self._pending)
            self._pending = None
        self._active = False
        self._trim()
        return out

    def _trim(self) -> None:
        keep = min(
            v for v in (self._open, self._pending and self._pending[0], self._n) if v is not None
        )
        if keep > self._buf0:
            self._buf = self._buf[keep - self._buf0 :]
            self._buf0 = keep

    def _emit(self, start: int, end: int) -> list[Detection]:
        if end - start < max(self._min_n, 1):
            return []
        seg = self._buf[start - self._buf0 : end - self._buf0]
        return [Detection(start, end, self._event(seg, start, end))]

    def _event(self, seg: np.ndarray, start: int, end: int) -> dict[str, Any]:
        cls = classify(seg, self.rate_hz)
        return {
            "sensor_id": self.sensor_id,
            "t": self._time(start),
            "kind": cls.kind,
            "energy": float(np.sum(np.square(seg)) / self.rate_hz),
            "duration_s": (end - start) / self.rate_hz,
            "confidence": cls.confidence,
        }
