"""Detector parameters: one typed, JSON-round-trippable object shared by batch and streaming."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["DetectorParams"]


@dataclass(frozen=True)
class DetectorParams:
    """STA/LTA detector settings (seconds and Hz, not samples, so they fit any sensor rate).

    Defaults suit ground sensors watching for people and vehicles: a 2–40 Hz band (clipped
    below Nyquist), a 0.3 s STA against a 10 s LTA, and bursts closer than ``merge_gap_s``
    (a walker's steps) merged into one detection.
    """

    lo_hz: float = 2.0
    hi_hz: float = 40.0
    order: int = 4
    sta_s: float = 0.3
    lta_s: float = 10.0
    on: float = 4.0
    off: float = 1.0
    warmup_s: float = 2.0  # no triggers in the first seconds of a stream (LTA not settled)
    merge_gap_s: float = 2.0
    max_event_s: float = 60.0  # a longer trigger is cut (and reported) in pieces
    min_duration_s: float = 0.0
    gap_tolerance_s: float = 0.0  # frame time jumps beyond max(this, 1.5 samples) reset state

    def __post_init__(self) -> None:
        if self.sta_s <= 0 or self.lta_s <= self.sta_s:
            raise ValueError(f"need 0 < sta ({self.sta_s}) < lta ({self.lta_s})")
        if self.off > self.on:
            raise ValueError(f"off threshold {self.off} exceeds on threshold {self.on}")
        if self.hi_hz and self.lo_hz >= self.hi_hz:
            raise ValueError(f"empty band {self.lo_hz}-{self.hi_hz} Hz")
        if self.max_event_s <= 0:
            raise ValueError("max_event_s must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DetectorParams:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown detector parameter(s): {sorted(unknown)}")
        return cls(**d)
