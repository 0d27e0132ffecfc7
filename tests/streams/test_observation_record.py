"""``Observation.from_dict`` on the ``observations`` records the fusion agent takes (issue 9):
what our ingest wrote is taken without copying its lists (fewer objects for the garbage
collector to scan in the fusion buffer), and any other input converts, or fails, exactly as
the field-by-field conversion of round 8 did (a record that fails is dead-lettered)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from fusion.types import Observation
from streams.agents import dumps, loads
from streams.engine import Context, IngestStage, observation_dict


def _round8_from_dict(d: dict[str, Any]) -> Observation:
    """Round 8's ``Observation.from_dict`` (the reference)."""
    src = d.get("src")
    return Observation(
        obs_id=str(d["obs_id"]),
        sensor_id=str(d["sensor_id"]),
        kind=str(d["kind"]),
        t=float(d["t"]),
        lat=float(d["lat"]),
        lon=float(d["lon"]),
        cov_en=[[float(v) for v in row] for row in d["cov_en"]],
        attrs=dict(d.get("attrs") or {}),
        sector=str(d.get("sector", "")),
        src=[str(src[0]), int(src[1]), int(src[2])] if src else None,
    )


def _records(tmp_path: Path) -> list[dict[str, Any]]:
    """A simulated scenario's observations as the ``observations`` topic carries them:
    ingested in batches with their readings' ``src``, through ``dumps``/``loads``."""
    from sensors.recorded import iter_recorded
    from sensors.simulate import build_scenario, write_scenario

    write_scenario(build_scenario(seed=3, duration=20, layout="mixed"), tmp_path)
    ctx = Context.from_scenario(tmp_path, max_reading_age_s=0)
    ingest = IngestStage(ctx, now=lambda: float("nan"))
    items = list(iter_recorded(tmp_path / "readings.jsonl"))
    out: list[dict[str, Any]] = []
    for i in range(0, len(items), 50):
        batch = items[i : i + 50]
        sources = [[it.topic, 0, i + k] for k, it in enumerate(batch)]
        for res in ingest.ingest_many([(it.topic, it.value) for it in batch], sources=sources):
            out += loads(dumps([observation_dict(o) for o in res.observations]))
    return out


def test_our_records_decode_as_before_sharing_their_lists(tmp_path: Path) -> None:
    records = _records(tmp_path)
    kinds = {d["kind"] for d in records}
    assert len(records) > 500 and {"radar", "ais", "seismic"} <= kinds
    for d in records:
        before = copy.deepcopy(d)
        o = Observation.from_dict(d)
        assert o == _round8_from_dict(d)
        assert d == before  # the record is not changed
        assert o.cov_en is d["cov_en"] and o.src is d["src"]  # kept, not copied
        assert o.attrs == d["attrs"] and o.attrs is not d["attrs"]  # a copy, as before
        assert observation_dict(o) == d  # what the checkpoint writes back


BASE = {"obs_id": "0123456789abcdef", "sensor_id": "R1", "kind": "radar", "t": 1.7e9 + 0.25,
        "lat": 51.5, "lon": 30.25, "cov_en": [[225.0, 1.5], [1.5, 300.0]],
        "attrs": {"range_m": 1000.0}, "sector": "g0_0", "src": ["readings.radar", 0, 17]}

VARIANTS: list[dict[str, Any]] = [
    {"t": 1700000000}, {"t": "1700000000.5"}, {"t": True}, {"t": None}, {"lat": "north"},
    {"lat": 51}, {"lon": [30.0]}, {"obs_id": 123}, {"sensor_id": None}, {"kind": 5},
    {"cov_en": [[225, 1.5], [1.5, 300.0]]}, {"cov_en": [[225.0, "1.5"], [1.5, 300.0]]},
    {"cov_en": [[225.0, True], [1.5, 300.0]]}, {"cov_en": [[1.0, 0.0, 0.0]] * 3},
    {"cov_en": [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]}, {"cov_en": [[1.0], [0.0, 1.0]]},
    {"cov_en": [(1.0, 0.0), (0.0, 1.0)]}, {"cov_en": ((1.0, 0.0), [0.0, 1.0])},
    {"cov_en": []}, {"cov_en": "ab"}, {"cov_en": None}, {"cov_en": [[1.0, "x"], [0.0, 1.0]]},
    {"cov_en": {"a": 1}}, {"cov_en": [[float("nan"), 0.0], [0.0, float("inf")]]},
    {"src": ["readings.radar", "0", 17]}, {"src": ["readings.radar", 0, 17.0]},
    {"src": ["readings.radar", True, 17]}, {"src": [5, 0, 17]}, {"src": ("r", 0, 1)},
    {"src": ["readings.radar", 0, 17, 9]}, {"src": ["readings.radar", 0]}, {"src": []},
    {"src": None}, {"src": 0}, {"src": "abc"}, {"src": {"a": 1}}, {"src": ["r", 0, "x"]},
    {"attrs": None}, {"attrs": []}, {"attrs": [["a", 1]]}, {"attrs": "x"},
    {"sector": 5}, {"sector": None},
    {"obs_id": None, "cov_en": "bad"},  # two faults: the first field's is raised
]


def _outcome(fn: Any, d: dict[str, Any]) -> tuple[str, Any]:
    try:
        o = fn(d)
    except Exception as exc:  # noqa: BLE001
        return "raises", (type(exc), str(exc))
    types = [type(getattr(o, f)) for f in o.__dataclass_fields__]
    return "decodes", (o.to_dict(), types, [type(v) for row in o.cov_en for v in row])


@pytest.mark.parametrize("variant", VARIANTS, ids=repr)
def test_any_other_input_converts_or_fails_as_before(variant: dict[str, Any]) -> None:
    d = {**BASE, **variant}
    assert _outcome(Observation.from_dict, d) == _outcome(_round8_from_dict, d)


@pytest.mark.parametrize("missing", ["obs_id", "sensor_id", "kind", "t", "lat", "lon",
                                     "cov_en", "attrs", "sector", "src"])
def test_a_missing_field_fails_or_defaults_as_before(missing: str) -> None:
    d = {k: v for k, v in BASE.items() if k != missing}
    assert _outcome(Observation.from_dict, d) == _outcome(_round8_from_dict, d)
    if missing in ("obs_id", "sensor_id", "kind", "t", "lat", "lon", "cov_en"):
        with pytest.raises(KeyError, match=missing):
            Observation.from_dict(d)
