"""pcap reading robustness and the ``borderfusion radar decode`` command."""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path

import pytest

from sensors.radar import PcapError, read_pcap_udp_payloads
from sensors.radar.pcap import udp_payload
from streams.commands import radar as radar_cmd


def _pcap(shared_data: Path) -> Path:
    return shared_data / "radar" / "croatiacontrol" / "sample_data" / "cat_034_048.pcap"


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="borderfusion")
    radar_cmd.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_truncated_pcap_yields_what_is_complete(shared_data: Path, tmp_path: Path) -> None:
    data = _pcap(shared_data).read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:1000])
    packets = list(read_pcap_udp_payloads(cut))
    full = list(read_pcap_udp_payloads(_pcap(shared_data)))
    assert 0 < len(packets) < len(full)
    assert packets == full[: len(packets)]


def test_not_a_pcap_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "x.pcap"
    bogus.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\0" * 40)  # pcapng section header
    with pytest.raises(PcapError, match="pcapng"):
        list(read_pcap_udp_payloads(bogus))


def test_udp_payload_over_vlan_and_raw_ip() -> None:
    payload = b"\x30\x00\x03"
    udp = struct.pack("!HHHH", 1000, 2000, 8 + len(payload), 0) + payload
    ip = (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            0,
            0,
            64,
            17,
            0,
            b"\x0a\0\0\x01",
            b"\xe8\x01\x01\x1f",
        )
        + udp
    )
    eth_vlan = b"\x01" * 12 + b"\x81\x00\x00\x05" + b"\x08\x00" + ip
    assert udp_payload(1, eth_vlan) == payload
    assert udp_payload(101, ip) == payload
    tcp = ip[:9] + b"\x06" + ip[10:]
    assert udp_payload(101, tcp) is None
    fragment = ip[:6] + b"\x00\x10" + ip[8:]  # fragment offset 16: not a first fragment
    assert udp_payload(101, fragment) is None


def test_cli_decodes_pcap_to_json_lines(shared_data: Path, capsys) -> None:
    assert _run(["radar", "decode", str(_pcap(shared_data))]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 126
    assert all({"sac", "sic", "edition", "range_m", "bearing_deg", "t"} <= set(r) for r in lines)
    assert {r["edition"] for r in lines} == {"1.32"}
    assert "128 CAT048 plots" in err and "CAT034: 34" in err and "0 malformed" in err


def test_cli_edition_and_sensor_map(shared_data: Path, capsys) -> None:
    argv = [
        "radar",
        "decode",
        str(_pcap(shared_data)),
        "--edition",
        "1.31",
        "--sensor",
        "25/201=R1",
        "--date",
        "2020-01-02",
    ]
    assert _run(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["edition"] for r in lines} == {"1.31"}
    r1 = [r for r in lines if r["sensor_id"] == "R1"]
    assert r1 and all((r["sac"], r["sic"]) == (25, 201) for r in r1)
    assert all(1577923200 <= r["t"] < 1577923200 + 86400 for r in lines)  # 2020-01-02 UTC


def test_cli_refuses_unknown_edition_and_survives_garbage(tmp_path: Path, capsys) -> None:
    garbage = tmp_path / "junk.raw"
    garbage.write_bytes(b"\x30\x00\x40junk")
    assert _run(["radar", "decode", str(garbage), "--edition", "9.9"]) == 2
    assert "not known" in capsys.readouterr().err
    assert _run(["radar", "decode", str(garbage)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "truncated" in err and "1 malformed" in err
