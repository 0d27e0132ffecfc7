"""Alerts and tracks as Cursor-on-Target 2.0 events, for TAK servers and devices.

Pure functions: an alert or track update in, XML bytes out, with the wall clock passed in
(``now``) so the same input gives the same bytes in tests and on replay. The event
follows MITRE's ``cot_event_base.xsd`` (``<event><point/><detail/></event>``) and the
``<detail>`` children ATAK itself writes (``contact``, ``remarks``, ``link``, ``color``,
``track``), so a stock TAK client shows them without a plugin.

Type mapping (the MITRE atom tree ``a-<affiliation>-<battle dimension>[-<2525 function>]``):

============================  ==========================================================
track                         ``type``
============================  ==========================================================
boat with an MMSI (AIS)       ``a-n-S`` neutral surface vessel
boat without an MMSI          ``a-u-S`` unknown surface
vehicle                       ``a-u-G-E-V`` unknown ground equipment: vehicle
person, animal, unknown       ``a-u-G`` unknown ground
named by an open alert        affiliation ``s`` (suspect) for info..medium alerts,
                              ``h`` (hostile) for high/critical — e.g. a dark vessel
                              ``a-h-S``; it wins over the neutral AIS affiliation
============================  ==========================================================

Alerts are map points of interest, ``b-m-p-s-p-i``; a target configured with
``alarm: true`` sends open critical alerts as ``b-a-o-tbl`` instead, which a TAK client
raises as an emergency alarm. ``how`` is ``m-f`` (machine, fused) for alerts and live
tracks and ``m-p`` (machine, predicted) for a coasting track with no fresh measurement.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from fusion.types import SEVERITIES, Alert, TrackUpdate

UID_PREFIX = "borderfusion"
ALERT_TYPE = "b-m-p-s-p-i"
ALARM_TYPE = "b-a-o-tbl"
UNKNOWN_HEIGHT = 9999999.0  # CoT's "not known" for hae/le, as ATAK writes it

# how long an alert marker stays fresh on a TAK map after its last update, by severity:
# the alert agent refreshes open alerts while the situation lasts, so a marker that stops
# being refreshed fades out on its own
ALERT_STALE_S: Mapping[str, float] = {
    "info": 300.0,
    "low": 600.0,
    "medium": 900.0,
    "high": 1800.0,
    "critical": 3600.0,
}
CLOSED_STATUSES = frozenset({"dismissed", "resolved"})
TRACK_STALE_S = 60.0

# ATAK colours are signed 32-bit ARGB integers (``<color argb='-65536'/>`` is red)
SEVERITY_ARGB: Mapping[str, int] = {
    "info": -1,  # white
    "low": -16711681,  # cyan
    "medium": -256,  # yellow
    "high": -23296,  # orange
    "critical": -65536,  # red
}
CLOSED_ARGB = -7829368  # grey


def iso_time(t: float) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``, the form ATAK writes."""
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def alert_uid(alert_id: str) -> str:
    return f"{UID_PREFIX}.alert.{alert_id}"


def track_uid(track_id: str) -> str:
    return f"{UID_PREFIX}.track.{track_id}"


def circular_error_m(cov: list[list[float]] | None) -> float:
    """One-sigma circular error (m) from a track covariance: the square root of the
    largest eigenvalue of its east/north position block, i.e. the worst axis — CoT's
    ``ce`` is a 1-sigma radius and a radius must cover the long axis of the ellipse."""
    if not cov or len(cov) < 2:
        return UNKNOWN_HEIGHT
    a, b, d = float(cov[0][0]), 0.5 * (float(cov[0][1]) + float(cov[1][0])), float(cov[1][1])
    lam = 0.5 * (a + d) + math.sqrt(max(0.25 * (a - d) ** 2 + b * b, 0.0))
    if not math.isfinite(lam) or lam < 0:
        return UNKNOWN_HEIGHT
    return math.sqrt(lam)


def alert_stale_s(alert: Alert) -> float:
    """Validity after ``t_last``: by severity while open/acknowledged, zero once closed
    (a TAK client then greys the marker out and drops it)."""
    if alert.status in CLOSED_STATUSES:
        return 0.0
    return ALERT_STALE_S.get(alert.severity, ALERT_STALE_S["medium"])


def affiliation(track: TrackUpdate, alert_severity: str | None = None) -> str:
    """CoT affiliation letter: an alert on the track makes it suspect or hostile, an AIS
    identity makes it neutral, anything else is unknown."""
    if alert_severity is not None:
        return "h" if SEVERITIES.index(alert_severity) >= SEVERITIES.index("high") else "s"
    if track.mmsi is not None:
        return "n"
    return "u"


def track_type(track: TrackUpdate, alert_severity: str | None = None) -> str:
    """MITRE atom type of a track (see the module docstring for the table)."""
    aff = affiliation(track, alert_severity)
    cls = track.classification or ("boat" if track.mmsi is not None else "unknown")
    if cls == "boat":
        return f"a-{aff}-S"
    if cls == "vehicle":
        return f"a-{aff}-G-E-V"
    return f"a-{aff}-G"


def alert_type(alert: Alert, alarm: bool = False) -> str:
    if alarm and alert.severity == "critical" and alert.status == "open":
        return ALARM_TYPE
    return ALERT_TYPE


def _num(x: float, digits: int = 7) -> str:
    return f"{x:.{digits}f}".rstrip("0").rstrip(".") if math.isfinite(x) else "0"


