"""Fault-injection scenarios on a real broker, with a report of what was injected and found.

    python scripts/chaos.py [--broker tansu|kafka] [--duration 90] [--speed 3]

Simulated readings (``borderfusion simulate``, event time = now) go through a real
``borderfusion gateway`` into a real ``borderfusion worker`` (ingest, fusion, alerts). The
reference is the offline engine (``borderfusion replay``) over the same readings, which
gives the same alert ids as a live run (docs/architecture.md).

1. worker-kill: SIGKILL the worker mid-stream, restart it; compare distinct alert ids and
   track ids against the reference, and count duplicate (alert_id, t_last, status) versions.
2. broker-outage: stop the broker for ``--outage`` s under load; the gateway spools; on
   restart the spool drains in order; the worker is restarted if it exited.
3. poison: bad records on every topic (tests/streams/test_faults.py's set) during run 1:
   each must reach ``deadletter`` with a reason, without changing the good run's alerts.
4. flood: one sensor at 10x its rate through the gateway; its excess is ``rate_limited``
   while another sensor in the same requests loses nothing.

Writes a table to stdout and ``benchmarks/results/chaos.md`` / ``chaos.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kafka import KafkaProducer  # noqa: E402

from sensors.gateway.auth import hash_token  # noqa: E402
from streams.broker import _die_with_parent, free_port  # noqa: E402
from tests.fault_broker import RestartableBroker  # noqa: E402
from tests.kafka_utils import LenientReader, flatten, start_worker, stop_process  # noqa: E402

REORDER_S = "10"
ROLES = ["ingest", "fusion", "alerts"]


class Lenient(LenientReader):
    def drain(self, quiet_s: float = 8.0, timeout_s: float = 120.0) -> list[Any]:
        """Poll until nothing new arrived for ``quiet_s``."""
        deadline = time.monotonic() + timeout_s
        last_n, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = len(self.poll())
            if n != last_n:
                last_n, last_change = n, time.monotonic()
            elif time.monotonic() - last_change > quiet_s:
                break
        return self.values()


def sh(*argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        **kw,
    )


def simulate(d: Path, duration: int, start: float) -> list[dict[str, Any]]:
    iso = dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sh("simulate", "--out", str(d), "--duration", str(duration), "--seed", "7", "--start", iso)
    return [json.loads(x) for x in (d / "readings.jsonl").read_text().splitlines() if x]


def replay(d: Path, out: Path) -> tuple[dict[str, str], set[str]]:
    """The offline replay's alert ids (→ rule) and track ids."""
    sh("replay", str(d), "--out", str(out), "--reorder-window", REORDER_S)
    alerts = {
        a["alert_id"]: a["rule"]
        for a in map(json.loads, (out / "alerts.jsonl").read_text().splitlines())
    }
    tracks = {
        json.loads(x)["track_id"] for x in (out / "tracks.jsonl").read_text().splitlines() if x
    }
    return alerts, tracks


