"""HTTP ingest, NMEA listeners and the client against a live gateway whose Kafka is down:
every accepted reading must be reported as spooled and be on disk."""

from __future__ import annotations

import io
import json
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import yaml

from sensors.gateway.auth import hash_token
from sensors.gateway.client import GatewayClient, GatewayError
from sensors.gateway.http import BodyError, HttpConfig, parse_body
from sensors.gateway.nmea import ListenSpec
from sensors.gateway.service import Gateway, GatewayConfig, prometheus_exposition
from sensors.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, timestamp

SENSORS = {
    "sensors": [
        {"id": "R1", "type": "radar", "lat": 51.5, "lon": 23.6},
        {"id": "R2", "type": "radar", "lat": 51.6, "lon": 23.7},
        {"id": "A1", "type": "ais", "lat": 51.5, "lon": 23.6},
    ]
}
HMAC_KEY = "h" * 40
TOKENS = {
    "tokens": [
        {"name": "all", "token_sha256": hash_token("tok-all"), "sensors": ["*"]},
        {"name": "r1", "token_sha256": hash_token("tok-r1"), "sensors": ["R1"]},
        {
            "name": "signed",
            "token_sha256": hash_token("tok-signed"),
            "sensors": ["*"],
            "hmac_key": HMAC_KEY,
        },
        {
            "name": "slow",
            "token_sha256": hash_token("tok-slow"),
            "sensors": ["*"],
            "rate_per_s": 0.1,
            "burst": 2,
        },
    ]
}


def unreachable():
    raise ConnectionRefusedError("kafka down")


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _files(tmp_path: Path) -> tuple[Path, Path]:
    sensors, tokens = tmp_path / "sensors.yaml", tmp_path / "tokens.yaml"
    sensors.write_text(yaml.safe_dump(SENSORS))
    tokens.write_text(yaml.safe_dump(TOKENS))
    tokens.chmod(0o600)
    return sensors, tokens


def _config(tmp_path: Path, **kw) -> GatewayConfig:
    sensors, tokens = _files(tmp_path)
    return GatewayConfig(
        bootstrap="unused",
        spool_dir=tmp_path / "spool",
        sensors_file=sensors,
        tokens_file=tokens,
        port=0,
        **kw,
    )


@pytest.fixture
def gateway(tmp_path):
    cfg = _config(
        tmp_path,
        http=HttpConfig(max_body_bytes=4096),
        metrics_exposition=prometheus_exposition,
        nmea_udp=[ListenSpec("127.0.0.1", _free_port(socket.SOCK_DGRAM), "A1")],
        nmea_tcp=[ListenSpec("127.0.0.1", 0, "A1")],
    )
    with Gateway(cfg, link_factory=unreachable) as gw:
        yield gw


def _post(
    url: str, body: bytes, token: str | None = "tok-all", headers: dict | None = None
) -> tuple[int, dict]:
    h = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, data=body, headers={**h, **(headers or {})}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _radar(sid: str = "R1", **kw) -> dict:
    return {"sensor_id": sid, "t": time.time(), "range_m": 900.0, "bearing_deg": 10.0, **kw}


def _lines(*readings) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in readings)


def test_parse_body_json_lines_array_and_line_numbers() -> None:
    assert parse_body(b'{"a":1}\n\n{"b":2}\n')[0] == [{"a": 1}, {"b": 2}]
    assert parse_body(b'[{"a":1},\n {"b":2}]')[0] == [{"a": 1}, {"b": 2}]
    with pytest.raises(BodyError) as exc:
        parse_body(b'{"a":1}\n{"a":2}\n{"a":\n')
    assert exc.value.line == 3
    with pytest.raises(BodyError) as exc:
        parse_body(b'[{"a":1},\n{"b":}]')
    assert exc.value.line == 2


def test_mixed_batch_is_accepted_to_the_spool_and_bad_ones_explained(gateway) -> None:
    status, body = _post(
        f"{gateway.url}/ingest/radar", _lines(_radar(), _radar(range_m=-1.0), _radar("R2"))
    )
    assert status == 200
    assert body["accepted"] == 2 and body["spooled"] == 2
    assert body["rejected"] == [
        {"index": 1, "field": "range_m", "reason": "out_of_range", "message": "-1.0 is below 0.0"}
    ]
    topics = [r.topic for r, _ in gateway.spool.peek(100)]
    assert topics == ["readings.radar", "readings.radar", "deadletter"]
    with urllib.request.urlopen(f"{gateway.url}/healthz") as resp:
        health = json.loads(resp.read())
    assert health["kafka"] is False and health["spool_depth"] == 3
    assert health["status"] == "degraded"


