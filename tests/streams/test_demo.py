"""`borderfusion demo`: starts everything, the printed URL answers, Ctrl-C leaves no process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
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


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_demo_serves_the_printed_url_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
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
        readings = 0
        t_end = time.monotonic() + 60
        while readings == 0 and time.monotonic() < t_end:
            req = urllib.request.Request(url + "api/counts", headers={"Cookie": cookie})
            with urllib.request.urlopen(req, timeout=10) as r:
                readings = json.loads(r.read())["counts"].get("readings", 0)
            time.sleep(1)
        assert readings > 0
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
