"""Supervisor restarts: real short-lived subprocesses, an injected clock (no sleeping on backoff)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from streams.supervise import Child, RestartPolicy, Supervisor

# prints its argv and one env variable into the log, then exits with code 3
CRASH = [
    sys.executable,
    "-c",
    "import os, sys; print('run', sys.argv[1:], os.environ['SUP_TEST']); sys.exit(3)",
    "--flag",
]
SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def exited(child: Child, timeout_s: float = 10.0) -> int:
    return child.proc.wait(timeout_s)


def make(tmp_path: Path, policy: RestartPolicy) -> tuple[Supervisor, Clock, Child]:
    clock = Clock()
    sup = Supervisor(policy=policy, clock=clock)
    child = sup.start("crasher", CRASH, env={"SUP_TEST": "v1"}, log_path=tmp_path / "c.log")
    return sup, clock, child


def test_policy_backoff_doubles_up_to_the_cap() -> None:
    p = RestartPolicy(backoff_s=1.0, max_backoff_s=30.0)
    assert [p.delay_s(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_dead_child_is_restarted_with_same_argv_env_and_log_after_the_backoff(
    tmp_path: Path,
) -> None:
    sup, clock, child = make(tmp_path, RestartPolicy(backoff_s=1.0))
    first_pid = child.proc.pid
    assert exited(child) == 3
    assert sup.restart_due() == []  # nothing decided yet

    [ex] = sup.reap()
    assert (ex.child, ex.code, ex.restart, ex.delay_s, ex.gave_up) == (child, 3, 1, 1.0, False)
    assert sup.reap() == []  # one decision per death

    clock.t += 0.9
    assert sup.restart_due() == []  # backoff not over
    assert child.proc.pid == first_pid
    clock.t += 0.1
    assert sup.restart_due() == [child]
    assert child.proc.pid != first_pid
    assert child.restarts == [clock.t] and child.restart_at is None
    assert sup.children == [child]

    assert exited(child) == 3
    log = (tmp_path / "c.log").read_text()
    assert log.count("run ['--flag'] v1") == 2, log  # same argv and env, log appended to
    marker = log.index("supervisor: crasher exited with code 3; restarting it (restart 1)")
    assert log.index("run") < marker < log.rindex("run")


def test_backoff_doubles_with_each_restart_in_the_window(tmp_path: Path) -> None:
    sup, clock, child = make(
        tmp_path, RestartPolicy(backoff_s=1.0, max_backoff_s=3.0, max_restarts=5)
    )
    delays = []
    for _ in range(4):
        exited(child)
        [ex] = sup.reap()
        delays.append(ex.delay_s)
        clock.t += ex.delay_s - 0.01
        assert sup.restart_due() == []
        clock.t += 0.01
        assert sup.restart_due() == [child]
    assert delays == [1.0, 2.0, 3.0, 3.0]


def test_gives_up_when_the_budget_is_spent_within_the_window(tmp_path: Path) -> None:
    sup, clock, child = make(tmp_path, RestartPolicy(max_restarts=2, window_s=600.0, backoff_s=1.0))
    for n in (1, 2):
        exited(child)
        [ex] = sup.reap()
        assert ex.restart == n
        clock.t += 10
        assert sup.restart_due() == [child]
    exited(child)
    [ex] = sup.reap()
    assert ex.gave_up and ex.restart is None and ex.code == 3
    assert child.gave_up
    clock.t += 3600
    assert sup.restart_due() == [] and sup.reap() == []  # stays dead, decided once
    assert sup.dead() == [child]


def test_restart_outside_the_window_does_not_count(tmp_path: Path) -> None:
    sup, clock, child = make(tmp_path, RestartPolicy(max_restarts=2, window_s=600.0, backoff_s=1.0))
    exited(child)
    sup.reap()
    clock.t += 1
    assert sup.restart_due() == [child]  # restart 1 at t0+1
    clock.t += 599  # restart 1 is still 599 s ago: in the window
    exited(child)
    [ex] = sup.reap()
    assert ex.restart == 2
    clock.t += 2
    assert sup.restart_due() == [child]  # restart 2 at t0+602
    clock.t += 1.5  # restart 1 is 602.5 s ago now: out of the window
    exited(child)
    [ex] = sup.reap()
    assert not ex.gave_up and ex.restart == 2
    assert ex.delay_s == 2.0  # one restart in the window: backoff 1 s doubled once
    assert len(child.restarts) == 1


def test_restart_refuses_a_live_child(tmp_path: Path) -> None:
    sup = Supervisor()
    child = sup.start("sleeper", SLEEP)
    try:
        with pytest.raises(RuntimeError, match="still running"):
            sup.restart(child)
    finally:
        sup.stop_all(grace_s=5)


def test_stop_all_stops_restarted_children(tmp_path: Path) -> None:
    clock = Clock()
    sup = Supervisor(clock=clock)
    child = sup.start("sleeper", SLEEP, log_path=tmp_path / "s.log")
    first = child.proc
    first.kill()
    first.wait(10)
    [ex] = sup.reap()
    assert ex.code == -9 and ex.restart == 1
    clock.t += ex.delay_s
    assert sup.restart_due() == [child]
    restarted = child.proc
    assert restarted is not first and restarted.poll() is None
    t0 = time.monotonic()
    sup.stop_all(grace_s=5)
    assert restarted.poll() is not None  # stopped by SIGTERM, not by the grace timeout
    assert time.monotonic() - t0 < 5
    assert sup.children == []
