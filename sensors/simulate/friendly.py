"""Blue-force tracking: own patrols' TAK devices report GPS positions as CoT events.

Each ``patrol`` target carries a device that reports every ``PERIOD_S`` (with a random
phase per unit) while it is on the move, with ``GPS_SIGMA_M`` noise per axis; a report is
lost with probability ``1 − P_RX`` (a cellular link). The feed relays each as one
``readings.friendly`` reading holding the CoT ``<event>`` (type ``a-f-G-U-C``, friendly
ground unit). Like every sensor model it draws only from its own generator, so adding the
feed leaves every other reading of a scenario byte-identical.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from .common import SimReading
from .layout import Layout
from .targets import Target

PERIOD_S = 5.0
GPS_SIGMA_M = 5.0
P_RX = 0.97
COT_TYPE = {"vehicle": "a-f-G-U-C-V", "person": "a-f-G-U-C-I"}


def _iso(t: float) -> str:
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def cot_event(uid: str, callsign: str, cot_type: str, t: float, lat: float, lon: float,
              ce_m: float) -> str:
    """A position report as ATAK sends it (the fields the decoder reads, plus contact)."""
    when = _iso(t)
    return (
        f"<event version='2.0' uid='{uid}' type='{cot_type}' time='{when}' start='{when}' "
        f"stale='{_iso(t + 60.0)}' how='m-g'><point lat='{lat:.7f}' lon='{lon:.7f}' "
        f"hae='9999999.0' ce='{ce_m:.1f}' le='9999999.0'/><detail>"
        f"<contact callsign='{callsign}'/></detail></event>"
    )


def simulate(
    layout: Layout,
    sensor: dict[str, Any],
    targets: list[Target],
    t0: float,
    duration: float,
    rng: np.random.Generator,
) -> list[SimReading]:
    """Every BFT report of the scenario's patrols relayed by the feed ``sensor``."""
    out: list[SimReading] = []
    for tg in targets:
        if tg.role != "patrol":
            continue
        start = max(tg.path.t_start, 0.0) + rng.uniform(0.0, PERIOD_S)
        stop = min(tg.path.t_end, duration)
        times = np.arange(start, stop, PERIOD_S)
        if not len(times):
            continue
        e, n = tg.path.at(times)
        lat, lon = layout.frame.to_latlon(e + rng.normal(0, GPS_SIGMA_M, len(times)),
                                          n + rng.normal(0, GPS_SIGMA_M, len(times)))
        kept = rng.random(len(times)) < P_RX
        uid = f"ANDROID-BFT-{tg.id}"
        ctype = COT_TYPE.get(tg.cls, "a-f-G-U-C")
        for t, la, lo, ok in zip(times.tolist(), np.atleast_1d(lat).tolist(),
                                 np.atleast_1d(lon).tolist(), kept.tolist(), strict=True):
            if not ok:
                continue
            tt = round(t0 + t, 3)
            cot = cot_event(uid, tg.id, ctype, tt, la, lo, GPS_SIGMA_M)
            out.append(SimReading(tt, "readings.friendly",
                                  {"sensor_id": sensor["id"], "t": tt, "cot": cot}, tg.id))
    out.sort(key=lambda r: r.t)
    return out
