"""Reading schemas (DESIGN §4), declared once, with validation that names the bad field.

Each reading kind is a table of :class:`FieldSpec` — type, whether required, bounds,
allowed values — the way pyais declares AIS messages: the code reads like the contract.
Validation is hand-rolled rather than a model library because it runs on every reading
(thousands per second) and must produce one precise, sender-facing reason.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any, cast

READING_TOPICS: dict[str, str] = {
    "readings.radar": "radar",
    "readings.thermal": "thermal",
    "readings.seismic": "seismic",
    "readings.ais": "ais",
    "readings.friendly": "friendly",  # blue-force tracking: own units' positions
}

# Event time sanity: older than this or further in the future is refused, since a
# reading with a wild clock would corrupt event-time ordering for a whole sector.
MAX_AGE_S = 30 * 24 * 3600.0
MAX_FUTURE_S = 300.0
MAX_WAVEFORM_SAMPLES = 100_000
MAX_NMEA_LEN = 400
MAX_COT_LEN = 16_000


class ReadingError(ValueError):
    """A reading broke its schema. ``field`` names the culprit, ``reason`` is a short code."""

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = reason
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason, "message": self.message}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: type | tuple[type, ...]
    required: bool = False
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    max_len: int | None = None


_NUM = (int, float)
COMMON: dict[str, FieldSpec] = {
    "sensor_id": FieldSpec(str, required=True, max_len=64),
    "t": FieldSpec(_NUM, required=True),
}

SCHEMAS: dict[str, dict[str, FieldSpec]] = {
    "radar": {
        "range_m": FieldSpec(_NUM, required=True, lo=0.0, hi=500_000.0),
        "bearing_deg": FieldSpec(_NUM, required=True, lo=0.0, hi=360.0),
        "sigma_range_m": FieldSpec(_NUM, lo=0.0, hi=10_000.0),
        "sigma_bearing_deg": FieldSpec(_NUM, lo=0.0, hi=45.0),
        "radial_speed_mps": FieldSpec(_NUM, lo=-500.0, hi=500.0),
        "rcs_dbsm": FieldSpec(_NUM, lo=-100.0, hi=100.0),
    },
    "thermal": {
        "bearing_deg": FieldSpec(_NUM, required=True, lo=0.0, hi=360.0),
        "range_m": FieldSpec(_NUM, lo=0.0, hi=100_000.0),
        "depression_deg": FieldSpec(_NUM, lo=0.0, hi=90.0),
        "class": FieldSpec(str, required=True,
                           choices=("person", "vehicle", "boat", "animal", "unknown")),
        "confidence": FieldSpec(_NUM, required=True, lo=0.0, hi=1.0),
        "object_id": FieldSpec((str, int), max_len=64),
    },
    "seismic": {
        "kind": FieldSpec(str, choices=("footstep", "vehicle", "unknown")),
        "energy": FieldSpec(_NUM, lo=0.0),
        "duration_s": FieldSpec(_NUM, lo=0.0, hi=3600.0),
        "confidence": FieldSpec(_NUM, lo=0.0, hi=1.0),
        "rate_hz": FieldSpec(_NUM, lo=1.0, hi=10_000.0),
        "samples": FieldSpec(list),
    },
    "ais": {
        "nmea": FieldSpec(str, required=True, max_len=MAX_NMEA_LEN),
        "station_id": FieldSpec(str, max_len=64),
    },
    # either unit_id/lat/lon (+ sigma_m) or one CoT event (sensors/friendly.py checks which)
    "friendly": {
        "unit_id": FieldSpec(str, max_len=128),
        "lat": FieldSpec(_NUM, lo=-90.0, hi=90.0),
        "lon": FieldSpec(_NUM, lo=-180.0, hi=180.0),
        "sigma_m": FieldSpec(_NUM, lo=0.0, hi=10_000.0),
        "cot": FieldSpec(str, max_len=MAX_COT_LEN),
    },
}

# Optional extras a decoder may attach (ASTERIX sac/sic, edition…): allowed, not checked.
PASSTHROUGH = frozenset({"sac", "sic", "edition", "source", "seq", "asterix"})

# Validation runs per reading (~10 000/s): the field checks of each kind are laid out once,
# in contract order (common fields first), with a flag for plain numeric fields.
_MISSING = object()
_PLANS: dict[str, tuple[tuple[str, FieldSpec, bool], ...]] = {
    kind: tuple((name, spec, spec.kind == _NUM and spec.choices is None and spec.max_len is None)
                for name, spec in (*COMMON.items(), *schema.items()))
    for kind, schema in SCHEMAS.items()
}
_ALLOWED: dict[str, frozenset[str]] = {
    kind: frozenset(schema) | frozenset(COMMON) | PASSTHROUGH for kind, schema in SCHEMAS.items()
}


# the largest finite float: a JSON integer beyond it cannot become a float (OverflowError)
_FLOAT_MAX = sys.float_info.max


def _check_field(name: str, value: Any, spec: FieldSpec) -> None:
    if isinstance(value, bool) or not isinstance(value, spec.kind):
        expected = spec.kind.__name__ if isinstance(spec.kind, type) else "number"
        raise ReadingError(name, "wrong_type",
                           f"expected {expected}, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ReadingError(name, "not_finite", f"must be a finite number, got {value}")
    if isinstance(value, int) and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
        # JSON integers have no size limit; float() of a 400-digit one raises OverflowError
        raise ReadingError(name, "out_of_range", "integer too large for a number")
    number = cast(float, value)  # isinstance() above narrowed it to a bare `object`
    if spec.lo is not None and number < spec.lo:
        raise ReadingError(name, "out_of_range", f"{value} is below {spec.lo}")
    if spec.hi is not None and number > spec.hi:
        raise ReadingError(name, "out_of_range", f"{value} is above {spec.hi}")
    if spec.choices is not None and value not in spec.choices:
        raise ReadingError(name, "bad_value",
                           f"{value!r} is not one of {', '.join(spec.choices)}")
    if spec.max_len is not None and isinstance(value, str) and len(value) > spec.max_len:
        raise ReadingError(name, "too_long", f"longer than {spec.max_len} characters")


def _shown(name: Any) -> str:
    """A sender's field name as an error can show it: quoted when empty, cut when long (a
    megabyte key must not come back in every dead letter)."""
    text = str(name)
    if not text:
        return '""'
    return text if len(text) <= 64 else text[:64] + "…"


def validate_reading(kind: str, reading: Any, now: float | None = None,
                     max_age_s: float = MAX_AGE_S) -> dict[str, Any]:
    """Check one reading of ``kind`` (radar|thermal|seismic|ais|friendly); return it or raise.

    Unknown fields are refused (a typo like ``bearing`` for ``bearing_deg`` must not pass
    as a reading without a bearing). ``now`` bounds the event time (``None``: the wall
    clock; ``math.nan``: no check, for replays of recorded streams); ``max_age_s`` ≤ 0
    accepts any past time.
    """
    if kind not in SCHEMAS:
        raise ReadingError("kind", "bad_value", f"unknown sensor type {kind!r}")
    if not isinstance(reading, dict):
        raise ReadingError("reading", "wrong_type",
                           f"a reading must be a JSON object, got {type(reading).__name__}")
    for name, spec, numeric in _PLANS[kind]:
        value = reading.get(name, _MISSING)
        if value is _MISSING:
            if spec.required:
                raise ReadingError(name, "missing", "required field is missing")
            continue
        # fast path for the common case, a plain in-range number; anything else (and every
        # failure) goes through _check_field, which names the exact reason
        tv = type(value)
        if (numeric and ((tv is int and -_FLOAT_MAX <= value <= _FLOAT_MAX)
                         or (tv is float and math.isfinite(value)))
                and (spec.lo is None or value >= spec.lo)
                and (spec.hi is None or value <= spec.hi)):
            continue
        _check_field(name, value, spec)
    if not _ALLOWED[kind].issuperset(reading):
        for name in reading:
            if name not in _ALLOWED[kind]:
                raise ReadingError(_shown(name), "unknown_field",
                                   f"not a field of a {kind} reading (its fields: "
                                   f"{', '.join(sorted(_ALLOWED[kind]))})")

    t = float(reading["t"])
    now = time.time() if now is None else now
    if not math.isnan(now):
        if max_age_s > 0 and t < now - max_age_s:
            raise ReadingError("t", "too_old",
                               f"event time {t} is more than {max_age_s:.0f} s in the past")
        if t > now + MAX_FUTURE_S:
            raise ReadingError("t", "in_future", f"event time {t} is in the future")
    if kind == "seismic":
        _check_seismic(reading)
    if kind == "thermal" and "range_m" not in reading and "depression_deg" not in reading:
        raise ReadingError("range_m", "missing", "a thermal reading needs range_m or depression_deg")
    return reading


def _check_seismic(reading: dict[str, Any]) -> None:
    is_frame = "samples" in reading or "rate_hz" in reading
    if is_frame:
        for name in ("samples", "rate_hz"):
            if name not in reading:
                raise ReadingError(name, "missing", "a waveform frame needs rate_hz and samples")
        samples = reading["samples"]
        if len(samples) > MAX_WAVEFORM_SAMPLES:
            raise ReadingError("samples", "too_long", f"more than {MAX_WAVEFORM_SAMPLES} samples")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in samples):
            raise ReadingError("samples", "wrong_type", "samples must be finite numbers")
        # an int beyond a float's range would raise OverflowError in isfinite/np.asarray
        if not all(-_FLOAT_MAX <= v <= _FLOAT_MAX for v in samples):
            raise ReadingError("samples", "out_of_range", "samples must be finite numbers")
    elif "kind" not in reading:
        raise ReadingError("kind", "missing",
                           "a seismic reading is an event (kind, …) or a frame (rate_hz, samples)")


def split_batch(value: Any) -> list[Any]:
    """A topic value is one reading or a JSON array of readings of one sensor (DESIGN §3)."""
    return value if isinstance(value, list) else [value]
