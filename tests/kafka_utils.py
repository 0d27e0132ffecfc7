"""Test helpers that read topics the way that works on every broker: assign() + seek.

(Tansu's consumer groups misbehave with kafka-python, KAFKA-NOTES; a test reader that
needs no group is correct on Apache Kafka too.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from sensors import kafka_crc

ROOT = Path(__file__).resolve().parent.parent


class TopicReader:
    """Accumulates every record of one topic from the beginning, across polls."""

    def __init__(self, bootstrap: str, topic: str, **client: Any) -> None:
        """``client``: more consumer options (a secured broker's, ``client_options``)."""
        self.topic = topic
        kafka_crc.install()  # the reader checks every batch's CRC: in C, as the product does
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            consumer_timeout_ms=500,
            **client,
        )
        parts = self.consumer.partitions_for_topic(topic) or set()
        deadline = time.monotonic() + 10
        while not parts and time.monotonic() < deadline:
            time.sleep(0.2)
            parts = self.consumer.partitions_for_topic(topic) or set()
        self.consumer.assign([TopicPartition(topic, p) for p in sorted(parts)])
        self.consumer.seek_to_beginning()
        self.records: list[Any] = []

    def poll(self) -> list[Any]:
        batch = self.consumer.poll(timeout_ms=500)
        for msgs in batch.values():
            self.records.extend(msgs)
        return self.records

    def values(self) -> list[Any]:
        return [json.loads(r.value) for r in self.records]

    def wait_for(
        self,
        predicate: Callable[[list[Any]], bool],
        timeout_s: float = 60.0,
        tick: Callable[[], object] | None = None,
    ) -> list[Any]:
        """Poll until ``predicate`` holds on every value read so far; ``tick`` runs before
        each poll (a supervisor's check)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if tick is not None:
                tick()
            self.poll()
            vals = self.values()
            if predicate(vals):
                return vals
        raise AssertionError(
            f"timed out after {timeout_s} s waiting on {self.topic}; "
            f"saw {len(self.records)} records: {self.values()[:5]}"
        )

    def close(self) -> None:
        self.consumer.close()


class LenientReader(TopicReader):
    """A topic reader that skips values that are not JSON (poison records in fault tests)."""

    def values(self) -> list[Any]:
        out = []
        for r in self.records:
            try:
                out.append(json.loads(r.value))
            except ValueError:
                continue
        return out


def flatten(values: list[Any]) -> list[Any]:
    """Batched records (JSON arrays) flattened into single items."""
    out: list[Any] = []
    for v in values:
        out.extend(v if isinstance(v, list) else [v])
    return out


def start_worker(
    bootstrap: str, prefix: str, env: dict[str, str], roles: list[str], log_path: Path
) -> subprocess.Popen[bytes]:
    """A real ``borderfusion worker`` subprocess in its own namespace (prefix + app id)."""
    from streams.broker import _die_with_parent, free_port

    full_env = {
        **os.environ,
        "BORDERFUSION_KAFKA_BOOTSTRAP": bootstrap,
        "BORDERFUSION_TOPIC_PREFIX": prefix,
        "BORDERFUSION_APP_ID": prefix + "app",
        "BORDERFUSION_BROKER_SESSION_TIMEOUT_S": "6",
        "BORDERFUSION_PARTITIONS": "2",
        "BORDERFUSION_WEB_PORT": str(free_port()),
        **env,
    }
    argv = [sys.executable, "-m", "streams.cli", "worker"]
    for r in roles:
        argv += ["--role", r]
    out = open(log_path, "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        argv,
        env=full_env,
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    out.close()
    return proc


class SupervisedWorker:
    """A worker supervised as Kubernetes would: started again whenever it exits (a Faust
    worker whose broker is gone for long may exit instead of reconnecting, KAFKA-NOTES) or
    its liveness probe, ``/healthz``, answers 503 ``stalled`` (``streams/liveness.py``).
    Outage tests keep :meth:`check` in their wait loops; :attr:`restarts` says why."""

    def __init__(
        self, bootstrap: str, prefix: str, env: dict[str, str], roles: list[str], log_path: Path
    ) -> None:
        self.health_url = ""
        self.args = (bootstrap, prefix, env, roles, log_path)
        self.log_path = log_path
        self.restarts: list[str] = []
        self._probed = 0.0
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        from streams.broker import free_port

        port = free_port()
        self.health_url = f"http://127.0.0.1:{port}/healthz"
        bootstrap, prefix, env, roles, log_path = self.args
        return start_worker(
            bootstrap, prefix, {**env, "BORDERFUSION_WEB_PORT": str(port)}, roles, log_path
        )

    def _stalled(self) -> str | None:
        """The probe's reasons when it answers 503 (at most every 5 s), else None."""
        if time.monotonic() - self._probed < 5.0:
            return None
        self._probed = time.monotonic()
        try:
            with urllib.request.urlopen(self.health_url, timeout=3):
                return None
        except urllib.error.HTTPError as e:
            return str(json.loads(e.read()).get("stalled")) if e.code == 503 else None
        except OSError:
            return None  # not listening yet (starting) or busy: not a verdict

    def check(self) -> None:
        if self.proc.poll() is not None:
            self.restarts.append(f"exited with {self.proc.returncode}")
        elif (why := self._stalled()) is not None:
            self.restarts.append(f"stalled: {why}")
            stop_process(self.proc)
        else:
            return
        self.proc = self._start()

    def report(self, n: int = 6000) -> str:
        """Liveness, restarts and the log's tail, for a failed test's message."""
        alive = self.proc.poll() is None
        tail = self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""
        return f"worker alive={alive} restarts={self.restarts}; log tail:\n{tail}"

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
