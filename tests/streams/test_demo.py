"""`borderfusion demo`: starts everything, the printed URL answers, a killed worker is restarted,
Ctrl-C leaves no process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from streams.broker import free_port
from tests.kafka_utils import ROOT

pytestmark = pytest.mark.slow


def descendants(pid: int) -> set[int]:
    """All live descendants of ``pid``, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def worker_pids(demo_pid: int) -> list[int]:
    """The demo's ``borderfusion worker`` children (``python -m streams.cli worker ...``)."""
    return [
        p
        for p in descendants(demo_pid)
        if alive(p) and "streams.cli" in (argv := cmdline(p)) and "worker" in argv
    ]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "healthz", timeout=3) as r:
            return r.status == 200 and json.loads(r.read())["status"] == "ok"
    except (OSError, ValueError):
        return False


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_demo_serves_the_url_restarts_a_killed_worker_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "demo", "--web-port", str(port), "--workdir",
         str(tmp_path / "demo"), "--speed", "4"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("BORDERFUSION_")})
    seen: set[int] = set()
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 180
        url = password = None
        assert proc.stdout is not None
        while time.monotonic() < deadline and not (url and password):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if m := re.search(r"demo is running: (http://127\.0\.0\.1:\d+/)", line):
                url = m.group(1)
            if m := re.search(r"sign in as: (\S+) / (\S+)", line):
                user, password = m.group(1), m.group(2)
        assert url == f"http://127.0.0.1:{port}/", "".join(lines)
        with urllib.request.urlopen(url + "healthz", timeout=10) as r:
            assert json.loads(r.read())["status"] == "ok"
        seen = descendants(proc.pid)
        assert len(seen) >= 3, "expected broker, worker and simulator children"
        # the simulator feeds the worker: readings are counted within a few seconds
        login = urllib.request.Request(
            url + "api/login", data=json.dumps({"username": user, "password": password}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(login, timeout=10) as r:
            cookie = r.headers["Set-Cookie"].split(";", 1)[0]
        def count_readings() -> int:
            req = urllib.request.Request(url + "api/counts", headers={"Cookie": cookie})
            with urllib.request.urlopen(req, timeout=10) as r:
                return int(json.loads(r.read())["counts"].get("readings", 0))

        readings = 0
        t_end = time.monotonic() + 60
        while readings == 0 and time.monotonic() < t_end:
            readings = count_readings()
            time.sleep(1)
        assert readings > 0
        seen |= descendants(proc.pid)

        # a worker killed from outside (OOM killer, an operator) comes back by itself
        threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True).start()
        [worker] = worker_pids(proc.pid)
        at_kill = count_readings()
        os.kill(worker, signal.SIGKILL)
        restart = re.compile(
            r"worker exited with code -9; restarting it \(restart 1 of 5 in 10 min\); "
            r"log: (\S+worker\.log)$"
        )
        said: list[re.Match[str]] = []
        new: list[int] = []
        t_end = time.monotonic() + 90
        while time.monotonic() < t_end:
            assert proc.poll() is None, "".join(lines)
            said = [m for x in list(lines) if (m := restart.search(x.strip()))]
            new = worker_pids(proc.pid)
            if said and new and healthy(url):
                break
            time.sleep(1)
        assert len(said) == 1, "".join(lines)
        assert new and worker not in new, "".join(lines)
        assert healthy(url), "".join(lines)
        log = Path(said[0].group(1)).read_text(errors="replace")
        assert "supervisor: worker exited with code -9; restarting it (restart 1)" in log
        # ... and consumes again: the count, a table, recovers and goes past its value at the kill
        t_end = time.monotonic() + 45
        while (after := count_readings()) <= at_kill and time.monotonic() < t_end:
            time.sleep(1)
        assert after > at_kill, (at_kill, after)
        seen |= descendants(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    time.sleep(0.5)
    assert [p for p in seen if alive(p)] == []
