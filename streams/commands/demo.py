"""``borderfusion demo``: broker + worker + live simulated border + web UI, on loopback."""

from __future__ import annotations

import argparse
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from streams.commands.common import formatter, settings_from_args

if TYPE_CHECKING:
    from streams.supervise import Supervisor


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo",
        help="everything on this machine: broker, workers, simulator, web UI",
        description="Start the embedded broker, a worker with every role, and a simulator\n"
        "streaming a river-and-forest border scenario in real time; print the\n"
        "web URL. Everything listens on 127.0.0.1 only. Ctrl-C stops it all.\n"
        "A child that dies is restarted, at most 5 times in 10 min; then it all stops.",
        epilog="example:\n  borderfusion demo --speed 2 --web-port 6066",
        formatter_class=formatter(),
    )
    p.add_argument("--port", type=int, default=0, help="broker port (default: a free port)")
    p.add_argument("--web-port", type=int, default=6066, help="web UI port (default 6066)")
    p.add_argument("--seed", type=int, default=7, help="scenario seed")
    p.add_argument("--speed", default="1", help="simulation speed factor (default 1 = real time)")
    p.add_argument("--workdir", default="var/demo", help="where logs and the scenario go")
    p.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    p.set_defaults(func=run)


def _wait_http(url: str, timeout_s: float, sup: Supervisor) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
        if sup.dead():
            return False
    return False


def _restart_dead(sup: Supervisor) -> bool:
    """Report each child's death and restart it after its backoff; False when one has
    spent its restart budget (the demo then stops, as a crash loop will not heal)."""
    window = f"{sup.policy.window_s / 60:g} min"
    for ex in sup.reap():
        log = ex.child.log_path or "(none)"
        if ex.gave_up:
            print(
                f"stopped: {ex.child.name} keeps failing (exited with code {ex.code} after "
                f"{sup.policy.max_restarts} restarts in {window}); see its log: {log}",
                flush=True,
            )
            return False
        print(
            f"{ex.child.name} exited with code {ex.code}; restarting it (restart {ex.restart} "
            f"of {sup.policy.max_restarts} in {window}); log: {log}",
            flush=True,
        )
    sup.restart_due()
    return True


def run(args: argparse.Namespace) -> int:
    from streams.broker import EmbeddedBroker
    from streams.supervise import Supervisor, borderfusion_argv

    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "scenario"
    settings = settings_from_args(args, web_port=args.web_port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    broker = EmbeddedBroker(port=args.port or None, log_file=workdir / "broker.log")
    sup = Supervisor()
    try:
        print("starting the embedded broker…", flush=True)
        broker.start()
        print("writing the scenario layout…", flush=True)
        with open(workdir / "simulate-layout.log", "wb") as log:
            subprocess.run(
                borderfusion_argv(
                    "simulate", "--seed", str(args.seed), "--duration", "60", "--out", str(scenario)
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=300,
            )
        env = {
            "BORDERFUSION_KAFKA_BOOTSTRAP": broker.bootstrap,
            "BORDERFUSION_SENSORS_FILE": str(scenario / "sensors.yaml"),
            "BORDERFUSION_ZONES_FILE": str(scenario / "zones.geojson"),
            "BORDERFUSION_DATA_DIR": str(workdir / "data"),
            "BORDERFUSION_WEB_PORT": str(settings.web_port),
            "BORDERFUSION_WEB_HOST": "127.0.0.1",
            "BORDERFUSION_BROKER_SESSION_TIMEOUT_S": "6",
        }
        if settings.users_file is None:
            from streams.web.auth import ensure_demo_users

            users_file = workdir / "users.yaml"
            username, password = ensure_demo_users(users_file)
            env["BORDERFUSION_USERS_FILE"] = str(users_file)
        else:
            username, password = "(from your users file)", "(unchanged)"
        if (scenario / "rules.yaml").exists():
            env["BORDERFUSION_RULES_FILE"] = str(scenario / "rules.yaml")
        print("starting the worker (ingest, fusion, alerts, web)…", flush=True)
        sup.start(
            "worker",
            borderfusion_argv("worker", "--role", "all"),
            env=env,
            log_path=workdir / "worker.log",
        )
        url = f"http://127.0.0.1:{settings.web_port}/"
        if not _wait_http(url + "healthz", 90, sup):
            print(f"the worker did not come up; see {workdir / 'worker.log'}", flush=True)
            return 1
        sup.start(
            "simulator",
            borderfusion_argv(
                "simulate",
                "--live",
                "--seed",
                str(args.seed),
                "--duration",
                "0",
                "--speed",
                args.speed,
                "--bootstrap",
                broker.bootstrap,
            ),
            env=env,
            log_path=workdir / "simulator.log",
        )
        print(
            f"\nborderfusion demo is running: {url}\n  map: {url}cop\n"
            f"  sign in as: {username} / {password}\n"
            f"  logs: {workdir}\nCtrl-C stops everything.",
            flush=True,
        )
        t_end = time.monotonic() + args.duration if args.duration else None
        while not stop.wait(1.0):
            if not _restart_dead(sup):
                return 1
            if t_end and time.monotonic() > t_end:
                break
        return 0
    finally:
        print("stopping…", flush=True)
        sup.stop_all()
        broker.stop()
        print("stopped.", flush=True)
