"""ONVIF analytics metadata (``tt:MetadataStream``) to thermal readings (DESIGN §4).

What is read: every ``tt:Frame`` (``UtcTime`` -> ``t``) and its ``tt:Object``s: the
``BoundingBox`` mapped through the frame's ``Transformation`` into ONVIF's normalised
image (-1..1, y up), then box-centre x -> ``bearing_deg`` and box-bottom y (where the
target meets the ground) -> ``depression_deg``; the most likely ``tt:Class`` type ->
``class`` and ``confidence``; ``ObjectId`` -> ``object_id``. Geometry for all objects
of a document is computed in one vectorised call.

Skipped on purpose: objects whose ``Behaviour`` is ``Removed`` (they left the scene),
objects with a ``Parent`` (a licence plate or face of an object already reported), and
motion cells, events and sensor data (not detections).

Input arrives as documents or bare fragments (cameras and the specification both show
``tt:Frame`` elements without a namespace declaration): it is wrapped in an element that
declares the usual prefixes before parsing. DTDs and entities are refused outright, the
defusedxml way, so an entity-expansion bomb never reaches the parser.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ErrorString

import numpy as np

from sensors.problems import DecodeProblem
from sensors.thermal.geometry import CameraParams, bearing_from_pixel, depression_from_pixel

log = logging.getLogger(__name__)

TT = "http://www.onvif.org/ver10/schema"
KNOWN_PREFIXES = {
    "tt": TT,
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "tns1": "http://www.onvif.org/ver10/topics",
    "fc": "http://www.onvif.org/ver20/analytics/humanface",
    "bd": "http://www.onvif.org/ver20/analytics/humanbody",
    "wsa": "http://www.w3.org/2005/08/addressing",
}
MAX_XML_BYTES = 4 * 1024 * 1024
DEFAULT_CONFIDENCE = 0.5

# ONVIF class types (ver10 ClassType and ver20 analytics ObjectType) to ours.
CLASS_MAP = {
    "human": "person",
    "face": "person",
    "humanface": "person",
    "humanbody": "person",
    "person": "person",
    "vehicle": "vehicle",
    "car": "vehicle",
    "truck": "vehicle",
    "bus": "vehicle",
    "bike": "vehicle",
    "bicycle": "vehicle",
    "motorcycle": "vehicle",
    "van": "vehicle",
    "vessel": "boat",
    "boat": "boat",
    "ship": "boat",
    "watercraft": "boat",
    "animal": "animal",
    "dog": "animal",
    "deer": "animal",
}

_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>", re.S)
_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)
_PREFIX_USE = re.compile(rb"</?([A-Za-z_][\w.-]*):|\s([A-Za-z_][\w.-]*):[\w.-]+\s*=")
_PREFIX_DECL = re.compile(rb"xmlns:([A-Za-z_][\w.-]*)\s*=")


@dataclass(frozen=True, slots=True)
class _Obj:
    t: float
    object_id: str | None
    x_centre: float
    y_bottom: float
    cls: str
    confidence: float


def _q(tag: str) -> str:
    return f"{{{TT}}}{tag}"


def wrap_fragment(xml: bytes) -> bytes:
    """Make a namespace-complete document of a fragment: drop the XML declaration,
    declare every prefix used but not declared, and give it one root element."""
    body = _DECL.sub(b"", xml, count=1)
    used = {p for pair in _PREFIX_USE.findall(body) for p in pair if p} - {b"xmlns", b"xml"}
    missing = sorted(used - set(_PREFIX_DECL.findall(body)))
    decls = b"".join(
        b' xmlns:%s="%s"'
        % (p, KNOWN_PREFIXES.get(p.decode(), f"urn:undeclared:{p.decode()}").encode())
        for p in missing
    )
    return b"<bf-wrap" + decls + b">\n" + body + b"\n</bf-wrap>"


def parse_utc(text: str) -> float:
    """ONVIF ``xs:dateTime`` (``2010-11-10T12:24:57.721``, ``…Z``, ``…+02:00``) to epoch s;
    no offset means UTC, as ONVIF's UtcTime attribute is by definition."""
    stamp = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _classify(obj: ET.Element, default_confidence: float) -> tuple[str, float]:
    """Most likely of our classes; hierarchical ONVIF types (Vehicle > Car) take the max."""
    best: dict[str, float] = {}
    cls_el = obj.find(f"{_q('Appearance')}/{_q('Class')}")
    if cls_el is None:
        return "unknown", default_confidence
    candidates: list[tuple[str, float]] = []
    for t in cls_el.findall(_q("Type")):  # ver 2: <Type Likelihood="0.8">Human</Type>
        candidates.append(((t.text or "").strip(), float(t.get("Likelihood", default_confidence))))
    for c in cls_el.findall(_q("ClassCandidate")):  # ver 1: Type + Likelihood children
        candidates.append(
            (
                (c.findtext(_q("Type")) or "").strip(),
                float(c.findtext(_q("Likelihood")) or default_confidence),
            )
        )
    for name, likelihood in candidates:
        ours = CLASS_MAP.get(name.lower(), "unknown")
        best[ours] = max(best.get(ours, 0.0), min(max(likelihood, 0.0), 1.0))
    if not best:
        return "unknown", default_confidence
    known = {k: v for k, v in best.items() if k != "unknown"}
    pool = known or best
    cls = max(pool, key=lambda k: pool[k])
    return cls, pool[cls]


