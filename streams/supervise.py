"""Child-process supervision for ``demo`` and tests: start, watch, stop with a grace period.

A Faust worker has been seen ignoring SIGTERM for over 30 s (KAFKA-NOTES), so stopping is
TERM, wait, then KILL of the whole process group. Children also get PR_SET_PDEATHSIG, so
a parent killed with SIGKILL still takes them down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from streams.broker import _die_with_parent


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None


@dataclass
class Supervisor:
    children: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> Child:
        out = open(log_path, "ab") if log_path else None  # noqa: SIM115
        proc = subprocess.Popen(
            argv,
            env={**os.environ, **(env or {})},
            stdout=out or None,
            stderr=subprocess.STDOUT if out else None,
            preexec_fn=_die_with_parent,
        )
        if out:
            out.close()
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        return [c for c in self.children if c.proc.poll() is not None]

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
