"""Blue-force tracking (BFT): own patrols' self-reported positions on ``readings.friendly``.

A reading is either plain ``{sensor_id, t, unit_id, lat, lon, sigma_m?}`` (a gateway that
has already parsed the feed) or ``{sensor_id, t?, cot: "<event …/>"}``: one Cursor-on-Target
event as a TAK server relays it, where ``uid`` is the unit, ``point`` lat/lon/ce the
position and its circular error, and ``time`` the event time. Only friendly atoms
(``a-f-…``) are positions of own forces; any other CoT type (an unknown ``a-u-…`` marker,
a route, a geofence) is refused with ``not_friendly``, never guessed at, since a wrong
"own force" label is what masks an intruder. The result is an ``Observation`` of kind
``friendly`` that fusion keeps out of the tracker (docs/friendly.md).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from fusion.types import Observation
from sensors.georef import observation_id
from sensors.registry import Sensor
from sensors.schemas import MAX_COT_LEN, ReadingError

DEFAULT_SIGMA_M = 10.0  # a GPS fix whose CoT ``ce`` is unknown (9999999) or absent
MAX_SIGMA_M = 1_000.0  # a report this vague cannot say which track is ours
MAX_COT_SKEW_S = 60.0  # CoT event time vs the reading's t (when the feed relayed it)
UNKNOWN_CE = 9_999_999.0  # CoT's "not known" value for ce/le/hae


def _cot_time(text: str | None, field: str) -> float:
    if not text:
        raise ReadingError(field, "missing", "a CoT event needs a time")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ReadingError(field, "bad_value", f"not an ISO-8601 time: {text!r}") from exc


def _float_attr(el: ET.Element, name: str, field: str) -> float:
    raw = el.get(name)
    if raw is None:
        raise ReadingError(field, "missing", f"CoT point has no {name!r}")
    try:
        value = float(raw)
    except ValueError as exc:
        raise ReadingError(field, "wrong_type", f"CoT point {name}={raw!r} is not a number") from exc
    if not math.isfinite(value):
        raise ReadingError(field, "not_finite", f"CoT point {name}={raw!r} is not finite")
    return value


def decode_cot(text: str) -> dict[str, Any]:
    """One CoT ``<event>`` → ``{unit_id, t, lat, lon, sigma_m, cot_type}``; raises ReadingError.

    DTDs are refused outright (no entity expansion on network input)."""
    if len(text) > MAX_COT_LEN:
        raise ReadingError("cot", "too_long", f"longer than {MAX_COT_LEN} characters")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ReadingError("cot", "bad_value", "a CoT event must not carry a DTD")
    try:
        ev = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ReadingError("cot", "malformed_xml", str(exc)) from exc
    if ev.tag != "event":
        raise ReadingError("cot", "bad_value", f"root element is <{ev.tag}>, not <event>")
    ctype = ev.get("type") or ""
    if not ctype.startswith("a-f-") and ctype != "a-f":
        raise ReadingError(
            "cot", "not_friendly",
            f"CoT type {ctype!r} is not a friendly unit (a-f-…); only own forces' positions "
            "are blue-force reports")
    uid = ev.get("uid")
    if not uid or len(uid) > 128:
        raise ReadingError("cot", "missing", "a CoT event needs a uid of at most 128 characters")
    point = ev.find("point")
    if point is None:
        raise ReadingError("cot", "missing", "a CoT event needs a <point>")
    lat = _float_attr(point, "lat", "cot")
    lon = _float_attr(point, "lon", "cot")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ReadingError("cot", "out_of_range", f"point {lat}, {lon} is not on Earth")
    ce = point.get("ce")
    sigma = DEFAULT_SIGMA_M
    if ce is not None:
        value = _float_attr(point, "ce", "cot")
        if 0.0 < value < UNKNOWN_CE:
            sigma = value
    return {"unit_id": uid, "t": _cot_time(ev.get("time"), "cot"), "lat": lat, "lon": lon,
            "sigma_m": sigma, "cot_type": ctype}


def friendly_report(reading: dict[str, Any]) -> dict[str, Any]:
    """A validated ``readings.friendly`` reading → ``{unit_id, t, lat, lon, sigma_m}``.

    With ``cot``, the event's own time is the position's time; the reading's ``t`` (when the
    feed relayed it, checked like every reading's) must agree within ``MAX_COT_SKEW_S``.
    Without ``cot``, ``unit_id``/``lat``/``lon`` are required."""
    if "cot" in reading:
        for name in ("unit_id", "lat", "lon", "sigma_m"):
            if name in reading:
                raise ReadingError(name, "bad_value", "give either cot or unit_id/lat/lon, not both")
        rep = decode_cot(reading["cot"])
        if abs(rep["t"] - float(reading["t"])) > MAX_COT_SKEW_S:
            raise ReadingError("cot", "bad_value",
                               f"CoT time is {rep['t'] - float(reading['t']):+.0f} s from the "
                               f"reading's t (more than {MAX_COT_SKEW_S:.0f} s)")
    else:
        for name in ("unit_id", "lat", "lon"):
            if name not in reading:
                raise ReadingError(name, "missing", "a friendly reading needs unit_id, lat, lon "
                                                    "(or a CoT event in cot)")
        rep = {"unit_id": reading["unit_id"], "t": float(reading["t"]),
               "lat": float(reading["lat"]), "lon": float(reading["lon"]),
               "sigma_m": float(reading.get("sigma_m", DEFAULT_SIGMA_M))}
    if rep["sigma_m"] > MAX_SIGMA_M:
        raise ReadingError("sigma_m", "out_of_range",
                           f"position error {rep['sigma_m']} m is above {MAX_SIGMA_M} m")
    return rep


def friendly_observation(reading: dict[str, Any], sensor: Sensor) -> Observation:
    """The own unit's position as an Observation of kind ``friendly`` (``attrs.unit_id``)."""
    if sensor.type != "friendly":
        raise ReadingError("sensor_id", "wrong_sensor_type",
                           f"sensor {sensor.id!r} is a {sensor.type} sensor, not friendly")
    rep = friendly_report(reading)
    s2 = max(float(rep["sigma_m"]), 1.0) ** 2
    return Observation(
        obs_id=observation_id(reading), sensor_id=sensor.id, kind="friendly", t=float(rep["t"]),
        lat=float(rep["lat"]), lon=float(rep["lon"]), cov_en=[[s2, 0.0], [0.0, s2]],
        attrs={"unit_id": str(rep["unit_id"])})