def _event(
    uid: str,
    type_: str,
    how: str,
    now: float,
    start: float,
    stale: float,
    lat: float,
    lon: float,
    ce: float,
) -> tuple[ET.Element, ET.Element]:
    ev = ET.Element(
        "event",
        {
            "version": "2.0",
            "uid": uid,
            "type": type_,
            "how": how,
            "time": iso_time(now),
            "start": iso_time(start),
            "stale": iso_time(max(stale, start)),
        },
    )
    ET.SubElement(
        ev,
        "point",
        {
            "lat": _num(lat),
            "lon": _num(lon),
            "hae": _num(UNKNOWN_HEIGHT, 1),
            "ce": _num(ce, 1),
            "le": _num(UNKNOWN_HEIGHT, 1),
        },
    )
    return ev, ET.SubElement(ev, "detail")


_ATTR_ENTITIES = {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>"


def _to_xml(el: ET.Element, out: list[str]) -> None:
    # ElementTree.tostring spent 3/4 of the encoding time on namespace bookkeeping that
    # CoT never needs; this walk of the same tree is several times faster
    out.append("<" + el.tag)
    for k, v in el.attrib.items():
        out.append(f" {k}={quoteattr(v, _ATTR_ENTITIES)}")
    children = list(el)
    if el.text is None and not children:
        out.append(" />")
        return
    out.append(">")
    if el.text:
        out.append(escape(el.text))
    for c in children:
        _to_xml(c, out)
    out.append(f"</{el.tag}>")


def _serialise(ev: ET.Element) -> bytes:
    out = [XML_DECLARATION]
    _to_xml(ev, out)
    return "".join(out).encode()


def alert_to_cot(
    alert: Alert,
    now: float,
    *,
    alarm: bool = False,
    ce_m: float | None = None,
    track_types: Mapping[str, str] | None = None,
) -> bytes:
    """One alert as a CoT point event; ``uid`` is stable per alert so every update
    replaces the marker on the map. ``ce_m`` is the linked track's circular error when
    the caller knows it (an alert carries no covariance); ``track_types`` gives the
    ``type`` of linked tracks when known (a ``<link>`` names the track's uid either way)."""
    closed = alert.status in CLOSED_STATUSES
    ev, detail = _event(
        alert_uid(alert.alert_id),
        alert_type(alert, alarm),
        "m-f",
        now,
        alert.t_last,
        alert.t_last + alert_stale_s(alert),
        alert.lat,
        alert.lon,
        UNKNOWN_HEIGHT if ce_m is None else ce_m,
    )
    callsign = f"{alert.severity.upper()} {alert.rule.replace('_', ' ')}"
    if alert.status != "open":
        callsign += f" ({alert.status})"
    ET.SubElement(detail, "contact", {"callsign": callsign})
    ET.SubElement(detail, "remarks").text = alert.summary
    ET.SubElement(
        detail,
        "color",
        {"argb": str(CLOSED_ARGB if closed else SEVERITY_ARGB.get(alert.severity, -1))},
    )
    for tid in alert.track_ids:
        ET.SubElement(
            detail,
            "link",
            {
                "uid": track_uid(tid),
                "type": (track_types or {}).get(tid, "a-u-G"),
                "relation": "p-p",
            },
        )
    attrs = {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "severity": alert.severity,
        "score": _num(alert.score, 3),
        "status": alert.status,
        "sector": alert.sector,
        "t_first": iso_time(alert.t_first),
    }
    if alert.zone_id:
        attrs["zone_id"] = alert.zone_id
    if alert.mmsi is not None:
        attrs["mmsi"] = str(alert.mmsi)
    ET.SubElement(detail, "borderfusion", attrs)
    return _serialise(ev)


def track_to_cot(
    track: TrackUpdate,
    now: float,
    *,
    alert_severity: str | None = None,
    stale_s: float = TRACK_STALE_S,
) -> bytes:
    """One track update as a CoT atom; a deleted track is sent already stale."""
    how = "m-p" if track.status == "coasting" else "m-f"
    stale = track.t if track.status == "deleted" else track.t + stale_s
    ev, detail = _event(
        track_uid(track.track_id),
        track_type(track, alert_severity),
        how,
        now,
        track.t,
        stale,
        track.lat,
        track.lon,
        circular_error_m(track.cov),
    )
    callsign = track.name or (f"MMSI {track.mmsi}" if track.mmsi is not None else track.track_id)
    ET.SubElement(detail, "contact", {"callsign": callsign})
    speed = math.hypot(track.vel_e, track.vel_n)
    course = math.degrees(math.atan2(track.vel_e, track.vel_n)) % 360.0
    ET.SubElement(detail, "track", {"course": _num(course, 1), "speed": _num(speed, 2)})
    remarks = f"{track.classification or 'unknown'} track {track.track_id}, {track.status}"
    if track.sources:
        remarks += ", seen by " + ", ".join(track.sources)
    ET.SubElement(detail, "remarks").text = remarks
    attrs = {"track_id": track.track_id, "status": track.status, "sector": track.sector}
    if track.mmsi is not None:
        attrs["mmsi"] = str(track.mmsi)
    ET.SubElement(detail, "borderfusion", attrs)
    return _serialise(ev)


def split_stream(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Cut a TAK TCP byte stream into whole events: returns (events, remainder).

    TAK's streaming protocol (version 0) is events back to back with no framing, so the
    only boundary is the closing ``</event>``."""
    events: list[bytes] = []
    end = b"</event>"
    while True:
        i = buffer.find(end)
        if i < 0:
            return events, buffer
        events.append(buffer[: i + len(end)].strip())
        buffer = buffer[i + len(end) :]


def uids(events: Iterable[bytes]) -> list[str]:
    """The ``uid`` of each event, in order (for tests and diagnostics)."""
    return [ET.fromstring(e).get("uid", "") for e in events]
