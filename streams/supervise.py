"""Child-process supervision for ``demo`` and tests: start, watch, restart, stop with a grace period.

A Faust worker has been seen ignoring SIGTERM for over 30 s (KAFKA-NOTES), so stopping is
TERM, wait, then KILL of the whole process group. Children also get PR_SET_PDEATHSIG, so
a parent killed with SIGKILL still takes them down.

A child that dies is started again with the same argv, env and log file, after a backoff,
within a budget per child (:class:`RestartPolicy`): one crash (an OOM kill, a broker
hiccup) heals by itself, a crash loop (a bad config) stops soon and points at its log.
The policy runs on an injectable clock, so it is tested without sleeping.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from streams.broker import _die_with_parent


@dataclass(frozen=True)
class RestartPolicy:
    """At most ``max_restarts`` restarts per child within the last ``window_s`` seconds;
    before each, wait ``backoff_s`` doubled per restart already in the window, capped at
    ``max_backoff_s`` (a child failing at start-up must not spin the CPU or flood its log)."""

    max_restarts: int = 5
    window_s: float = 600.0
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0

    def delay_s(self, recent: int) -> float:
        """The backoff before the next restart, given ``recent`` restarts in the window."""
        return float(min(self.backoff_s * 2.0**recent, self.max_backoff_s))


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: clock times of this child's restarts, pruned to the policy's window
    restarts: list[float] = field(default_factory=list)
    #: set while the child is dead and waiting out its backoff
    restart_at: float | None = None
    #: the budget is spent: the child stays dead
    gave_up: bool = False


@dataclass(frozen=True)
class Exit:
    """A death noticed by :meth:`Supervisor.reap` and the decision taken on it."""

    child: Child
    code: int
    #: the restart this death leads to, counted in the window (1-based); None: giving up
    restart: int | None
    delay_s: float = 0.0

    @property
    def gave_up(self) -> bool:
        return self.restart is None


@dataclass
class Supervisor:
    children: list[Child] = field(default_factory=list)
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    clock: Callable[[], float] = time.monotonic

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> Child:
        env = dict(env or {})
        child = Child(name, _spawn(argv, env, log_path), log_path, list(argv), env)
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        return [c for c in self.children if c.proc.poll() is not None]

    def reap(self) -> list[Exit]:
        """Decide, once per death, whether a dead child is restarted (and when) or given up.

        Call it from the watch loop, then :meth:`restart_due`; the split lets the caller
        report the decision and stay responsive to Ctrl-C during the backoff."""
        now = self.clock()
        exits: list[Exit] = []
        for child in self.dead():
            if child.restart_at is not None or child.gave_up:
                continue  # already decided
            child.restarts = [t for t in child.restarts if now - t < self.policy.window_s]
            code = child.proc.returncode
            recent = len(child.restarts)
            if recent >= self.policy.max_restarts:
                child.gave_up = True
                exits.append(Exit(child, code, None))
            else:
                delay = self.policy.delay_s(recent)
                child.restart_at = now + delay
                exits.append(Exit(child, code, recent + 1, delay))
        return exits

    def restart_due(self) -> list[Child]:
        """Restart the children whose backoff has run out; returns them."""
        now = self.clock()
        due = [c for c in self.children if c.restart_at is not None and now >= c.restart_at]
        for child in due:
            self.restart(child)
        return due

    def restart(self, child: Child) -> None:
        """Start a dead ``child`` again with its argv, env and log file (appended to, after
        a marker line, so the log shows where one run ends and the next begins)."""
        code = child.proc.poll()
        if code is None:
            raise RuntimeError(f"{child.name} is still running")
        if child.log_path:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            with open(child.log_path, "ab") as log:
                log.write(
                    f"\n===== {stamp} supervisor: {child.name} exited with code {code}; "
                    f"restarting it (restart {len(child.restarts) + 1}) =====\n".encode()
                )
        child.proc = _spawn(child.argv, child.env, child.log_path)
        child.restarts.append(self.clock())
        child.restart_at = None

    def stop_all(self, grace_s: float = 10.0) -> None:
        for child in reversed(self.children):
            _signal_group(child.proc, signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait()
        self.children.clear()


def _spawn(argv: list[str], env: dict[str, str], log_path: Path | None) -> subprocess.Popen[bytes]:
    out = open(log_path, "ab") if log_path else None  # noqa: SIM115
    try:
        return subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=out or None,
            stderr=subprocess.STDOUT if out else None,
            preexec_fn=_die_with_parent,
        )
    finally:  # the child holds its own descriptor
        if out:
            out.close()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def borderfusion_argv(*args: str) -> list[str]:
    """Run a subcommand with the same interpreter (works without the console script)."""
    return [sys.executable, "-m", "streams.cli", *args]
