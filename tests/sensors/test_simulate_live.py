"""Live pacing of simulated readings, without Kafka: due times, waiting, endless loop."""

from __future__ import annotations

import itertools

import pytest

from sensors.simulate import endless, iter_timed, stream
from sensors.simulate.common import SimReading


def _r(t: float, sid: str = "R1") -> SimReading:
    return SimReading(t, "readings.radar", {"sensor_id": sid, "t": t}, None)


READINGS = [_r(100.0), _r(100.5, "T1"), _r(101.0), _r(104.0, "A1")]


def test_due_times_scale_with_speed() -> None:
    assert [d for d, _ in iter_timed(READINGS, 1)] == [0.0, 0.5, 1.0, 4.0]
    assert [d for d, _ in iter_timed(READINGS, 4)] == [0.0, 0.125, 0.25, 1.0]
    assert [d for d, _ in iter_timed(READINGS, "max")] == [0.0] * 4
    assert [d for d, _ in iter_timed(READINGS, 2, t_ref=98.0)] == [1.0, 1.25, 1.5, 3.0]
    assert [r for _, r in iter_timed(READINGS, 1)] == READINGS


@pytest.mark.parametrize("bad", [0, -1, "fast"])
def test_bad_speed_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        list(iter_timed(READINGS, bad))  # type: ignore[arg-type]


class FakeClock:
    """A clock that only moves when slept on, so pacing is checked exactly."""

    def __init__(self) -> None:
        self.now = 50.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_stream_sends_each_reading_when_due_keyed_by_sensor() -> None:
    clock = FakeClock()
    sent: list[tuple[str, str | None, float]] = []
    flushes: list[int] = []
    n = stream(
        iter_timed(READINGS, 2),
        lambda topic, value, key: sent.append((topic, key, clock.now)),
        flush=lambda: flushes.append(len(sent)),
        clock=clock,
        sleep=clock.sleep,
    )
    assert n == 4
    assert [k for _, k, _ in sent] == ["R1", "T1", "R1", "A1"]
    assert [round(at - 50.0, 6) for _, _, at in sent] == [0.0, 0.25, 0.5, 2.0]
    assert sum(clock.sleeps) == pytest.approx(2.0)
    assert flushes[:3] == [1, 2, 3]  # flushed before each wait, so nothing lingers


def test_max_speed_never_sleeps() -> None:
    clock = FakeClock()
    assert stream(iter_timed(READINGS, "max"), lambda *a: None, clock=clock, sleep=clock.sleep) == 4
    assert clock.sleeps == []


def test_endless_runs_across_chunks_in_time_order() -> None:
    start = 1_700_000_000.0
    first = list(
        itertools.islice(
            endless(seed=4, layout="river", start=start, density=0.5, chunk_s=30.0), 4000
        )
    )
    ts = [r.t for r in first]
    assert ts == sorted(ts)
    assert ts[-1] > start + 60.0  # crossed at least two chunk seams
    chunk1 = [r for r in first if r.t < start + 30.0]
    chunk2 = [r for r in first if start + 30.0 <= r.t < start + 60.0]
    assert chunk1 and chunk2
    assert [r.value for r in chunk1[:20]] != [r.value for r in chunk2[:20]]
