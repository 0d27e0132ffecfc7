"""When a sector counts as quiet: measured up to when the fusion agent last had all its
input (``streams.agents.InputClock``), not on the wall clock alone."""

import pytest

from streams.agents import InputClock, quiet_wait


def _clock() -> InputClock:
    return InputClock(batch_size=500, within_s=0.02, stale_s=0.1, fallback_s=2.0)


def test_an_idle_agent_has_seen_everything_up_to_a_batch_window_ago() -> None:
    clock = _clock()
    clock.take(3, newest_record_s=99.95, now=100.0)
    clock.finish(now=100.01)
    assert clock.drained_until(now=101.0) == 101.0 - 0.02


def test_right_after_a_long_batch_only_its_take_is_known() -> None:
    """A batch that ran 0.3 s is no 0.3 s of quiet: records kept arriving meanwhile."""
    clock = _clock()
    clock.take(40, newest_record_s=99.95, now=100.0)
    clock.finish(now=100.3)
    assert clock.drained_until(now=100.305) == 100.0


def test_nothing_is_quiet_while_the_agent_takes_records_that_waited_in_kafka() -> None:
    """A backlog: the records taken had queued for seconds, so more are queued behind
    them, however long the agent then waits for its next fetch (up to the fallback)."""
    clock = _clock()
    clock.take(4, newest_record_s=97.0, now=100.0)
    clock.finish(now=100.2)
    assert clock.drained_until(now=100.5) is None
    assert clock.drained_until(now=101.9) is None
    # the backlog's tail: nothing more came for the fallback time
    assert clock.drained_until(now=102.3) == 102.3 - 0.02
    clock.take(12, newest_record_s=102.95, now=103.0)  # caught up: fresh records
    clock.finish(now=103.05)
    assert clock.drained_until(now=104.0) == 104.0 - 0.02


def test_a_full_batch_means_more_is_queued() -> None:
    clock = _clock()
    clock.take(500, newest_record_s=None, now=100.0)
    clock.finish(now=100.2)
    assert clock.drained_until(now=100.5) is None


def test_a_batch_waiting_for_the_lock_is_input_not_yet_seen() -> None:
    clock = _clock()
    clock.take(3, newest_record_s=99.95, now=100.0)
    clock.finish(now=100.01)
    clock.take(7, newest_record_s=100.45, now=100.5)  # handed over, not yet processed
    assert clock.drained_until(now=100.6) is None


def test_the_flush_looks_again_when_the_next_sector_turns_quiet() -> None:
    """Seen at 100.0, quiet 0.1 s, batch window 0.02 s: quiet once drained_until (now −
    0.02) is 0.1 s past it, i.e. at 100.12 — checked then, not on the next fixed tick."""
    clock = _clock()
    clock.take(3, newest_record_s=99.99, now=100.0)
    clock.finish(now=100.005)
    due = 100.0 + 0.1 + clock.within_s
    wait = quiet_wait(due, now=100.08, quiet_s=0.1)
    assert wait == pytest.approx(0.041)
    t = 100.08 + wait
    assert clock.drained_until(t) - 100.0 > 0.1  # quiet at the check: released then
    assert clock.drained_until(t - 0.002) - 100.0 <= 0.1  # and not a moment earlier


def test_the_flush_never_spins_and_never_sleeps_past_a_newcomer() -> None:
    assert quiet_wait(100.0, now=100.5, quiet_s=0.1) == 0.002  # overdue: soon, not at once
    # nothing buffered, or the next due far away: half the quiet time, so a sector that
    # receives data right after this check (due quiet_s later) is looked at in time
    assert quiet_wait(None, now=100.0, quiet_s=0.1) == 0.05
    assert quiet_wait(105.0, now=100.0, quiet_s=0.1) == 0.05
