"""``borderfusion archive list|verify|export|replay|backtest``: the analysts' archive."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from streams.commands.common import (
    add_config_file_flags,
    command_group,
    formatter,
    settings_from_args,
)

DESCRIPTION = """\
The archive keeps every readings.*, alerts and alerts.acks record in hash-chained,
gzip segments (one per topic and hour) under BORDERFUSION_ARCHIVE_DIR (default
<data_dir>/archive), written by `borderfusion worker --role archive`.

  list      segments with their times, record counts and SHA-256
  verify    recompute the hash chain; names the first altered or missing segment, exit 1
  export    a time window's readings as a replayable scenario directory (DESIGN §8)
  replay    run a window through an isolated pipeline: tracks.jsonl + alerts.jsonl
  backtest  replay a window with other rules; alerts added/removed/changed vs live

Times are ISO 8601 (2024-06-01T03:30:00Z) or epoch seconds.
"""

EPILOG = """\
examples:
  borderfusion archive list --topic alerts
  borderfusion archive verify && echo intact
  borderfusion archive export --from 2024-06-01T03:30:00Z --to 2024-06-01T03:40:00Z \\
      --bbox 30.50,51.48,30.60,51.52 --out /tmp/window
  borderfusion archive replay --from 2024-06-01T03:30:00Z --to 2024-06-01T03:40:00Z \\
      --speed max --out /tmp/replayed
  borderfusion archive backtest --from 2024-06-01T03:30:00Z --to 2024-06-01T03:40:00Z \\
      --rules stricter-rules.yaml --json