class GatewayProc:
    def __init__(self, work: Path, bootstrap: str, prefix: str, sensors: Path) -> None:
        tokens = {
            "tokens": [
                {
                    "name": "chaos",
                    "token_sha256": hash_token("chaos"),
                    "sensors": ["*"],
                    "rate_per_s": 1000,
                    "burst": 2000,
                }
            ]
        }
        (work / "tokens.yaml").write_text(json.dumps(tokens))
        (work / "tokens.yaml").chmod(0o600)
        self.port = free_port()
        argv = [
            sys.executable,
            "-m",
            "streams.cli",
            "gateway",
            "--port",
            str(self.port),
            "--tokens",
            str(work / "tokens.yaml"),
            "--spool",
            str(work / "spool"),
            "--sensors",
            str(sensors),
            "--bootstrap",
            bootstrap,
            "--topic-prefix",
            prefix,
        ]
        log = open(work / "gateway.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
        log.close()
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.health()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gateway did not start; see " + str(work / "gateway.log"))

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/healthz", timeout=5) as r:
            return json.loads(r.read())

    def post(self, kind: str, readings: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        body = b"".join(json.dumps(r).encode() + b"\n" for r in readings)
        req = urllib.request.Request(
            f"{self.url}/ingest/{kind}",
            data=body,
            method="POST",
            headers={"Authorization": "Bearer chaos"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> None:
        stop_process(self.proc)


def pace(
    records: list[dict[str, Any]], speed: float, send: Any, events: dict[float, Any] | None = None
) -> Counter[str]:
    """Send the recorded stream per 1 s of event time, ``speed`` x real time; ``events``
    maps a fraction of the run (0..1) to a callable fired once when it is reached."""
    stats: Counter[str] = Counter()
    if not records:
        return stats
    t0 = records[0]["value"]["t"] if isinstance(records[0]["value"], dict) else 0
    wall0 = time.monotonic()
    span = (
        max(1.0, records[-1]["value"]["t"] - t0) if isinstance(records[-1]["value"], dict) else 1.0
    )
    pending = sorted((events or {}).items())
    i = 0
    while i < len(records):
        sec = records[i]["value"]["t"]
        chunk: dict[str, list[dict[str, Any]]] = {}
        while i < len(records) and records[i]["value"]["t"] < sec + 1.0:
            r = records[i]
            chunk.setdefault(r["topic"].split(".", 1)[1], []).append(r["value"])
            i += 1
        for kind, vals in chunk.items():
            status, body = send(kind, vals)
            stats[f"http_{status}"] += 1
            stats["accepted"] += body.get("accepted", 0)
            stats["spooled"] += body.get("spooled", 0)
            for rej in body.get("rejected", []):
                stats[f"rejected_{rej['reason']}"] += 1
        frac = (sec - t0) / span
        while pending and pending[0][0] <= frac:
            pending.pop(0)[1]()
        delay = wall0 + (sec + 1.0 - t0) / speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for _, fn in pending:
        fn()
    return stats


def _flat(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        for v in r["value"] if isinstance(r["value"], list) else [r["value"]]:
            out.append({"topic": r["topic"], "value": v})
    out.sort(key=lambda r: r["value"]["t"])
    return out


# ----------------------------------------------------------------------------- scenarios


def run_kill_and_poison(
    args: argparse.Namespace,
    work: Path,
    bootstrap: str,
    scen: Path,
    records: list[dict[str, Any]],
    ref_alerts: dict[str, str],
    ref_tracks: set[str],
) -> list[dict[str, Any]]:
    from tests.streams.test_faults import poison_records

    prefix = f"chaos{int(time.time())}a."
    env = {
        "BORDERFUSION_SENSORS_FILE": str(scen / "sensors.yaml"),
        "BORDERFUSION_ZONES_FILE": str(scen / "zones.geojson"),
        "BORDERFUSION_DATA_DIR": str(work / "var"),
        "BORDERFUSION_REORDER_WINDOW_S": REORDER_S,
        # the alerts agent reads `tracks` (as compose and Helm deploy it, alerts workers
        # apart), so the poison on `tracks` has a pipeline reader; the rules-in-fusion mode's
        # kill and restart: tests/streams/test_alerts_e2e.py
        "BORDERFUSION_ALERTS_INLINE": "false",
    }
    if (scen / "rules.yaml").exists():
        env["BORDERFUSION_RULES_FILE"] = str(scen / "rules.yaml")
    worker = start_worker(bootstrap, prefix, env, ROLES, work / "worker.log")
    gw = GatewayProc(work, bootstrap, prefix, scen / "sensors.yaml")
    state: dict[str, Any] = {"worker": worker}
    poison = poison_records(time.time() - 30)
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=1_000_000)
    tracks_r = Lenient(bootstrap, prefix + "tracks")

    def kill() -> None:
        tracks_r.poll()
        state["tracks_before"] = {
            u["track_id"]
            for u in flatten(tracks_r.values())
            if isinstance(u, dict) and "track_id" in u
        }
        state["worker"].send_signal(signal.SIGKILL)
        state["worker"].wait()
        state["killed_at"] = time.time()
        time.sleep(3)
        state["worker"] = start_worker(bootstrap, prefix, env, ROLES, work / "worker.log")

    def inject_poison() -> None:
        for topic, value, _ in poison:
            producer.send(prefix + topic, key=b"chaos", value=value)
        producer.flush(30)

    try:
        time.sleep(8)  # let the worker join its group before the load starts
        stats = pace(records, args.speed, gw.post, {0.3: inject_poison, 0.5: kill})
        alerts_r = Lenient(bootstrap, prefix + "alerts")
        alerts = alerts_r.drain(quiet_s=15, timeout_s=180)
        tracks = tracks_r.drain(quiet_s=5, timeout_s=60)
        dead = Lenient(bootstrap, prefix + "deadletter").drain(quiet_s=3, timeout_s=60)
        obs_r = Lenient(bootstrap, prefix + "observations")
        obs_r.drain(quiet_s=3, timeout_s=60)
    finally:
        producer.close()
        gw.stop()
        stop_process(state["worker"])
    for name, values in (("alerts", alerts), ("tracks", tracks), ("deadletter", dead)):
        with (work / f"live_{name}.jsonl").open("w") as f:  # kept with --keep
            f.writelines(json.dumps(v) + "\n" for v in values)
    with (work / "live_observations.jsonl").open("w") as f:  # with partition, offset, time
        for r in obs_r.records:
            f.write(json.dumps({"partition": r.partition, "offset": r.offset,
                                "ts": r.timestamp, "value": r.value.decode(errors="replace"),
                                "headers": [[k, v.decode(errors="replace")]
                                            for k, v in (r.headers or [])]}) + "\n")
    got_alerts = {a["alert_id"] for a in alerts}
    ref_ids = set(ref_alerts)
    versions = Counter((a["alert_id"], a["t_last"], a["status"]) for a in alerts)
    track_ids = {u["track_id"] for u in flatten(tracks) if isinstance(u, dict) and "track_id" in u}
    after = {
        u["track_id"]
        for u in flatten(tracks)
        if isinstance(u, dict) and "track_id" in u and u.get("t", 0) > state.get("killed_at", 0) - 1
    }
    continued = state.get("tracks_before", set()) & after
    reasons: dict[str, list[str]] = {}
    for d in dead:
        reasons.setdefault(d["source"], []).append(d["reason"])
    poison_found = 0
    for topic, _, expect in poison:
        got = reasons.get(topic, [])
        hit = next((r for r in got if r in expect), None)
        if hit:
            got.remove(hit)
            poison_found += 1
    return [
        {
            "scenario": "1 worker SIGKILL + restart",
            "injected": f"kill -9 at 50% of {len(records)} readings, restart after 3 s",
            "found": (
                f"alerts {len(got_alerts & ref_ids)}/{len(ref_ids)} reference ids "
                f"(lost {len(ref_ids - got_alerts)}, extra {len(got_alerts - ref_ids)}); "
                f"versions seen twice on `alerts`: "
                f"{sum(1 for n in versions.values() if n > 1)}; tracks alive at the kill "
                f"continuing after it: {len(continued)}/{len(state.get('tracks_before', []))}"
                f"; track ids {len(track_ids & ref_tracks)}/{len(ref_tracks)} reference"
            ),
            "ok": not (ref_ids - got_alerts),
            "detail": {
                "lost": [f"{i} {ref_alerts[i]}" for i in sorted(ref_ids - got_alerts)],
                "extra": sorted(got_alerts - ref_ids),
                "http": dict(stats),
            },
        },
        {
            "scenario": "3 poison on every topic",
            "injected": f"{len(poison)} bad records on readings.*, observations, tracks, "
            "alerts.acks (truncated JSON, wrong types, 600 kB, NaN/inf, future/"
            "ancient t, unknown sensors)",
            "found": f"{poison_found}/{len(poison)} dead-lettered with the expected reason; "
            f"dead letters by source: "
            + ", ".join(f"{k}={v}" for k, v in sorted(Counter(d["source"] for d in dead).items())),
            "ok": poison_found == len(poison),
            "detail": {
                "reasons": dict(sorted(Counter(f"{d['source']}:{d['reason']}" for d in dead).items()))
            },
        },
    ]


def run_flood(work: Path, bootstrap: str, scen: Path) -> dict[str, Any]:
    prefix = f"chaos{int(time.time())}f."
    from streams.settings import Settings
    from streams.topics import ensure_topics

    ensure_topics(Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix, partitions=2))
    (work / "flood").mkdir(exist_ok=True)
    gw = GatewayProc(work / "flood", bootstrap, prefix, scen / "sensors.yaml")
    sent = Counter()
    acc = Counter()
    limited = Counter()
    try:
        t0 = time.time()
        for step in range(20):  # 10 s; R1 at 10 x 9.5 plots/s, R2 at its normal 7.5/s
            now = time.time()
            batch = [
                {"sensor_id": "R1", "t": now, "range_m": 1000.0 + i, "bearing_deg": 30.0}
                for i in range(48)
            ]
            batch += [
                {"sensor_id": "R2", "t": now, "range_m": 800.0 + i, "bearing_deg": 5.0}
                for i in range(4)
            ]
            status, body = gw.post("radar", batch)
            rej = {r["index"]: r["reason"] for r in body.get("rejected", [])}
            for i, r in enumerate(batch):
                sent[r["sensor_id"]] += 1
                if i in rej:
                    limited[(r["sensor_id"], rej[i])] += 1
                else:
                    acc[r["sensor_id"]] += 1
            time.sleep(max(0.0, t0 + (step + 1) * 0.5 - time.time()))
        elapsed = time.time() - t0
        # once the dead-letter budget has room again, the next request (a normal one of
        # R2's) writes the summary of the refusals it held
        time.sleep(0.5)
        reading = {"sensor_id": "R2", "t": time.time(), "range_m": 790.0, "bearing_deg": 5.0}
        gw.post("radar", [reading])
        sent["R2"] += 1
        acc["R2"] += 1
    finally:
        gw.stop()
    dead = [d for d in Lenient(bootstrap, prefix + "deadletter").drain(quiet_s=3, timeout_s=60)
            if isinstance(d, dict) and d.get("reason") == "rate_limited"]
    counted = sum(int(d.get("count", 1)) for d in dead)
    # R1 gets at most its budget (60/s + a 120 burst, +5% for timing); R2 loses nothing; every
    # refusal is in the dead letters' counts, in far fewer records than refusals
    refused = limited[("R1", "rate_limited")]
    ok = (acc["R2"] == sent["R2"] and acc["R1"] <= 1.05 * (60 * elapsed + 120)
          and counted == refused and len(dead) < max(refused, 1))
    return {
        "scenario": "4 flooding sensor",
        "injected": f"R1 at {sent['R1'] / elapsed:.0f} readings/s (10x its rate) and R2 at "
        f"{sent['R2'] / elapsed:.0f}/s in the same requests, {elapsed:.0f} s",
        "found": f"R1 accepted {acc['R1']}/{sent['R1']} ({acc['R1'] / elapsed:.0f}/s; "
        f"budget 60/s, burst 120), rate_limited {refused} (in {len(dead)} dead letters whose "
        f"counts add up to {counted}); R2 accepted {acc['R2']}/{sent['R2']}",
        "ok": ok,
        "detail": {"limited": {f"{k[0]}:{k[1]}": v for k, v in limited.items()}},
    }


def run_outage(
    args: argparse.Namespace, work: Path, scen: Path, records: list[dict[str, Any]]
) -> dict[str, Any]:
    prefix = f"chaos{int(time.time())}o."
    (work / "outage").mkdir(exist_ok=True)
    with RestartableBroker(args.broker, work / "outage" / "broker") as broker:
        broker.create_topics(prefix)
        env = {
            "BORDERFUSION_SENSORS_FILE": str(scen / "sensors.yaml"),
            "BORDERFUSION_DATA_DIR": str(work / "outage" / "var"),
        }
        worker = start_worker(
            broker.bootstrap, prefix, env, ["ingest"], work / "outage" / "worker.log"
        )
        gw = GatewayProc(work / "outage", broker.bootstrap, prefix, scen / "sensors.yaml")
        notes: dict[str, Any] = {}
        time.time()
        seq = iter(range(10**9))
        radar = [r for r in records if r["topic"] == "readings.radar"]

        def load(seconds: float) -> Counter[str]:
            st: Counter[str] = Counter()
            end = time.time() + seconds
            i = 0
            while time.time() < end:
                vals = [
                    {**radar[(i + k) % len(radar)]["value"], "t": time.time(), "seq": next(seq)}
                    for k in range(10)
                ]
                i += 10
                status, body = gw.post("radar", vals)
                st[f"http_{status}"] += 1
                st["accepted"] += body.get("accepted", 0)
                st["spooled"] += body.get("spooled", 0)
                time.sleep(0.25)
            return st

        try:
            time.sleep(5)
            before = load(10)
            broker.stop()
            t_down = time.time()
            during = load(args.outage)
            notes["spool_depth_at_restart"] = gw.health()["spool_depth"]
            broker.start()
            notes["restart_s"] = round(time.time() - t_down, 1)
            broker.create_topics(prefix)
            worker_exited = worker.poll() is not None
            notes["worker_exit_code"] = worker.returncode
            if worker_exited:
                worker = start_worker(
                    broker.bootstrap, prefix, env, ["ingest"], work / "outage" / "worker.log"
                )
            after = load(10)
            drained_at = None
            deadline = time.time() + 120
            while time.time() < deadline:
                if gw.health()["spool_depth"] == 0:
                    drained_at = time.time()
                    break
                time.sleep(0.5)
            total = before["accepted"] + during["accepted"] + after["accepted"]
            rd = Lenient(broker.bootstrap, prefix + "readings.radar")
            got = [r for r in flatten(rd.drain(quiet_s=4, timeout_s=60)) if "seq" in r]
            seqs = [r["seq"] for r in got]
            # order is per sensor (= per Kafka key and partition), not across partitions
            per_sensor: dict[str, list[int]] = {}
            for r in got:
                per_sensor.setdefault(r["sensor_id"], []).append(r["seq"])
            first_kept = before["accepted"] if not broker.keeps_data else 0
            expected = set(range(first_kept, total))
            obs = Lenient(broker.bootstrap, prefix + "observations").drain(quiet_s=8, timeout_s=120)
            n_obs = sum(
                1
                for o in flatten(obs)
                if isinstance(o, dict)
                and o.get("t", 0) > t_down
                and not o.get("attrs", {}).get("halo")
            )
        finally:
            gw.stop()
            stop_process(worker)
    in_order = all(v == sorted(v) for v in per_sensor.values())
    duplicates = len(seqs) - len(set(seqs))
    complete = expected <= set(seqs)
    lost_note = (
        "Tansu is memory-only: the broker restart dropped the "
        f"{before['accepted']} readings acked before the outage (and the worker's "
        "offsets); everything spooled during the outage arrived"
        if not broker.keeps_data
        else "Apache Kafka kept its data across the restart"
    )
    return {
        "scenario": f"2 broker stopped {args.outage:.0f} s",
        "injected": f"{args.broker} stopped under load for {notes['restart_s']} s "
        f"(gateway accepting 40 readings/s throughout)",
        "found": f"gateway spooled {during['spooled']} readings (depth "
        f"{notes['spool_depth_at_restart']}), drained "
        f"{'in %.0f s' % (drained_at - t_down - notes['restart_s']) if drained_at else 'NOT'}"
        f" after restart; in order per sensor: {in_order}; complete: {complete}; "
        f"duplicates: {duplicates}; worker "
        f"{'exited (code {}) and was restarted'.format(notes['worker_exit_code']) if worker_exited else 'reconnected by itself'}"
        f"; {n_obs} observations after the outage. {lost_note}",
        "ok": in_order and complete and n_obs > 0,
        "detail": {"before": dict(before), "during": dict(during), "after": dict(after)},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--broker", choices=("tansu", "kafka"), default="tansu")
    p.add_argument("--duration", type=int, default=90, help="scenario seconds (event time)")
    p.add_argument("--speed", type=float, default=3.0, help="x real time for the load")
    p.add_argument("--outage", type=float, default=30.0, help="broker outage, s")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "chaos"))
    p.add_argument("--only", default="1,2,3,4", help="scenarios to run (3 runs with 1)")
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (scenario, "
                   "reference replay, worker and gateway logs) instead of a temporary dir")
    args = p.parse_args(argv)
    only = set(args.only.split(","))
    started = time.time()
    rows: list[dict[str, Any]] = []
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(args.keep) if args.keep
          else tempfile.TemporaryDirectory(prefix="chaos-")) as tmp:
        work = Path(tmp)
        scen = work / "scenario"
        flat = _flat(simulate(scen, args.duration, time.time()))
        with RestartableBroker(args.broker, work / "broker") as broker:
            if "1" in only or "3" in only:
                # event time starts at the wall clock when the load starts (after the
                # worker's start-up), so the gateway sees live readings
                shift = time.time() + 25 - flat[0]["value"]["t"]
                for r in flat:
                    r["value"]["t"] = round(r["value"]["t"] + shift, 3)
                # the reference sees exactly what the gateway will get
                (scen / "readings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in flat))
                ref_alerts, ref_tracks = replay(scen, work / "ref")
                print(
                    f"reference: {len(ref_alerts)} alerts, {len(ref_tracks)} tracks "
                    f"from {len(flat)} readings",
                    file=sys.stderr,
                )
                rows += run_kill_and_poison(
                    args, work, broker.bootstrap, scen, flat, ref_alerts, ref_tracks
                )
            if "4" in only:
                rows.append(run_flood(work, broker.bootstrap, scen))
        if "2" in only:
            rows.append(run_outage(args, work, scen, flat))
    elapsed = time.time() - started
    write_report(rows, args, elapsed)
    return 0 if all(r["ok"] for r in rows) else 1


def write_report(rows: list[dict[str, Any]], args: argparse.Namespace, elapsed: float) -> None:
    lines = [
        f"# Chaos run ({args.broker}, {elapsed:.0f} s, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`python scripts/chaos.py --broker {args.broker} --duration {args.duration} "
        f"--speed {args.speed} --outage {args.outage:g}`",
        "",
        "| scenario | injected | found | ok |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['injected']} | {r['found']} | "
            f"{'yes' if r['ok'] else '**NO**'} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(
        json.dumps(
            {"broker": args.broker, "elapsed_s": round(elapsed, 1), "rows": rows},
            indent=2,
            default=str,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
