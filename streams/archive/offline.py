"""Archive a run of the offline pipeline as if a live system had produced it.

For tests, benchmarks and the sample report: readings of a scenario go through
:class:`~streams.replay.OfflinePipeline` and, record by record, into an
:class:`ArchiveStore` together with every alert version it emits and the acks an
``ack_policy`` gives (applied to the alert state, as the live ``acks`` agent does, so
the status change is archived as a new alert version). Kafka coordinates are synthetic
but shaped like the real ones: readings keyed by sensor over ``partitions`` partitions,
the Kafka timestamp is the event time.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fusion.types import Alert
from sensors.recorded import RecordedLine, iter_recorded
from streams.archive.store import ArchiveRecord, ArchiveStore
from streams.engine import Context
from streams.replay import OfflinePipeline, ReplayResult
from streams.topics import ACKS, ALERTS

AckPolicy = Callable[[Alert], dict[str, Any] | None]


class _Offsets:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.next: dict[tuple[str, int], int] = {}

    def take(self, topic: str, key: str) -> tuple[int, int]:
        p = zlib.crc32(key.encode()) % self.partitions
        o = self.next.get((topic, p), 0)
        self.next[(topic, p)] = o + 1
        return p, o


def archive_scenario_run(
    scenario_dir: Path | str,
    store: ArchiveStore,
    *,
    rules_file: Path | str | None = None,
    reorder_window_s: float = 2.0,
    ack_policy: AckPolicy | None = None,
    partitions: int = 4,
    batch: int = 500,
) -> tuple[ReplayResult, list[dict[str, Any]]]:
    """Run ``scenario_dir`` "live" into ``store``; return the result and every alert version."""
    ctx = Context.from_scenario(
        scenario_dir, rules_file, max_reading_age_s=0, reorder_window_s=reorder_window_s
    )
    pipe = OfflinePipeline(ctx)
    offsets = _Offsets(partitions)
    pending: list[ArchiveRecord] = []
    versions: list[dict[str, Any]] = []
    acked: set[str] = set()
    clock = [0.0]

    def put(topic: str, key: str, value: dict[str, Any], ts: float) -> None:
        p, o = offsets.take(topic, key)
        pending.append(
            ArchiveRecord.from_kafka(
                topic, p, o, ts * 1000, key.encode(), json.dumps(value, separators=(",", ":"))
            )
        )
        if len(pending) >= batch:
            store.append(pending)
            pending.clear()

    def emit(alert: Alert) -> None:
        d = alert.to_dict()
        versions.append(d)
        put(ALERTS, alert.alert_id, d, max(clock[0], alert.t_last))
        if ack_policy is None or alert.alert_id in acked:
            return
        ack = ack_policy(alert)
        if ack is None:
            return
        acked.add(alert.alert_id)
        # applied right away, so it carries the alert's own event time (what a replay uses
        # to re-apply it at the same point)
        ack = {"alert_id": alert.alert_id, "note": "", "t": alert.t_last, **ack}
        put(ACKS, alert.alert_id, ack, ack["t"])
        changed = pipe.alerts.apply_ack(alert.sector, ack)
        if changed is not None:
            emit(changed)

    process = pipe.alerts.process

    def process_and_archive(sector: str, updates: list[Any],
                            departed: list[Any] | None = None) -> list[Alert]:
        out = process(sector, updates, departed)
        for a in out:
            emit(a)
        return out

    pipe.alerts.process = process_and_archive  # type: ignore[method-assign]
    for item in iter_recorded(Path(scenario_dir) / "readings.jsonl"):
        if not isinstance(item, RecordedLine):
            continue
        t = float(item.value.get("t", clock[0])) if isinstance(item.value, dict) else clock[0]
        clock[0] = max(clock[0], t)
        put(item.topic, str(item.value.get("sensor_id", "")), item.value, t)
        pipe.feed(item.topic, item.value)
    result = pipe.finish()
    store.append(pending)
    return result, versions