def test_the_gateway_hands_its_hmac_keys_to_on_secrets(tmp_path) -> None:
    """The command masks the tokens' HMAC keys in its logs: the gateway tells it the keys
    of the file it loaded (once), not a second reading of the file."""
    told: list[list[bytes]] = []
    with Gateway(_config(tmp_path, on_secrets=told.append), link_factory=unreachable):
        pass
    assert told == [[HMAC_KEY.encode()]]


def test_auth_refusals(gateway) -> None:
    url = f"{gateway.url}/ingest/radar"
    body = _lines(_radar("R2"))
    assert _post(url, body, token=None)[0] == 401
    assert _post(url, body, token="wrong")[0] == 401
    status, result = _post(url, body, token="tok-r1")
    assert status == 403 and result["rejected"][0]["reason"] == "not_authorised"
    assert _post(url, body, token="tok-signed")[0] == 401  # unsigned
    ts = timestamp()
    bad_sig = {SIGNATURE_HEADER: sign(HMAC_KEY, ts, body + b"x"), TIMESTAMP_HEADER: ts}
    assert _post(url, body, token="tok-signed", headers=bad_sig)[0] == 401
    good_sig = {SIGNATURE_HEADER: sign(HMAC_KEY, ts, body), TIMESTAMP_HEADER: ts}
    status, result = _post(url, body, token="tok-signed", headers=good_sig)
    assert status == 200 and result["accepted"] == 1
    status, result = _post(url, body, token="tok-signed", headers=good_sig)  # captured, resent
    assert status == 401 and "replay" in result["error"]
    old = timestamp(time.time() - 600)  # a signature made 10 minutes ago
    stale = {SIGNATURE_HEADER: sign(HMAC_KEY, old, body), TIMESTAMP_HEADER: old}
    status, result = _post(url, body, token="tok-signed", headers=stale)
    assert status == 401 and "from this clock" in result["error"]
    # stored: the dead letter of the 403 record and the signed reading; no 401 body
    assert [r.topic for r, _ in gateway.spool.peek(10)] == ["deadletter", "readings.radar"]


def test_limits_and_bad_bodies(gateway) -> None:
    url = f"{gateway.url}/ingest/radar"
    status, body = _post(url, _lines(_radar()) + b'{"sensor_id": \n')
    assert status == 400 and body["line"] == 2
    assert _post(url, b"\xff\xfe")[0] == 400
    assert _post(url, _lines(*[_radar() for _ in range(60)]))[0] == 413
    assert _post(f"{gateway.url}/ingest/sonar", _lines(_radar()))[0] == 404
    codes = [_post(url, _lines(_radar()), token="tok-slow")[0] for _ in range(3)]
    assert codes == [200, 200, 429]
    with urllib.request.urlopen(f"{gateway.url}/metrics") as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert b"# HELP " in resp.read()


def test_client_batches_and_reports_rejections(gateway) -> None:
    err = io.StringIO()
    client = GatewayClient(gateway.url, "tok-all", batch=3, errors=err)
    for i in range(7):
        client.send("readings.radar", _radar(bearing_deg=float(i) if i != 4 else 999.0))
    client.send("deadletter", {"source": "push"})  # skipped: the gateway dead-letters
    client.close()
    assert (client.accepted, client.spooled, client.rejected) == (6, 6, 1)
    assert "record 1: bearing_deg out_of_range" in err.getvalue()
    with pytest.raises(GatewayError, match="401"):
        bad = GatewayClient(gateway.url, "nope", errors=err)
        bad.send("readings.radar", _radar())
        bad.flush()


def test_the_client_signs_each_request_afresh(gateway) -> None:
    """A signed token's sender: the client signs every request, and every retry, with its
    own timestamp (a signature is good once); without the key the gateway refuses it."""
    client = GatewayClient(gateway.url, "tok-signed", batch=2, hmac_key=HMAC_KEY)
    for _ in range(4):  # two requests within the same second: two signatures
        client.send("readings.radar", _radar())
    client.close()
    assert client.accepted == 4
    with pytest.raises(GatewayError, match="401.*signed requests are required"):
        unsigned = GatewayClient(gateway.url, "tok-signed")
        unsigned.send("readings.radar", _radar())
        unsigned.flush()


