"""Offline detection over whole traces and coincidence across stations.

Triggers come from the same causal chain as the streaming detector (so a file and a live feed
agree, and onset times are not pulled early by an acausal filter); the energy and class of
each detection are then measured on the zero-phase (``sosfiltfilt``) band-passed trace, whose
envelope is not delayed or skewed by the filter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensors.seismic.classify import classify
from sensors.seismic.filters import bandpass
from sensors.seismic.mseed import Trace
from sensors.seismic.params import DetectorParams
from sensors.seismic.stream import SeismicDetector

__all__ = ["ChannelDetection", "Coincidence", "coincidence", "detect_trace", "iso_utc"]


@dataclass(frozen=True)
class ChannelDetection:
    """One trigger on one channel."""

    station: str  # NET.STA: channels of one station count once for coincidence
    channel: str  # NET.STA.LOC.CHA
    t_on: float
    t_off: float
    kind: str
    confidence: float
    energy: float


@dataclass
class Coincidence:
    """Triggers on at least ``min_stations`` stations that overlap in time."""

    t_on: float
    t_off: float
    stations: list[str]
    channels: list[str]
    kind: str
    confidence: float
    members: list[ChannelDetection] = field(repr=False, default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``borderfusion seismic detect`` output line (DESIGN §7)."""
        return {
            "time": iso_utc(self.t_on),
            "duration_s": round(self.t_off - self.t_on, 4),
            "stations": self.stations,
            "kind": self.kind,
            "confidence": round(self.confidence, 3),
            "channels": self.channels,
        }


def iso_utc(t: float) -> str:
    """ISO 8601 UTC with microseconds and a ``Z``."""
    s = dt.datetime.fromtimestamp(t, tz=dt.UTC).isoformat(timespec="microseconds")
    return s.replace("+00:00", "Z")


def detect_trace(trace: Trace, params: DetectorParams | None = None) -> list[ChannelDetection]:
    """All detections on one trace."""
    params = params or DetectorParams()
    det = SeismicDetector(trace.rate_hz, params, sensor_id=trace.id)
    spans = det.feed_detections(trace.samples, trace.starttime)
    spans += det.flush_detections()
    if not spans:
        return []
    y = bandpass(trace.samples, params.lo_hz, params.hi_hz, trace.rate_hz, params.order)
    station = f"{trace.network}.{trace.station}"
    out = []
    for d in spans:
        seg = y[d.start : d.end]
        cls = classify(seg, trace.rate_hz)
        out.append(
            ChannelDetection(
                station=station,
                channel=trace.id,
                t_on=trace.starttime + d.start / trace.rate_hz,
                t_off=trace.starttime + d.end / trace.rate_hz,
                kind=cls.kind,
                confidence=cls.confidence,
                energy=float(np.sum(np.square(seg)) / trace.rate_hz),
            )
        )
    return out


def coincidence(
    detections: list[ChannelDetection], min_stations: int = 1, window_s: float = 1.0
) -> list[Coincidence]:
    """Group detections whose spans overlap (or lie within ``window_s``) into events.

    A group becomes an event when it holds at least ``min_stations`` distinct stations. Its
    class is the class most detections agree on (confidence-weighted); ties are ``unknown``.
    """
    dets = sorted(detections, key=lambda d: d.t_on)
    groups: list[list[ChannelDetection]] = []
    end = -np.inf
    for d in dets:  # one pass over detections (few), not samples
        if groups and d.t_on <= end + window_s:
            groups[-1].append(d)
            end = max(end, d.t_off)
        else:
            groups.append([d])
            end = d.t_off
    out = []
    for g in groups:
        stations = sorted({d.station for d in g})
        if len(stations) < min_stations:
            continue
        votes: dict[str, float] = {}
        for d in g:
            if d.kind != "unknown":
                votes[d.kind] = votes.get(d.kind, 0.0) + d.confidence
        ranked = sorted(votes.items(), key=lambda kv: -kv[1])
        if not ranked or ranked[0][1] == 0 or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
            kind = "unknown"
            conf = float(np.mean([d.confidence for d in g if d.kind == "unknown"] or [0.0]))
        else:
            kind = ranked[0][0]
            conf = ranked[0][1] / sum(d.confidence for d in g)
        out.append(
            Coincidence(
                t_on=min(d.t_on for d in g),
                t_off=max(d.t_off for d in g),
                stations=stations,
                channels=sorted({d.channel for d in g}),
                kind=kind,
                confidence=conf,
                members=g,
            )
        )
    return out
