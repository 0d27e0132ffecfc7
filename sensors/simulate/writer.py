"""Scenario directory writer (DESIGN §8): readings, registry, zones and truth files."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .common import SimReading
from .layout import Layout
from .scenario import Scenario


def reading_record(r: SimReading) -> dict[str, Any]:
    """The recorded-stream line of a reading: ``{"topic": …, "value": {…}}``."""
    return {"topic": r.topic, "value": r.value}


def write_layout(layout: Layout, out: Path) -> None:
    """``sensors.yaml`` and ``zones.geojson`` (one feature a line, so diffs stay readable)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "sensors.yaml").write_text(yaml.safe_dump(layout.sensors_doc(), sort_keys=False))
    feats = layout.zones_geojson()["features"]
    body = ",\n".join(json.dumps(f) for f in feats)
    (out / "zones.geojson").write_text(
        '{"type": "FeatureCollection", "features": [\n' + body + "\n]}\n"
    )


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    n = 0
    with path.open("w") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
            n += 1
    return n


def write_scenario(scenario: Scenario, out: Path | str) -> dict[str, int]:
    """Write the scenario directory; returns line counts per file."""
    out = Path(out)
    write_layout(scenario.layout, out)
    return {
        "readings": write_jsonl(
            out / "readings.jsonl", (reading_record(r) for r in scenario.readings)
        ),
        "truth": write_jsonl(out / "truth.jsonl", scenario.truth),
    }
