"""``borderfusion ais decode`` over every AIS reference file: never aborts, always reports."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pytest

from sensors.ais import CANONICAL_FIELDS, REASONS
from streams.commands import ais


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="borderfusion")
    ais.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    rc = args.func(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _ais_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "ais").rglob("*") if p.is_file())


def test_decode_every_reference_file(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _ais_files(shared_data)
    assert len(files) >= 20
    for path in files:
        rc, out, err = _run(["ais", "decode", str(path)], capsys)
        assert rc == 0, path
        assert err.startswith("ais decode: "), path
        lines = out.splitlines()
        if "VDM," in path.read_text(errors="replace"):
            assert lines, f"{path} produced no records"
        for line in lines:
            d = json.loads(line)
            assert tuple(d)[: len(CANONICAL_FIELDS)] == CANONICAL_FIELDS
            assert d["lat"] is None or -90 <= d["lat"] <= 90
            assert d["lon"] is None or -180 <= d["lon"] <= 180


def test_summary_counts_reasons_with_examples(
    shared_data: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rej = tmp_path / "rej.jsonl"
    rc, out, err = _run(
        ["ais", "decode", str(shared_data / "ais/pyais/mixed.txt"), "--rejections", str(rej)],
        capsys,
    )
    assert rc == 0 and len(out.splitlines()) == 12
    assert "12 records, 7 rejected" in err
    assert "not_ais: 6" in err and "checksum: 1" in err
    assert "$GPGGA" in err  # the first examples are shown
    rows = [json.loads(x) for x in rej.read_text().splitlines()]
    assert len(rows) == 7 and all(r["reason"] in REASONS for r in rows)


def test_stdin_and_recorded_readings(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    recorded = {
        "topic": "readings.ais",
        "value": {
            "sensor_id": "A1",
            "station_id": "A1",
            "t": 1700000000.5,
            "nmea": "!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23",
        },
    }
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(recorded) + "\nnot nmea\n"))
    rc, out, err = _run(["ais", "decode", "-"], capsys)
    (line,) = out.splitlines()
    d = json.loads(line)
    assert rc == 0 and d["mmsi"] == 227006760
    assert d["t"] == 1700000000.5 and d["station_id"] == "A1"
    assert "not_ais: 1" in err


def test_help_teaches_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="borderfusion")
    ais.register(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["ais", "decode", "--help"])
    text = capsys.readouterr().out
    assert "borderfusion ais decode capture.nmea" in text and "orphan_fragment" in text
