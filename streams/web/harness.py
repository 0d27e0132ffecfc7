"""A web worker in a child process, for tests and UI development.

``WebWorker`` runs a worker (``run_worker``, as ``borderfusion worker --role web``) against a broker with its own
topic prefix, users file and port, and waits until the live picture has caught up.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streams.broker import free_port
from streams.web.auth import user_entry


@dataclass
class WebWorker:
    bootstrap: str
    prefix: str
    workdir: Path
    sensors_file: Path
    zones_file: Path | None = None
    roles: tuple[str, ...] = ("web",)
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (role, password)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (role, token)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    # HTTPS: (certificate chain, key) for the worker, and the CA the requests trust
    tls: tuple[Path, Path] | None = None
    ca_file: Path | None = None

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None

    def write_users(self) -> Path:
        entries = [user_entry(n, r, password=p) for n, (r, p) in self.users.items()]
        entries += [user_entry(n, r, token=t) for n, (r, t) in self.tokens.items()]
        path = self.workdir / "users.yaml"
        path.write_text(yaml.safe_dump({"users": entries}))
        return path

    def start(self, timeout_s: float = 60.0) -> WebWorker:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        env = {
            **os.environ,
            "BORDERFUSION_KAFKA_BOOTSTRAP": self.bootstrap,
            "BORDERFUSION_TOPIC_PREFIX": self.prefix,
            "BORDERFUSION_APP_ID": f"bf-{self.prefix.rstrip('.')}",
            "BORDERFUSION_SENSORS_FILE": str(self.sensors_file),
            "BORDERFUSION_DATA_DIR": str(self.workdir / "data"),
            "BORDERFUSION_WEB_HOST": "127.0.0.1",
            "BORDERFUSION_WEB_PORT": str(self.port),
            "BORDERFUSION_USERS_FILE": str(self.write_users()),
            "BORDERFUSION_BROKER_SESSION_TIMEOUT_S": "6",
        }
        if self.zones_file:
            env["BORDERFUSION_ZONES_FILE"] = str(self.zones_file)
        if self.tls:
            env["BORDERFUSION_WEB_TLS_CERT"], env["BORDERFUSION_WEB_TLS_KEY"] = map(str, self.tls)
        # the worker entry point without the whole CLI tree (same run_worker as `worker`)
        argv = [sys.executable, "-m", "streams.web.harness", *self.roles]
        log = open(self.workdir / "worker.log", "wb")  # noqa: SIM115 - lives as long as proc
        self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"web worker exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(
                    self.base + "/healthz", timeout=2, context=self._context()
                ) as r:
                    if json.loads(r.read()).get("live_caught_up"):
                        return self
            except (OSError, ValueError):
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"web worker not ready: {self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            return (self.workdir / "worker.log").read_text()[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> WebWorker:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ HTTP helpers

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        cookie: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if cookie:
            hdrs["Cookie"] = cookie
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        opener = urllib.request.build_opener(
            _NoRedirect, urllib.request.HTTPSHandler(context=self._context())
        )
        try:
            with opener.open(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def login(self, name: str) -> str:
        """Log in as a configured user; returns the ``Cookie`` header value."""
        status, headers, body = self.request(
            "POST", "/api/login", body={"username": name, "password": self.users[name][1]}
        )
        if status != 200:
            raise RuntimeError(f"login failed: {status} {body!r}")
        return headers["Set-Cookie"].split(";", 1)[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def main(argv: list[str]) -> int:
    """``python -m streams.web.harness ROLE…``: a worker from ``BORDERFUSION_*`` settings."""
    from streams.commands.common import setup_logging
    from streams.settings import load_settings
    from streams.worker import run_worker

    settings = load_settings()
    setup_logging(settings.log_level, settings.secret_values())
    return run_worker(settings, tuple(argv) or ("web",))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
