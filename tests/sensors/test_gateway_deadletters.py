"""Dead letters under a flood (sensors/gateway/deadletters.py): every refusal is reported
to its sender and accounted for in the ``deadletter`` topic, but a flood of refusals writes
a bounded number of records whose ``count`` adds up to the refusals."""

from __future__ import annotations

import time

from sensors.gateway.auth import Credential
from sensors.gateway.core import IngestCore
from sensors.gateway.deadletters import DeadLetterBudget, LetterKey
from sensors.gateway.forward import Forwarder
from sensors.gateway.ratelimit import SensorRateConfig, SensorRateLimiter
from sensors.gateway.spool import Spool
from sensors.registry import SensorRegistry
from tests.sensors.test_gateway_ratelimit import FakeClock, unreachable

SENSORS = {
    "sensors": [
        {"id": "R1", "type": "radar", "lat": 51.5, "lon": 23.6, "scan_period_s": 1.0},
        {"id": "R2", "type": "radar", "lat": 51.5, "lon": 23.7, "scan_period_s": 1.0},
    ]
}
POST = Credential("post", None)
KEY = LetterKey("post", "R1", "rate_limited", "radar", "http")


def _radar(sid: str = "R1", **kw) -> dict:
    return {"sensor_id": sid, "t": time.time(), "range_m": 1200.0, "bearing_deg": 45.0, **kw}


def _core(tmp_path, clock: FakeClock, per_s: float) -> IngestCore:
    fwd = Forwarder(Spool.open(tmp_path / "spool"), unreachable, retry_s=60.0)
    limiter = SensorRateLimiter(
        SensorRateConfig(multiple=1.0, burst_s=1.0, min_burst=1.0, nominal={"radar": 10.0}),
        clock=clock,
    )
    return IngestCore(
        SensorRegistry.from_dict(SENSORS),
        fwd,
        sensor_rate=limiter,
        deadletters=DeadLetterBudget(per_s, clock=clock),
    )


def _dead(core: IngestCore) -> list[dict]:
    return [r.value for r, _ in core.forwarder.spool.peek(100_000) if r.topic == "deadletter"]


def test_within_the_budget_every_refusal_is_its_own_dead_letter() -> None:
    clock = FakeClock()
    budget = DeadLetterBudget(per_s=2.0, burst=3.0, clock=clock)
    assert [budget.admit(KEY) for _ in range(3)] == [1, 1, 1]
    assert [budget.admit(KEY) for _ in range(4)] == [0, 0, 0, 0]  # held, counted
    assert budget.held == 4
    other = KEY._replace(sensor="R2")  # another sensor has a budget of its own
    assert budget.admit(other) == 1
    clock.now += 0.5  # room for one: the next refusal stands for itself and the four held
    assert budget.admit(KEY) == 5
    assert budget.held == 0


def test_held_refusals_are_released_in_a_summary_once_there_is_room() -> None:
    clock = FakeClock()
    budget = DeadLetterBudget(per_s=1.0, burst=1.0, clock=clock)
    assert budget.admit(KEY) == 1
    assert [budget.admit(KEY) for _ in range(7)] == [0] * 7
    assert budget.release() == []  # no room yet
    clock.now += 1.0
    assert budget.release() == [(KEY, 7)]
    assert budget.release() == [] and budget.held == 0


def test_no_budget_means_a_dead_letter_for_every_refusal() -> None:
    budget = DeadLetterBudget(per_s=0.0)
    assert [budget.admit(KEY) for _ in range(1000)] == [1] * 1000


def test_a_flood_of_refusals_writes_few_dead_letters_that_add_up(tmp_path) -> None:
    clock = FakeClock()
    core = _core(tmp_path, clock, per_s=5.0)
    refused = 0
    for _ in range(10):  # 10 s of R1 at 100 plots/s against its 10/s budget
        res = core.ingest("radar", [_radar() for _ in range(100)], POST)
        refused += len(res.rejected)
        clock.now += 1.0
    assert refused == 1000 - (10 + 9 * 10)
    # a bad reading of a quiet sensor in the flood still gets its own dead letter, raw and all
    res = core.ingest("radar", [_radar("R2", bearing_deg=999.0)], POST)
    assert [r["reason"] for r in res.rejected] == ["out_of_range"]
    dead = _dead(core)
    limited = [d for d in dead if d["reason"] == "rate_limited"]
    # burst of 20, then 5/s for 10 s: far fewer records than refusals ...
    assert len(limited) <= 20 + 5 * 10 + 1
    # ... and with the summary the last call released, their counts add up to every refusal
    assert sum(d["count"] for d in limited) == refused
    assert all(d["sensor_id"] == "R1" and d["client"] == "post" for d in limited)
    assert any(d["raw"] and d["count"] == 1 for d in limited)  # the first ones carry the raw
    assert any(d["count"] > 1 for d in limited)
    bad = [d for d in dead if d["reason"] == "out_of_range"]
    assert len(bad) == 1 and bad[0]["sensor_id"] == "R2" and "999" in bad[0]["raw"]
    assert bad[0]["count"] == 1


def test_with_the_budget_off_each_refusal_is_a_record(tmp_path) -> None:
    clock = FakeClock()
    core = _core(tmp_path, clock, per_s=0.0)
    res = core.ingest("radar", [_radar() for _ in range(200)], POST)
    dead = _dead(core)
    assert len(dead) == len(res.rejected) == 190
    assert {d["count"] for d in dead} == {1}
