"""Per-sensor fairness in the gateway: a flooding sensor is cut back to a multiple of its
nominal rate, its excess readings are refused one by one (``rate_limited``, dead-lettered),
and the other sensors — even in the same request, under the same token — go through."""

from __future__ import annotations

import time

import pytest

from sensors.gateway.auth import Credential
from sensors.gateway.core import IngestCore
from sensors.gateway.forward import Forwarder
from sensors.gateway.ratelimit import SensorRateConfig, SensorRateLimiter, TokenBucket
from sensors.gateway.spool import Spool
from sensors.registry import SensorRegistry

SENSORS = {
    "sensors": [
        {"id": "R1", "type": "radar", "lat": 51.5, "lon": 23.6, "scan_period_s": 1.0},
        {"id": "R4", "type": "radar", "lat": 51.5, "lon": 23.6, "scan_period_s": 4.0},
        {"id": "T1", "type": "thermal", "lat": 51.5, "lon": 23.6},
    ]
}
EVERYONE = Credential("post", None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def unreachable():
    raise ConnectionRefusedError("kafka down")


def _core(tmp_path, clock: FakeClock, **cfg) -> IngestCore:
    fwd = Forwarder(Spool.open(tmp_path / "spool"), unreachable, retry_s=60.0)
    limiter = SensorRateLimiter(SensorRateConfig(**cfg), clock=clock)
    return IngestCore(SensorRegistry.from_dict(SENSORS), fwd, sensor_rate=limiter)


def _radar(sid: str = "R1", **kw) -> dict:
    return {"sensor_id": sid, "t": time.time(), "range_m": 1200.0, "bearing_deg": 45.0, **kw}


def _thermal(sid: str = "T1") -> dict:
    return {
        "sensor_id": sid,
        "t": time.time(),
        "bearing_deg": 10.0,
        "range_m": 500.0,
        "class": "person",
        "confidence": 0.9,
    }


def test_token_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    b = TokenBucket(rate=2.0, burst=3.0, clock=clock)
    assert [b.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take() == pytest.approx(0.5)
    clock.now += 1.0
    assert [b.take() for _ in range(2)] == [0.0, 0.0]
    assert b.take() > 0


def test_limits_follow_the_registry_scan_period_and_the_multiple() -> None:
    reg = SensorRegistry.from_dict(SENSORS)
    cfg = SensorRateConfig(multiple=3.0, burst_s=2.0, nominal={"radar": 20.0, "thermal": 10.0})
    assert cfg.limits_for(reg.get("R1")) == (60.0, 120.0)
    assert cfg.limits_for(reg.get("R4")) == (15.0, 30.0)  # slower scan, fewer plots per s
    assert cfg.limits_for(reg.get("T1")) == (30.0, 60.0)


def test_flooding_sensor_is_limited_without_starving_others(tmp_path) -> None:
    clock = FakeClock()
    core = _core(
        tmp_path,
        clock,
        multiple=1.0,
        burst_s=1.0,
        min_burst=1.0,
        nominal={"radar": 10.0, "thermal": 5.0},
    )
    accepted = {"R1": 0, "T1": 0}
    limited = 0
    for _ in range(10):  # 10 s; R1 sends 100/s (10x its 10/s), T1 its nominal 5/s
        batch = [_radar() for _ in range(100)] + [_thermal() for _ in range(5)]
        res = core.ingest("radar", batch[:100], EVERYONE)
        accepted["R1"] += len(res.accepted)
        limited += sum(r["reason"] == "rate_limited" for r in res.rejected)
        assert res.retry_after_s > 0
        res_t = core.ingest("thermal", batch[100:], EVERYONE)
        accepted["T1"] += len(res_t.accepted)
        assert not res_t.rejected  # the quiet camera is never refused
        clock.now += 1.0
    # R1 gets its budget: a burst of 10 plus 10/s for the 9 refills
    assert accepted["R1"] == 10 + 9 * 10
    assert limited == 1000 - accepted["R1"]
    assert accepted["T1"] == 50


def test_mixed_request_refuses_only_the_flooding_sensors_excess(tmp_path) -> None:
    clock = FakeClock()
    core = _core(tmp_path, clock, multiple=1.0, burst_s=1.0, min_burst=1.0, nominal={"radar": 10.0})
    batch = [_radar("R1") for _ in range(30)] + [_radar("R4") for _ in range(2)]
    res = core.ingest("radar", batch, EVERYONE)
    assert res.accepted == list(range(10)) + [30, 31]
    assert {r["reason"] for r in res.rejected} == {"rate_limited"}
    assert not res.only_rate_limited
    dead = [r for r, _ in core.forwarder.spool.peek(1000) if r.topic == "deadletter"]
    assert len(dead) == 20
    assert {(d.value["reason"], d.value["sensor_id"], d.value["field"]) for d in dead} == {
        ("rate_limited", "R1", "sensor_id")
    }
    # a request of nothing but the flooding sensor is all rate_limited (HTTP can say 429)
    assert core.ingest("radar", [_radar("R1")], EVERYONE).only_rate_limited


def test_bad_readings_do_not_spend_a_sensors_budget(tmp_path) -> None:
    clock = FakeClock()
    core = _core(tmp_path, clock, multiple=1.0, burst_s=1.0, min_burst=1.0, nominal={"radar": 5.0})
    res = core.ingest("radar", [_radar(bearing_deg=999.0) for _ in range(50)], EVERYONE)
    assert {r["reason"] for r in res.rejected} == {"out_of_range"}
    res = core.ingest("radar", [_radar() for _ in range(5)], EVERYONE)
    assert len(res.accepted) == 5 and not res.rejected


def test_disabled_limit_accepts_everything(tmp_path) -> None:
    core = _core(tmp_path, FakeClock(), enabled=False, multiple=0.01)
    res = core.ingest("radar", [_radar() for _ in range(500)], EVERYONE)
    assert len(res.accepted) == 500
