"""When a sector counts as quiet: measured up to when the fusion agent last had all its
input (``streams.agents.InputClock``), not on the wall clock alone."""

from streams.agents import InputClock


def test_an_idle_agent_has_seen_everything_up_to_a_batch_window_ago() -> None:
    clock = InputClock(batch_size=500, within_s=0.02)
    clock.take(3, now=100.0)
    clock.finish(now=100.01)
    assert clock.drained_until(now=101.0) == 101.0 - 0.02


def test_right_after_a_long_batch_only_its_take_is_known() -> None:
    """A batch that ran 0.3 s is no 0.3 s of quiet: records kept arriving meanwhile."""
    clock = InputClock(batch_size=500, within_s=0.02)
    clock.take(40, now=100.0)
    clock.finish(now=100.3)
    assert clock.drained_until(now=100.305) == 100.0


def test_nothing_is_quiet_while_batches_come_full() -> None:
    clock = InputClock(batch_size=500, within_s=0.02)
    clock.take(500, now=100.0)
    clock.finish(now=100.2)
    assert clock.drained_until(now=105.0) is None
    clock.take(12, now=105.0)  # the backlog is worked off: a partial batch
    clock.finish(now=105.05)
    assert clock.drained_until(now=106.0) == 106.0 - 0.02


def test_a_batch_waiting_for_the_lock_is_input_not_yet_seen() -> None:
    clock = InputClock(batch_size=500, within_s=0.02)
    clock.take(3, now=100.0)
    clock.finish(now=100.01)
    clock.take(7, now=100.5)  # handed over, not yet processed (a timer holds the lock)
    assert clock.drained_until(now=100.6) is None
