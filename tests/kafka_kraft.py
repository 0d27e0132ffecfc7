"""Apache Kafka 4.x (KRaft, single node) as a child of the test process.

Why: broker tests must pass on real Apache Kafka too, not only on the embedded Tansu, which
gets end offsets and timestamp lookups wrong (docs/kafka.md). The jars come from Maven Central
through ``scripts/kafka/kraft.sh`` (same cache, same ``server.properties``); this module only
owns the process: it is started with ``PR_SET_PDEATHSIG=SIGKILL`` so it dies with the test
process even when that is SIGKILLed, and it is "ready" only once it answers a Metadata request.

    with start_kraft() as broker:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
KRAFT_SH = ROOT / "scripts" / "kafka" / "kraft.sh"
READY_TIMEOUT_S = 90.0
FETCH_TIMEOUT_S = 600.0  # a cold Maven download of ~55 MB
STOP_GRACE_S = 20.0
_PR_SET_PDEATHSIG = 1


class KraftError(RuntimeError):
    """The broker could not be fetched, formatted or started; the message has the log tail."""


def free_port() -> int:
    """A loopback port that was free a moment ago (the broker binds it right after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """preexec_fn: ask the kernel to SIGKILL the child when this (Popen's) thread dies."""

    def setup() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(125)
        if os.getppid() != parent_pid:  # parent already gone before prctl took effect
            os._exit(125)

    return setup


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _admin_client(bootstrap: str) -> object:
    """An admin client that gives up on an unreachable broker in 3 s, not kafka-python's 30 s."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError

    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=3000, bootstrap_timeout_ms=3000
        )
    except KafkaConfigurationError:  # kafka-python < 3 has no bootstrap_timeout_ms
        return KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=3000, api_version_auto_timeout_ms=3000
        )


def _answers_metadata(bootstrap: str) -> bool:
    """True when the broker answers a real Kafka request, not just a TCP connect."""
    if not _port_open(int(bootstrap.rsplit(":", 1)[1])):
        return False
    try:
        admin = _admin_client(bootstrap)
    except Exception:  # noqa: BLE001 - NoBrokersAvailable and friends while it starts
        return False
    try:
        admin.list_topics()  # type: ignore[attr-defined]
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        admin.close()  # type: ignore[attr-defined]


class KraftBroker:
    """A running single-node Apache Kafka; ``stop()`` (or leaving the ``with``) ends it."""

    def __init__(self, port: int, workdir: Path, process: subprocess.Popen[bytes], owns: bool):
        self.port = port
        self.workdir = workdir
        self.process = process
        self._owns_workdir = owns
        self._stopped = False
        self.started_s = 0.0  # seconds from launch to the first answered Metadata request

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "kafka.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM (controlled shutdown), SIGKILL after ``grace_s``; then drop the data."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                log.warning(
                    "kafka pid %s ignored SIGTERM for %.0f s: SIGKILL", self.process.pid, grace_s
                )
                self.process.kill()
                self.process.wait()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:  # keep the caller's dir (and the log in it) for post-mortems, drop the data
            shutil.rmtree(self.workdir / "data", ignore_errors=True)

    def __enter__(self) -> KraftBroker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _script_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHON", sys.executable)
    return env


@dataclass(frozen=True)
class SecureListeners:
    """Two more listeners for a broker that must authenticate its clients, as production
    brokers do: ``SASL_SSL`` (PLAIN and SCRAM-SHA-512 for ``users``) and ``SSL`` requiring
    a client certificate signed by ``client_ca``. ``keystore``: the server's PEM key and
    certificate in one file (Kafka reads PEM directly, no JKS)."""

    keystore: Path
    client_ca: Path
    users: dict[str, str] = field(default_factory=dict)
    sasl_ssl_port: int = field(default_factory=free_port)
    ssl_port: int = field(default_factory=free_port)

    @property
    def sasl_ssl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_ssl_port}"

    @property
    def ssl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ssl_port}"

    def format_args(self) -> str:
        """SCRAM credentials are stored in the cluster metadata at format time."""
        return " ".join(f"--add-scram SCRAM-SHA-512=[name={u},password={p}]"
                        for u, p in self.users.items())

    def configure(self, properties: Path) -> None:
        """Add both listeners to a prepared ``server.properties`` (the PLAINTEXT one stays
        for the broker itself and the other tests)."""
        plain = " ".join(f'user_{u}="{p}"' for u, p in self.users.items())
        extra = {
            "SASL_SSL": f"127.0.0.1:{self.sasl_ssl_port}",
            "SSL": f"127.0.0.1:{self.ssl_port}",
        }
        lines = []
        for line in properties.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in ("listeners", "advertised.listeners"):
                value += "".join(f",{name}://{addr}" for name, addr in extra.items())
            elif key == "listener.security.protocol.map":
                value += ",SASL_SSL:SASL_SSL,SSL:SSL"
            lines.append(f"{key}={value}" if value else line)
        lines += [
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
            "listener.name.sasl_ssl.plain.sasl.jaas.config="
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain};",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={self.keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.client_ca}",
            "listener.name.ssl.ssl.client.auth=required",
        ]
        properties.write_text("\n".join(lines) + "\n")


def fetch_jars() -> Path:
    """Download the broker's jars into the shared cache if needed; return the libs folder."""
    out = subprocess.run(
        ["bash", str(KRAFT_SH), "fetch"],
        capture_output=True,
        text=True,
        timeout=FETCH_TIMEOUT_S,
        env=_script_env(),
    )
    if out.returncode != 0:
        raise KraftError(f"fetching the Kafka jars failed:\n{out.stderr[-4000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


def start_kraft(
    port: int | None = None,
    workdir: Path | None = None,
    timeout_s: float = READY_TIMEOUT_S,
    secure: SecureListeners | None = None,
) -> KraftBroker:
    """Start a single-node Kafka on ``127.0.0.1:port`` (a free one when None) and wait for it.

    ``workdir`` holds config, data and ``kafka.log``; a temporary one (removed on stop) when
    None. ``secure``: also listen for authenticated clients (:class:`SecureListeners`).
    Raises KraftError with the broker's log tail if it is not answering in ``timeout_s``.
    """
    port = port or free_port()
    owns = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="kraft-")) if workdir is None else Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = _script_env()
    if secure is not None:
        env["KRAFT_FORMAT_ARGS"] = secure.format_args()
    prep = subprocess.run(
        ["bash", str(KRAFT_SH), "prepare", "--port", str(port), "--dir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=FETCH_TIMEOUT_S,
        env=env,
    )
    if prep.returncode != 0:
        if owns:
            shutil.rmtree(workdir, ignore_errors=True)
        raise KraftError(f"preparing Kafka in {workdir} failed:\n{prep.stderr[-4000:]}")
    if secure is not None:
        secure.configure(workdir / "server.properties")

    t0 = time.monotonic()
    with open(workdir / "kafka.log", "ab") as log_out:
        process = subprocess.Popen(
            ["bash", str(KRAFT_SH), "run", "--dir", str(workdir)],  # bash execs into java
            stdin=subprocess.DEVNULL,
            stdout=log_out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509 - needed for PDEATHSIG
        )
    broker = KraftBroker(port, workdir, process, owns)
    atexit.register(broker.stop)
    while not _answers_metadata(broker.bootstrap):
        if process.poll() is not None:
            tail = broker.log_tail()
            broker.stop()
            raise KraftError(f"Kafka exited with {process.returncode} during start-up:\n{tail}")
        if time.monotonic() - t0 > timeout_s:
            tail = broker.log_tail()
            broker.stop()
            raise KraftError(
                f"Kafka not answering on {broker.bootstrap} after {timeout_s:.0f} s:\n{tail}"
            )
        time.sleep(0.25)
    broker.started_s = time.monotonic() - t0
    log.info(
        "Apache Kafka ready on %s in %.1f s (pid %s)",
        broker.bootstrap,
        broker.started_s,
        process.pid,
    )
    return broker