"""


WINDOW_ACTIONS = (
    (
        "export",
        "write a window as a replayable scenario",
        "Write a time window's archived readings as a scenario directory (DESIGN §8):\n"
        "readings.jsonl plus the sensor registry, zones and rules, ready for\n"
        "`borderfusion replay`. --sector/--bbox keep only readings observed there.\n"
        "Times are ISO 8601 (2024-06-01T03:30:00Z) or epoch seconds.",
    ),
    (
        "replay",
        "replay a window through an isolated pipeline",
        "Export a window (into OUT/scenario) and run it through a pipeline of its own:\n"
        "OUT/tracks.jsonl and OUT/alerts.jsonl. Live topics and live alert state are\n"
        "never touched; with the live rules the alert ids are the live ones.\n"
        "Times are ISO 8601 (2024-06-01T03:30:00Z) or epoch seconds.",
    ),
    (
        "backtest",
        "replay a window with other rules and diff the alerts",
        "Replay a window with candidate rules and list the alerts added, removed and\n"
        "changed against what fired live (or, with --baseline replay, against a replay\n"
        "with the live rules, which isolates the rule change from replay effects).\n"
        "Times are ISO 8601 (2024-06-01T03:30:00Z) or epoch seconds.",
    ),
)

WINDOW_EXAMPLES = {
    "export": "examples:\n"
    "  borderfusion archive export --from 2024-06-01T03:30:00Z --to 2024-06-01T03:40:00Z \\\n"
    "      --bbox 30.50,51.48,30.60,51.52 --out /tmp/window\n"
    "  borderfusion replay /tmp/window --out /tmp/window-run",
    "replay": "examples:\n"
    "  borderfusion archive replay --from 2024-06-01T03:30:00Z --to 2024-06-01T03:40:00Z \\\n"
    "      --speed max --out /tmp/replayed\n"
    "  borderfusion archive replay --from 1717212600 --to 1717213200 --sector sector-2 \\\n"
    "      --speed 10 --out /tmp/paced",
    "backtest": "examples:\n"
    "  borderfusion archive backtest --from 2024-06-01T03:30:00Z --to 2024-06-01T03:40:00Z \\\n"
    "      --rules stricter-rules.yaml --json\n"
    "  borderfusion archive backtest --from 1717212600 --to 1717213200 \\\n"
    "      --rules stricter-rules.yaml --baseline replay --work /tmp/bt",
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p, s = command_group(
        sub,
        "archive",
        dest="archive_command",
        metavar="ACTION",
        help="list, verify, export, replay and backtest the archive",
        description=DESCRIPTION,
        epilog=EPILOG,
    )
    p.add_argument(
        "--archive",
        metavar="DIR",
        type=Path,
        help="archive root (default: BORDERFUSION_ARCHIVE_DIR or <data_dir>/archive)",
    )

    ls = s.add_parser(
        "list",
        help="segments with times, counts, hashes",
        description="List segments: topic, seq, event-time range, records, "
        "bytes, SHA-256 (open segments show 'open').",
        epilog="example:\n  borderfusion archive list --topic readings.radar",
        formatter_class=formatter(),
    )
    ls.add_argument("--topic", action="append", help="only this topic (repeatable)")
    ls.add_argument("--json", action="store_true", help="one JSON object per segment")
    ls.set_defaults(func=cmd_list)

    v = s.add_parser(
        "verify",
        help="recompute the hash chain (exit 1 on the first problem)",
        description="Recompute every manifest hash, chain link and segment "
        "SHA-256. Exit 0 if intact; otherwise print the first altered "
        "or missing segment (and all problems) and exit 1.",
        epilog="example:\n  borderfusion archive verify --json",
        formatter_class=formatter(),
    )
    v.add_argument("--json", action="store_true", help="one JSON object with every problem")
    v.set_defaults(func=cmd_verify)

    for name, helptext, description in WINDOW_ACTIONS:
        sp = s.add_parser(
            name,
            help=helptext,
            description=description,
            epilog=WINDOW_EXAMPLES[name],
            formatter_class=formatter(),
        )
        sp.add_argument(
            "--from", dest="t_from", required=True, metavar="T1", help="window start (inclusive)"
        )
        sp.add_argument(
            "--to", dest="t_to", required=True, metavar="T2", help="window end (inclusive)"
        )
        add_config_file_flags(sp)
        if name != "backtest":
            sp.add_argument("--sector", help="only readings observed in this sector")
            sp.add_argument(
                "--bbox",
                metavar="MINLON,MINLAT,MAXLON,MAXLAT",
                help="only readings observed inside this box",
            )
        if name in ("export", "replay"):
            sp.add_argument(
                "--out", required=True, type=Path, metavar="DIR", help="directory to write"
            )
        if name == "replay":
            sp.add_argument(
                "--speed",
                default="max",
                metavar="N|max",
                help="'max' in-process (default), or N× real time via Kafka in "
                "its own topic namespace",
            )
            sp.add_argument("--rules", type=Path, help="rules.yaml (default: the live rules)")
        if name == "export":
            sp.add_argument("--rules", type=Path, help="rules.yaml to copy (default: live)")
        if name == "backtest":
            sp.add_argument("--rules", type=Path, required=True, help="the candidate rules")
            sp.add_argument("--live-rules", type=Path, help="default: the configured rules")
            sp.add_argument(
                "--baseline",
                choices=("live", "replay"),
                default="live",
                help="compare with what fired live (default) or with a replay "
                "using the live rules (isolates the rule change)",
            )
            sp.add_argument("--work", type=Path, help="keep the replays here (default: temp)")
            sp.add_argument("--json", action="store_true", help="machine-readable result")
        sp.set_defaults(
            func={"export": cmd_export, "replay": cmd_replay, "backtest": cmd_backtest}[name]
        )


class Progress:
    """A small stderr progress line (bytes read), refreshed at most 5× a second."""

    def __init__(self, label: str, total: int = 0) -> None:
        self.label, self.total, self.done, self._last = label, total, 0, 0.0
        self.enabled = sys.stderr.isatty()

    def __call__(self, n: int) -> None:
        self.done += n
        if self.enabled and time.monotonic() - self._last > 0.2:
            self._last = time.monotonic()
            pct = f" {100 * self.done / self.total:5.1f}%" if self.total else ""
            print(f"\r{self.label}: {self.done / 1e6:8.1f} MB{pct}", end="", file=sys.stderr)

    def close(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


def _root(args: argparse.Namespace) -> tuple[Path, Any]:
    settings = settings_from_args(args)
    return (args.archive or settings.archive_path), settings


def _config_files(args: argparse.Namespace, settings: Any) -> tuple[Path, Path | None]:
    sensors = args.sensors or settings.sensors_file
    if sensors is None:
        raise SystemExit(
            "archive: no sensor registry: pass --sensors or set BORDERFUSION_SENSORS_FILE"
        )
    return Path(sensors), args.zones or settings.zones_file


def _window(args: argparse.Namespace) -> tuple[float, float]:
    from streams.archive.query import parse_time

    try:
        t_from, t_to = parse_time(args.t_from), parse_time(args.t_to)
    except ValueError as exc:
        raise SystemExit(f"archive: bad time: {exc}") from exc
    if t_to < t_from:
        raise SystemExit("archive: --to is before --from")
    return t_from, t_to


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    parts = [float(x) for x in text.split(",")]
    if len(parts) != 4:
        raise SystemExit("archive: --bbox needs minlon,minlat,maxlon,maxlat")
    return parts[0], parts[1], parts[2], parts[3]


def cmd_list(args: argparse.Namespace) -> int:
    from streams.archive.query import iso, list_segments

    root, _ = _root(args)
    for seg in list_segments(root, args.topic):
        if args.json:
            print(json.dumps(seg.to_dict()))
        else:
            print(
                f"{seg.topic:17} {seg.seq:6d} {iso(seg.t_first)} .. {iso(seg.t_last)} "
                f"{seg.records:8d} rec {seg.bytes:10d} B  "
                f"{seg.sha256[:16] if seg.sha256 else 'open':16}  {seg.path.name}"
            )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from streams.archive.store import verify_archive

    root, _ = _root(args)
    if not root.is_dir():
        print(f"archive verify: no archive at {root}", file=sys.stderr)
        return 2
    prog = Progress("verify")
    report = verify_archive(root, progress=prog)
    prog.close()
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "segments": report.segments,
                    "bytes": report.bytes,
                    "seconds": round(report.seconds, 3),
                    "heads": report.heads,
                    "open_segments": report.open_segments,
                    "first_problem": str(report.first) if report.first else None,
                    "problems": [vars(p) for p in report.problems],
                }
            )
        )
    elif report.ok:
        print(
            f"archive intact: {report.segments} segments, {report.bytes} bytes verified in "
            f"{report.seconds:.2f} s; {len(report.open_segments)} open segment(s)"
        )
        for topic, head in report.heads.items():
            print(f"  head {topic:17} {head}")
    else:
        print(f"ARCHIVE NOT INTACT: first problem: {report.first}")
        for p in report.problems[1:]:
            print(f"  also: {p}")
    return 0 if report.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    from streams.archive.query import export_window

    root, settings = _root(args)
    sensors, zones = _config_files(args, settings)
    t_from, t_to = _window(args)
    prog = Progress("export")
    res = export_window(
        root,
        args.out,
        t_from,
        t_to,
        sensors_file=sensors,
        zones_file=zones,
        rules_file=args.rules or settings.rules_file,
        sector=args.sector,
        bbox=_bbox(args.bbox),
        progress=prog,
    )
    prog.close()
    print(
        json.dumps(
            {
                "out": str(res.out_dir),
                "readings": res.readings,
                "t_first": res.t_first,
                "t_last": res.t_last,
            }
        ),
        file=sys.stderr,
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.archive.replay import replay_window

    root, settings = _root(args)
    sensors, zones = _config_files(args, settings)
    t_from, t_to = _window(args)
    speed = None if str(args.speed).lower() == "max" else float(args.speed)
    prog = Progress("replay: reading archive")
    result, exported = replay_window(
        root,
        args.out,
        t_from,
        t_to,
        sensors_file=sensors,
        zones_file=zones,
        rules_file=args.rules or settings.rules_file,
        speed=speed,
        reorder_window_s=settings.reorder_window_s,
        settings=settings,
        sector=args.sector,
        bbox=_bbox(args.bbox),
        progress=prog,
    )
    prog.close()
    print(json.dumps({**result.summary(), "exported_readings": exported.readings}), file=sys.stderr)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    import tempfile

    from streams.archive.backtest import backtest

    root, settings = _root(args)
    sensors, zones = _config_files(args, settings)
    t_from, t_to = _window(args)
    with tempfile.TemporaryDirectory(prefix="bf-backtest-") as tmp:
        report = backtest(
            root,
            args.work or tmp,
            t_from,
            t_to,
            rules_file=args.rules,
            live_rules_file=args.live_rules or settings.rules_file,
            sensors_file=sensors,
            zones_file=zones,
            baseline=args.baseline,
            reorder_window_s=settings.reorder_window_s,
        )
    print(json.dumps(report.to_dict()) if args.json else report.table())
    return 0
