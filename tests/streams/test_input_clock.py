"""When a sector counts as quiet: measured up to when the fusion agent last had all its
input (``streams.agents.InputClock``), not on the wall clock alone."""

from streams.agents import InputClock


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
