"""AIS transponders heard by a shore station, as real ``!AIVDM`` sentences (pyais encoder).

Reporting follows ITU-R M.1371 (Table 1/2): class A position reports (type 1) every 10 s
at 0–14 kn, 6 s at 14–23 kn, 2 s above, 3 min at anchor; static and voyage data (type 5,
two sentences) every 6 min. Class B "CS" units send type 18 every 30 s above 2 kn and
every 3 min below, and type 24 parts A and B every 6 min. Positions carry GPS noise; a
message is lost with probability ``1 − P_RX`` (all its sentences together). Dark boats
send nothing, and a vessel whose transponder is switched off stops at that moment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyais import encode_dict

from .common import SimReading
from .layout import Layout
from .targets import Target

KNOTS_PER_MPS = 1.943844
STATIC_PERIOD_S = 360.0
P_RX = 0.95
GPS_SIGMA_M = 3.0


def report_interval(ais_class: str, sog_kn: float) -> float:
    """Seconds to the next position report at speed over ground ``sog_kn``."""
    if ais_class == "A":
        if sog_kn < 0.5:
            return 180.0
        if sog_kn <= 14.0:
            return 10.0
        return 6.0 if sog_kn <= 23.0 else 2.0
    return 180.0 if sog_kn <= 2.0 else 30.0


def _messages(
    layout: Layout, tg: Target, duration: float, t0: float, rng: np.random.Generator
) -> list[tuple[float, dict[str, Any]]]:
    """(time, pyais message dict) for one vessel, before loss and encoding."""
    assert tg.ais is not None
    a = tg.ais
    out: list[tuple[float, dict[str, Any]]] = []
    start = max(tg.path.t_start, 0.0)
    stop = min(tg.path.t_end, duration, a.off_at if a.off_at is not None else np.inf)
    course = 0.0
    t = start + rng.uniform(0.0, 10.0)
    while t < stop:
        ve, vn = (float(v[0]) for v in tg.path.velocity(np.array([t])))
        sog = float(np.hypot(ve, vn)) * KNOTS_PER_MPS
        if sog > 0.2:
            course = float(np.degrees(np.arctan2(ve, vn)) % 360.0)
        e, n = tg.path.at(np.array([t]))
        lat, lon = layout.frame.to_latlon(
            e + rng.normal(0, GPS_SIGMA_M), n + rng.normal(0, GPS_SIGMA_M)
        )
        second = int(t0 + t) % 60
        msg: dict[str, Any] = {
            "mmsi": a.mmsi,
            "lat": round(float(lat[0]), 6),
            "lon": round(float(lon[0]), 6),
            "speed": round(sog, 1),
            "course": round(course, 1),
            "second": second,
            "accuracy": 1,
        }
        if a.ais_class == "A":
            msg.update(
                type=1,
                status=0 if sog >= 0.5 else 1,
                heading=int(round(course + rng.normal(0, 2.0))) % 360,
            )
        else:
            msg.update(type=18, heading=511, cs=1)
        out.append((t, msg))
        t += report_interval(a.ais_class, sog)
    bow = int(round(a.length_m * 0.7))
    dims = {
        "to_bow": bow,
        "to_stern": a.length_m - bow,
        "to_port": a.beam_m // 2,
        "to_starboard": a.beam_m - a.beam_m // 2,
    }
    t = start + rng.uniform(0.0, STATIC_PERIOD_S)
    while t < stop:
        if a.ais_class == "A":
            out.append(
                (
                    t,
                    {
                        "type": 5,
                        "mmsi": a.mmsi,
                        "ais_version": 0,
                        "imo": 0,
                        "callsign": a.callsign,
                        "shipname": a.name,
                        "ship_type": a.ship_type,
                        "epfd": 1,
                        "draught": 2.5,
                        "destination": "MOZYR",
                        **dims,
                    },
                )
            )
        else:
            out.append((t, {"type": 24, "mmsi": a.mmsi, "partno": 0, "shipname": a.name}))
            out.append(
                (
                    t + 0.05,
                    {
                        "type": 24,
                        "mmsi": a.mmsi,
                        "partno": 1,
                        "ship_type": a.ship_type,
                        "callsign": a.callsign,
                        "vendorid": "SIM",
                        **dims,
                    },
                )
            )
        t += STATIC_PERIOD_S
    return out


def simulate(
    layout: Layout,
    sensor: dict[str, Any],
    targets: list[Target],
    t0: float,
    duration: float,
    rng: np.random.Generator,
) -> list[SimReading]:
    """All AIS sentences received by the station ``sensor`` (one reading per sentence)."""
    msgs: list[tuple[float, int, str, dict[str, Any]]] = []
    for order, tg in enumerate(targets):
        if tg.ais is None:
            continue
        for t, m in _messages(layout, tg, duration, t0, rng):
            msgs.append((t, order, tg.id, m))
    msgs.sort(key=lambda m: (m[0], m[1]))
    received = rng.random(len(msgs)) < P_RX
    channels = rng.random(len(msgs)) < 0.5
    out: list[SimReading] = []
    seq = 0
    for (t, _, origin, m), ok, ch_a in zip(msgs, received, channels, strict=True):
        if not ok:
            continue
        ch = "A" if ch_a else "B"
        sentences = encode_dict(m, talker_id="AI", sentence_type="VDM", radio_channel=ch)
        if len(sentences) > 1:
            sentences = encode_dict(
                m, talker_id="AI", sentence_type="VDM", radio_channel=ch, seq_id=seq
            )
            seq = (seq + 1) % 10
        tt = round(t0 + t, 3)
        for s in sentences:
            out.append(
                SimReading(
                    tt,
                    "readings.ais",
                    {"sensor_id": sensor["id"], "station_id": sensor["id"], "t": tt, "nmea": s},
                    origin,
                )
            )
    return out