def test_nmea_udp_and_tcp_lines_reach_the_spool_and_garbage_is_dead_lettered(
    gateway, shared_data
) -> None:
    mixed = [
        ln
        for ln in (shared_data / "ais/pyais/mixed.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    udp, tcp = gateway.listeners
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for line in mixed:
            s.sendto(line.encode() + b"\r\n", ("127.0.0.1", udp.port))
    with socket.create_connection(("127.0.0.1", tcp.port)) as c:
        c.sendall("\n".join(mixed[:4]).encode() + b"\n")
    deadline = time.time() + 10
    total = len(mixed) + 4
    while (
        time.time() < deadline
        and udp.ingest.accepted + udp.ingest.rejected + tcp.ingest.accepted + tcp.ingest.rejected
        < total
    ):
        time.sleep(0.05)
    records = [r for r, _ in gateway.spool.peek(1000)]
    ais = [r for r in records if r.topic == "readings.ais"]
    dead = [r.value for r in records if r.topic == "deadletter"]
    sentences = [
        x["nmea"] for r in ais for x in (r.value if isinstance(r.value, list) else [r.value])
    ]
    # by hand: lines 5, 6, 9, 10, 13, 14, 20, 23 are not AIS, line 15 has no checksum
    bad_lines = {5, 6, 9, 10, 13, 14, 15, 20, 23}
    assert len(mixed) == 23
    good = [ln for i, ln in enumerate(mixed, start=1) if i not in bad_lines]
    assert Counter(sentences) == Counter(good + mixed[:4])
    assert Counter(d["raw"] for d in dead) == Counter(mixed[i - 1] for i in bad_lines)
    assert {d["reason"] for d in dead} == {"not_ais", "checksum"}
    assert {d["source"] for d in dead} == {"gateway/nmea-udp"}
    assert udp.ingest.accepted + tcp.ingest.accepted == 18


def test_a_full_spool_refuses_readings_with_503_and_keeps_the_ones_it_took(tmp_path) -> None:
    """Kafka away and the spool at its cap: the sender is told to retry (nothing accepted),
    what the spool took before stays, and room comes back when it drains."""
    body = _lines(_radar(), _radar())  # the same bytes each time: the same room taken
    with Gateway(_config(tmp_path), link_factory=unreachable) as gw:
        url = f"{gw.url}/ingest/radar"
        first = _post(url, body)
        assert first[0] == 200 and first[1]["spooled"] == 2
        with urllib.request.urlopen(f"{gw.url}/healthz") as resp:
            assert json.loads(resp.read())["spool_bytes"] == gw.spool.waiting_bytes > 0
        gw.spool.max_bytes = gw.spool.waiting_bytes  # full from here (--spool-max-mb)
        req = urllib.request.Request(
            url, data=body, method="POST",
            headers={"Authorization": "Bearer tok-all"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 503
        assert refused.value.headers["Retry-After"]
        assert "retry" in json.loads(refused.value.read())["error"]
        assert gw.spool.depth == 2  # the refused batch left nothing behind
        items = gw.spool.peek(10)
        gw.spool.commit(items[-1][1], 2)  # Kafka back: drained
        again = _post(url, body)
        assert again[0] == 200 and again[1]["spooled"] == 2


def test_the_tokens_file_is_reloaded_without_a_restart(tmp_path, caplog) -> None:
    """A new post's token works once the file has it, a removed one stops working, and a
    broken edit keeps the tokens in force (an edit must not lock every sensor out)."""
    told: list[list[bytes]] = []
    cfg = _config(tmp_path, tokens_poll_s=0.1, on_secrets=told.append)
    url_of = lambda gw: f"{gw.url}/ingest/radar"  # noqa: E731
    body = _lines(_radar())

    def until(gw, token: str, status: int) -> None:
        deadline = time.monotonic() + 10
        while _post(url_of(gw), body, token=token)[0] != status:
            assert time.monotonic() < deadline, f"{token}: never {status}"
            time.sleep(0.05)

    with Gateway(cfg, link_factory=unreachable) as gw:
        assert _post(url_of(gw), body, token="tok-new")[0] == 401
        entries = [e for e in TOKENS["tokens"] if e["name"] != "all"]  # revoke "all" ...
        entries.append({"name": "new", "token_sha256": hash_token("tok-new"), "sensors": ["R1"],
                        "hmac_key": "n" * 40})  # ... and add a post with a signing key
        cfg.tokens_file.write_text(yaml.safe_dump({"tokens": entries}))
        until(gw, "tok-all", 401)
        assert _post(url_of(gw), body, token="tok-r1")[0] == 200  # untouched entries stay
        ts = timestamp()
        signed = {SIGNATURE_HEADER: sign("n" * 40, ts, body), TIMESTAMP_HEADER: ts}
        assert _post(url_of(gw), body, token="tok-new", headers=signed)[0] == 200
        assert any(b"n" * 40 in keys for keys in told)  # masked in logs from now on
        with caplog.at_level("ERROR", logger="sensors.gateway.service"):
            cfg.tokens_file.write_text("tokens: [ {name: broken\n")  # half written
            deadline = time.monotonic() + 10
            while "not reloaded" not in caplog.text:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert _post(url_of(gw), body, token="tok-r1")[0] == 200  # the last good set holds
