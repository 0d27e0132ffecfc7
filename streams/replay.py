"""The offline driver: run a recorded scenario (DESIGN §8) through the engine in-process.

Same stages as the agents, same bucketed fusion, so the alerts (and their ids) match a
run through Kafka. Readings are taken in file order (sorted by ``t`` per the format);
event-time checks against the wall clock are off, since recordings are old by nature.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusion.types import Alert, TrackUpdate
from sensors.recorded import BadLine, iter_recorded
from streams.engine import AlertStage, Context, FusionStage, IngestStage, alert_sector


@dataclass
class ReplayResult:
    readings: int = 0
    observations: int = 0
    track_updates: int = 0
    deadletters: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)  # newest version per alert id
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        by_rule: dict[str, int] = {}
        for a in self.alerts.values():
            by_rule[a.rule] = by_rule.get(a.rule, 0) + 1
        return {"readings": self.readings, "observations": self.observations,
                "track_updates": self.track_updates, "alerts": len(self.alerts),
                "alerts_by_rule": by_rule, "deadletters": self.deadletters,
                "seconds": round(self.seconds, 3)}


class OfflinePipeline:
    """ingest → fuse → rules over plain records; ``on_tracks`` sees every bucket of updates.

    ``acks`` (records of ``alerts.acks``) are applied as the replay's event time passes
    their ``t``, once their alert exists — as coordinators' acks reached the live alert
    state — so dismissal suppression and escalation replay as they happened live.
    """

    def __init__(self, ctx: Context,
                 on_tracks: Callable[[str, list[TrackUpdate]], None] | None = None,
                 acks: list[dict[str, Any]] | None = None) -> None:
        self.ctx = ctx
        self.pending_acks = sorted(acks or [], key=lambda a: float(a.get("t") or 0.0))
        self.ingest = IngestStage(ctx, now=lambda: math.nan)
        self.fusion = FusionStage(ctx)
        self.alerts = AlertStage(ctx)
        self.on_tracks = on_tracks
        self.result = ReplayResult()

    def feed(self, topic: str, value: Any) -> None:
        res = self.ingest.ingest(topic, value)
        self.result.readings += res.accepted
        self.result.observations += len(res.observations)
        for dl in res.deadletters:
            self._dead(dl.reason)
        # proof of life for the sensor-silence rule
        for sector, seen in self.ctx.seen_by_home(res.seen).items():
            for alert in self.alerts.note_seen(sector, seen):
                self.result.alerts[alert.alert_id] = alert
        for sector, observations in res.by_sector().items():
            for _ in self.fusion.add(sector, observations):
                self._dead("out_of_sequence")
            self._advance(sector, flush=False)

    def finish(self) -> ReplayResult:
        for sector in sorted(self.fusion.buffers):
            self._advance(sector, flush=True)
        return self.result

    def _advance(self, sector: str, flush: bool) -> None:
        buckets, late = self.fusion.advance(sector, flush=flush)
        for _ in late:
            self._dead("out_of_sequence")
        departures = self.fusion.departures[sector]  # one list per bucket (set by advance)
        for updates, departed in zip(buckets, departures, strict=True):
            self.result.track_updates += len(updates)
            if self.on_tracks:
                self.on_tracks(sector, updates)
            for alert in self.alerts.process(sector, updates, departed):
                self.result.alerts[alert.alert_id] = alert
            if self.pending_acks:
                self._apply_acks(max(u.t for u in updates))

    def _apply_acks(self, now: float) -> None:
        waiting = []
        for ack in self.pending_acks:
            aid = str(ack.get("alert_id"))
            sector = alert_sector(aid)
            if float(ack.get("t") or 0.0) > now or aid not in self.result.alerts or not sector:
                waiting.append(ack)
                continue
            changed = self.alerts.apply_ack(sector, ack)
            if changed is not None:
                self.result.alerts[changed.alert_id] = changed
        self.pending_acks = waiting

    def _dead(self, reason: str) -> None:
        self.result.deadletters[reason] = self.result.deadletters.get(reason, 0) + 1


def replay_scenario(scenario_dir: Path | str, out_dir: Path | str,
                    rules_file: Path | str | None = None,
                    progress: Callable[[int], None] | None = None,
                    reorder_window_s: float = 2.0,
                    acks: list[dict[str, Any]] | None = None) -> ReplayResult:
    """Replay ``scenario_dir`` in-process; write ``tracks.jsonl`` and ``alerts.jsonl``.

    ``acks``: archived coordinator actions to re-apply at their time (archive replay)."""
    scenario_dir, out_dir = Path(scenario_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context.from_scenario(scenario_dir, rules_file, max_reading_age_s=0,
                                reorder_window_s=reorder_window_s)
    t0 = time.perf_counter()
    with open(out_dir / "tracks.jsonl", "w") as tracks_out:
        def write_tracks(sector: str, updates: list[TrackUpdate]) -> None:
            for u in updates:
                tracks_out.write(json.dumps(u.to_dict(), separators=(",", ":")) + "\n")

        pipe = OfflinePipeline(ctx, on_tracks=write_tracks, acks=acks)
        for n, item in enumerate(iter_recorded(scenario_dir / "readings.jsonl"), start=1):
            if isinstance(item, BadLine):
                pipe._dead(item.reason)
            else:
                pipe.feed(item.topic, item.value)
            if progress and n % 5000 == 0:
                progress(n)
        result = pipe.finish()
    result.seconds = time.perf_counter() - t0
    write_alerts(out_dir / "alerts.jsonl", result.alerts.values())
    return result


def write_alerts(path: Path, alerts: Any) -> None:
    """Alerts as JSON lines (DESIGN §6), newest version of each, ordered by first time."""
    ordered = sorted(alerts, key=lambda a: (a.t_first, a.alert_id))
    with open(path, "w") as fh:
        for a in ordered:
            fh.write(json.dumps(a.to_dict(), separators=(",", ":")) + "\n")
