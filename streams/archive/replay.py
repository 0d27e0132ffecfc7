"""Replay an archived time window through an isolated pipeline.

An export (a scenario directory under ``OUT/scenario``) followed by the offline driver for
``speed=None`` ("max"), or by ``replay --via-kafka`` (own topic prefix and app id) for a
paced run. Neither touches live topics or live alert state.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.archive.query import ExportResult, alert_history, export_window
from streams.replay import ReplayResult, replay_scenario


def replay_window(
    root: Path | str,
    out_dir: Path | str,
    t_from: float,
    t_to: float,
    *,
    sensors_file: Path,
    zones_file: Path | None = None,
    rules_file: Path | None = None,
    speed: float | None = None,
    reorder_window_s: float = 2.0,
    settings: Any = None,
    sector: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[ReplayResult, ExportResult]:
    """Write ``OUT/tracks.jsonl`` and ``OUT/alerts.jsonl`` for the window.

    Use the live reorder window (``Settings.reorder_window_s``) and the live rules to
    reproduce the live alert ids; pass other ``rules_file`` to backtest.
    """
    out = Path(out_dir)
    exported = export_window(
        root,
        out / "scenario",
        t_from,
        t_to,
        sensors_file=sensors_file,
        zones_file=zones_file,
        rules_file=rules_file,
        sector=sector,
        bbox=bbox,
        progress=progress,
    )
    if speed is None:
        # coordinators' actions in the window replay too (dismissal suppression, escalation)
        acks = [a for acks in alert_history(root, t_from, t_to).acks.values() for a in acks
                if t_from <= float(a.get("t") or 0.0) <= t_to] if rules_file is None else None
        result = replay_scenario(out / "scenario", out, reorder_window_s=reorder_window_s,
                                 acks=acks)
    else:
        from streams.replay_kafka import replay_via_kafka

        if settings is None:
            raise ValueError("a paced replay goes through Kafka: pass settings")
        result = replay_via_kafka(
            out / "scenario", out, settings, speed=speed, reorder_window_s=reorder_window_s
        )
    return result, exported