def _frame_transform(frame: ET.Element) -> tuple[float, float, float, float]:
    """(scale_x, scale_y, translate_x, translate_y): normalised = coord * scale + translate."""
    tr = frame.find(_q("Transformation"))
    if tr is None:
        return 1.0, 1.0, 0.0, 0.0
    s, t = tr.find(_q("Scale")), tr.find(_q("Translate"))
    sx = float(s.get("x", 1.0)) if s is not None else 1.0
    sy = float(s.get("y", 1.0)) if s is not None else 1.0
    tx = float(t.get("x", 0.0)) if t is not None else 0.0
    ty = float(t.get("y", 0.0)) if t is not None else 0.0
    return sx, sy, tx, ty


def _objects(
    root: ET.Element, default_confidence: float, problems: list[DecodeProblem]
) -> list[_Obj]:
    out: list[_Obj] = []
    for n_frame, frame in enumerate(root.iter(_q("Frame")), start=1):
        where = f"frame {n_frame}"
        try:
            t = parse_utc(frame.get("UtcTime", ""))
            sx, sy, tx, ty = _frame_transform(frame)
        except ValueError as exc:
            problems.append(DecodeProblem(where, "bad_frame", f"UtcTime/Transformation: {exc}"))
            continue
        for obj in frame.findall(_q("Object")):
            oid = obj.get("ObjectId")
            owhere = f"{where} object {oid}"
            if (
                obj.get("Parent") is not None
                or obj.find(f"{_q('Behaviour')}/{_q('Removed')}") is not None
            ):
                continue
            box = obj.find(f"{_q('Appearance')}/{_q('Shape')}/{_q('BoundingBox')}")
            if box is None:
                problems.append(DecodeProblem(owhere, "no_box", "object has no BoundingBox"))
                continue
            try:
                left, right = float(box.get("left", "")), float(box.get("right", ""))
                top, bottom = float(box.get("top", "")), float(box.get("bottom", ""))
                cls, conf = _classify(obj, default_confidence)
            except ValueError as exc:
                problems.append(DecodeProblem(owhere, "bad_object", str(exc)))
                continue
            xc = (left + right) / 2.0 * sx + tx
            # The lower edge in the image is the foot point, whatever the y axis direction.
            yb = min(top * sy + ty, bottom * sy + ty)
            if not (-1.0 <= xc <= 1.0 and -1.0 <= yb <= 1.0):
                problems.append(
                    DecodeProblem(
                        owhere,
                        "out_of_frame",
                        f"box centre x {xc:.3f} / bottom y {yb:.3f} "
                        "outside the normalised image -1..1",
                    )
                )
                continue
            out.append(_Obj(t, oid, xc, yb, cls, conf))
    return out


def decode_onvif_metadata(
    xml: str | bytes,
    camera: CameraParams,
    *,
    default_confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[list[dict[str, Any]], list[DecodeProblem]]:
    """Decode one ONVIF metadata document or fragment into thermal readings.

    Returns ``(readings, problems)``; never raises on bad input. Objects without a
    ``tt:Class`` get class ``unknown`` and ``default_confidence``. An object whose foot
    point is at or above the horizon cannot be placed on the ground and is reported.
    """
    data = xml.encode("utf-8") if isinstance(xml, str) else bytes(xml)
    if len(data) > MAX_XML_BYTES:
        return [], [
            DecodeProblem(
                "document", "too_large", f"{len(data)} bytes, limit {MAX_XML_BYTES}", data[:256]
            )
        ]
    if _FORBIDDEN.search(data):
        return [], [
            DecodeProblem(
                "document",
                "forbidden_dtd",
                "DOCTYPE/ENTITY declarations are refused (entity expansion)",
                data[:256],
            )
        ]
    try:
        root = ET.fromstring(wrap_fragment(data))
    except ET.ParseError as exc:
        line, col = exc.position
        return [], [
            DecodeProblem(
                "document",
                "malformed_xml",
                f"not well-formed XML at line {line - 1}, column {col}: {ErrorString(exc.code)}",
                data,
            )
        ]
    problems: list[DecodeProblem] = []
    objs = _objects(root, default_confidence, problems)
    if not objs:
        return [], problems
    bearings = np.atleast_1d(bearing_from_pixel([o.x_centre for o in objs], camera))
    depressions = np.atleast_1d(depression_from_pixel([o.y_bottom for o in objs], camera))
    readings: list[dict[str, Any]] = []
    for o, b, d in zip(objs, bearings.tolist(), depressions.tolist(), strict=True):
        if not 0.0 < d <= 90.0:
            problems.append(
                DecodeProblem(
                    f"object {o.object_id}",
                    "above_horizon",
                    f"foot point {d:.2f} deg below the horizon: no ground range",
                )
            )
            continue
        reading: dict[str, Any] = {
            "sensor_id": camera.sensor_id,
            "t": o.t,
            "bearing_deg": b,
            "depression_deg": d,
            "class": o.cls,
            "confidence": o.confidence,
        }
        if o.object_id is not None:
            reading["object_id"] = o.object_id
        readings.append(reading)
    return readings, problems
