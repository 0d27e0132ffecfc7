"""Field-by-field agreement with gpsd's reference decodes (``shared_data/ais/gpsd``).

gpsd's ``.chk`` files are unscaled (``"scaled": false``): lat/lon in 1/10000 minute
(divide by 600000 for degrees; type 27: 1/10 minute, divide by 600), speed in 0.1 kn and
course in 0.1° (type 27: whole knots and degrees), heading in degrees. gpsd prints the
ITU "not available" sentinels raw; we print null. A sentinel on their side and null on ours
counts as agreement, because that is our documented mapping (docs/ais.md); any other null
is a difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sensors.ais import AisDecoder, AisRecord

POSITION_FIELDS = ("lat", "lon", "sog", "cog", "heading")
STATIC_FIELDS = ("name", "callsign", "ship_type", "destination", "imo")
_LATLON_TOL = 1.5e-6  # pyais rounds degrees to 6 decimals


def expected_fields(e: dict[str, Any]) -> dict[str, Any]:
    """gpsd's decode in our canonical units, sentinels mapped to None (our documented mapping)."""
    t = e["type"]
    out: dict[str, Any] = {}
    if "lat" in e and "lon" in e:
        div = 600.0 if t == 27 else 600000.0
        lat, lon = e["lat"] / div, e["lon"] / div
        na = lat == 91.0 or lon == 181.0
        out["lat"] = None if na else lat
        out["lon"] = None if na else lon
    if t in (1, 2, 3, 18, 19):
        out["sog"] = None if e["speed"] >= 1023 else e["speed"] / 10.0
        out["cog"] = None if e["course"] >= 3600 else e["course"] / 10.0
        out["heading"] = None if e["heading"] >= 360 else e["heading"]
    elif t == 27:
        out["sog"] = None if e["speed"] >= 63 else float(e["speed"])
        out["cog"] = None if e["course"] >= 360 else float(e["course"])
    elif t == 9:
        out["sog"] = None if e["speed"] >= 1023 else float(e["speed"])
        out["cog"] = None if e["course"] >= 3600 else e["course"] / 10.0

    def text(v: Any) -> str | None:
        s = str(v).strip() if v is not None else ""
        return s or None

    for ours, theirs in (("name", "shipname"), ("name", "name"), ("callsign", "callsign")):
        if theirs in e:
            out[ours] = text(e[theirs])
    if "destination" in e:
        out["destination"] = text(e["destination"])
    if "shiptype" in e:
        out["ship_type"] = int(e["shiptype"]) or None
    if "imo" in e:
        out["imo"] = int(e["imo"]) or None
    return out


def _same(name: str, ours: Any, theirs: Any) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    if name in ("lat", "lon"):
        return abs(ours - theirs) <= _LATLON_TOL
    if name in ("sog", "cog"):
        return abs(ours - theirs) <= 1e-6
    return bool(ours == theirs)


@dataclass
class Agreement:
    file: str
    messages: int = 0
    compared: int = 0
    agreed: int = 0
    mapped_nulls: int = 0  # gpsd printed a sentinel / invalid value, we printed null
    differences: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.agreed / self.compared if self.compared else 0.0


def compare_file(log: Path) -> Agreement:
    """Decode ``X.log`` in order and compare with every entry of ``X.paired.jsonl``."""
    dec = AisDecoder()
    by_nmea: dict[tuple[str, ...], AisRecord] = {}
    for line in log.read_text(errors="replace").splitlines():
        for item in dec.feed(line):
            if isinstance(item, AisRecord):
                by_nmea[item.nmea] = item
    dec.flush()
    paired = log.with_name(log.name.replace(".log", ".paired.jsonl"))
    result = Agreement(log.name)
    for row in paired.read_text().splitlines():
        pair = json.loads(row)
        e = pair["expected"]
        exp = expected_fields(e)
        rec = by_nmea.get(tuple(pair["nmea"]))
        ours: dict[str, Any]
        if rec is None:
            ours = {}
        elif e["type"] == 24:
            # gpsd prints type 24 once parts A and B are both in: compare the merged static data.
            ours = dict(dec.static.get(rec.mmsi) or {})
        else:
            ours = rec.to_dict()
        result.messages += 1
        for name in POSITION_FIELDS + STATIC_FIELDS:
            if name not in exp:
                continue
            result.compared += 1
            if rec is not None and _same(name, ours.get(name), exp[name]):
                result.agreed += 1
                result.mapped_nulls += exp[name] is None
            else:
                result.differences.append((e["type"], e["mmsi"], name, ours.get(name), exp[name]))
    return result


GPSD_LOGS = ("ais-18-27.log", "ais-raw-messages.log", "ais_unpack_sixbit.log")


@pytest.mark.parametrize("name", GPSD_LOGS)
def test_agreement_with_gpsd_at_least_99_percent(shared_data: Path, name: str) -> None:
    result = compare_file(shared_data / "ais" / "gpsd" / name)
    paired = (shared_data / "ais" / "gpsd" / name.replace(".log", ".paired.jsonl")).read_text()
    assert result.messages == len(paired.splitlines())
    assert result.compared >= 4 * result.messages  # several fields per message really compared
    print(
        f"{name}: {result.messages} messages, {result.agreed}/{result.compared} fields agree "
        f"({result.percent:.2f}%), {result.mapped_nulls} sentinel->null"
    )
    assert result.percent >= 99.0, result.differences[:10]


def test_expected_fields_scaling_is_hand_checkable() -> None:
    # Type 18 from ais-18-27: lat 36098238 / 600000 = 60.16373 deg, speed 73 -> 7.3 kn.
    e = {
        "type": 18,
        "mmsi": 1,
        "lat": 36098238,
        "lon": 14978829,
        "speed": 73,
        "course": 2980,
        "heading": 298,
    }
    f = expected_fields(e)
    assert f["lat"] == pytest.approx(60.16373, abs=1e-6)
    assert f["lon"] == pytest.approx(24.964715, abs=1e-6)
    assert (f["sog"], f["cog"], f["heading"]) == (7.3, 298.0, 298)
    # Sentinels: 91 deg lat, 102.3 kn, 360.0 deg course, heading 511 -> None.
    na = expected_fields(
        {
            "type": 1,
            "mmsi": 1,
            "lat": 91 * 600000,
            "lon": 181 * 600000,
            "speed": 1023,
            "course": 3600,
            "heading": 511,
        }
    )
    assert na == {"lat": None, "lon": None, "sog": None, "cog": None, "heading": None}


def test_a_wrong_decode_is_counted_as_disagreement() -> None:
    assert not _same("lat", 60.16373, 60.16383)
    assert not _same("name", None, "BUOY 1")
    assert _same("name", None, None)
