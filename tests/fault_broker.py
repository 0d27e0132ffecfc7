"""A broker that can be stopped and started again on the same port, for outage tests.

Tansu (``tansu``) is memory-only: after a restart its topics and records are gone, so the
caller must re-create topics and can only expect what is sent *after* the restart (the
gateway's spool is exactly that). Apache Kafka (``kafka``) is stopped with SIGTERM and
started again on the same data directory (``kraft.sh prepare`` reuses a formatted dir for
the same port), so topics, records and committed offsets survive.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from streams.broker import EmbeddedBroker, free_port
from streams.settings import Settings
from streams.topics import ensure_topics


def _port_is_free_reuseaddr(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


class RestartableBroker:
    def __init__(self, kind: str, workdir: Path, port: int | None = None) -> None:
        self.kind = kind
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self._tansu: EmbeddedBroker | None = None
        self._kraft = None  # tests.kafka_kraft.KraftBroker
        self.keeps_data = kind == "kafka"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> RestartableBroker:
        if self.kind == "tansu":
            import streams.broker as sb

            sb.port_is_free = _port_is_free_reuseaddr  # TIME_WAIT must not block a restart
            self._tansu = EmbeddedBroker(port=self.port, log_file=self.workdir / "tansu.log")
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._tansu.start()
        else:
            from tests.kafka_kraft import start_kraft

            self._kraft = start_kraft(port=self.port, workdir=self.workdir)
        return self

    def stop(self) -> None:
        """Take the broker away (SIGKILL for Tansu, controlled shutdown for Kafka), keeping
        Kafka's data directory for the next :meth:`start`."""
        if self._tansu is not None:
            self._tansu.stop(grace_s=0.2)
            self._tansu = None
        if self._kraft is not None:
            proc: subprocess.Popen[bytes] = self._kraft.process
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._kraft._stopped = True  # its stop() would delete the data dir
            self._kraft = None

    def create_topics(self, prefix: str, partitions: int = 2) -> None:
        ensure_topics(
            Settings(kafka_bootstrap=self.bootstrap, topic_prefix=prefix, partitions=partitions)
        )

    def close(self) -> None:
        self.stop()
        if self.kind == "kafka":
            shutil.rmtree(self.workdir / "data", ignore_errors=True)

    def __enter__(self) -> RestartableBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
