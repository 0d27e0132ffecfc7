"""Sensor silence: a sensor that has not reported for ``factor`` × its expected period (and at
least ``min_gap_s``) opens a coverage-gap alert at the sensor's position; it resolves when the
sensor reports again. Driven by the caller's clock (``AlertEngine.check_sensor_silence``), since
silence produces no track updates to react to.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fusion.rules.base import Context, Hit, Rule, clock


class SensorSilence(Rule):
    name = "sensor_silence"
    defaults: ClassVar[dict[str, Any]] = {
        "severity": "low",
        "score": 0.5,
        "factor": 3.0,
        "min_gap_s": 30.0,
    }

    def check(
        self,
        now: float,
        last_seen: dict[str, float],
        expected_period: dict[str, float],
        ctx: Context,
    ) -> list[Hit]:
        hits = []
        for sid in sorted(expected_period):
            period = float(expected_period[sid])
            gap_limit = max(self.cfg["factor"] * period, self.cfg["min_gap_s"])
            last = last_seen.get(sid)
            entry = ctx.sensors.get(sid, {})
            lat, lon = float(entry.get("lat", 0.0)), float(entry.get("lon", 0.0))
            sector = ctx.zones.sector_of(lat, lon) if "lat" in entry else ""
            kind = ctx.kind_of(sid)
            silent = last is None or now - last > gap_limit
            if silent:
                since = (
                    "never reported"
                    if last is None
                    else (
                        f"silent since {clock(last)} ({now - last:.0f} s, expected every "
                        f"{period:g} s)"
                    )
                )
                summary = f"Coverage gap: {kind} sensor {sid} {since}{ctx.where(lat, lon)}."
            else:
                summary = (
                    f"Sensor {sid} reporting again at {clock(last if last is not None else now)}."
                )
            h = Hit(
                rule=self.name,
                track_key=sid,
                zone_id=None,
                t=now,
                lat=lat,
                lon=lon,
                severity=str(self.cfg["severity"]),
                score=float(self.cfg["score"]),
                summary=summary,
                track_ids=[],
                sector=sector,
                sensors=[sid],
                details={"sensor_id": sid, "last_seen": last, "expected_period_s": period},
                active=silent,
            )
            hits.append(h)
        return hits
