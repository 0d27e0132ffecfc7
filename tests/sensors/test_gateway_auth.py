"""Gateway credentials: token hashes, sensor binding, signatures, rate limits."""

from __future__ import annotations

import hashlib
import os

import pytest
import yaml

from sensors.gateway.auth import (
    Credential,
    TokensFileError,
    TokenStore,
    hash_token,
    new_token_entry,
)
from sensors.gateway.ratelimit import TokenBucket
from sensors.signing import ReplayGuard, sign


def _store(*entries: dict) -> TokenStore:
    return TokenStore.from_dict({"tokens": list(entries)})


def test_hash_is_hex_sha256_of_the_token() -> None:
    assert hash_token("s3cret") == hashlib.sha256(b"s3cret").hexdigest()


def test_bearer_token_resolves_to_its_credential_only() -> None:
    store = _store(
        {"name": "post3", "token_sha256": hash_token("tok-A"), "sensors": ["R1"]},
        {"name": "post4", "token_sha256": hash_token("tok-B"), "sensors": ["*"]},
    )
    a = store.authenticate("Bearer tok-A")
    assert a is not None and a.name == "post3"
    assert a.may_report("R1") and not a.may_report("T1")
    b = store.authenticate("bearer   tok-B ")
    assert b is not None and b.name == "post4" and b.may_report("anything")
    for header in (None, "", "Bearer", "Bearer tok-C", "Basic tok-A", "tok-A"):
        assert store.authenticate(header) is None


def test_tokens_file_errors_name_the_entry_and_field() -> None:
    good = {"name": "p", "token_sha256": "a" * 64, "sensors": ["R1"]}
    with pytest.raises(TokensFileError, match="'token_sha256'"):
        _store({**good, "token_sha256": "plain-token"})
    with pytest.raises(TokensFileError, match="'p'.*'sensors'"):
        _store({**good, "sensors": []})
    with pytest.raises(TokensFileError, match="unknown field 'sensor'"):
        _store({**good, "sensor": ["R1"]})
    with pytest.raises(TokensFileError, match="listed twice"):
        _store(good, {**good, "name": "q"})
    with pytest.raises(TokensFileError, match="tokens:"):
        TokenStore.from_dict({"token": []})


def test_signature_required_when_the_token_has_an_hmac_key() -> None:
    key = "k" * 40
    store = _store(
        {"name": "p", "token_sha256": hash_token("t"), "sensors": ["*"], "hmac_key": key}
    )
    cred = store.authenticate("Bearer t")
    assert cred is not None
    body = b'{"sensor_id":"R1","t":1}\n'
    now, ts = 1_700_000_000.0, "1700000000.000"
    mac = __import__("hmac").new(key.encode(), ts.encode() + b"." + body, hashlib.sha256)
    good = "sha256=" + mac.hexdigest()
    assert sign(key.encode(), ts, body) == good  # HMAC-SHA256 over "<timestamp>.<body>"
    assert "missing" in store.check_signature(cred, body, None, ts, now)
    assert "missing" in store.check_signature(cred, body, good, None, now)
    assert "bad" in store.check_signature(cred, body + b" ", good, ts, now)  # tampered body
    assert "bad" in store.check_signature(cred, body, "sha256=" + "0" * 64, ts, now)
    assert "bad" in store.check_signature(cred, body, good, "1700000001.000", now)  # its time
    assert "from this clock" in store.check_signature(cred, body, good, ts, now + 301)  # stale
    assert store.check_signature(cred, body, good, ts, now + 299) is None
    assert "replay" in store.check_signature(cred, body, good, ts, now + 299)  # good once
    plain = Credential("q", None)
    assert store.check_signature(plain, body, None, None) is None


def test_the_replay_guard_forgets_after_its_window_and_stays_bounded() -> None:
    guard = ReplayGuard(window_s=600.0, max_entries=3)
    assert guard.first_time("sha256=AA", now=0.0) and not guard.first_time("sha256=aa", now=1.0)
    assert guard.first_time("sha256=aa", now=601.0)  # past the window: the timestamp check
    for k in range(5):  # refuses it by then; memory stays bounded
        assert guard.first_time(f"sha256={k}", now=602.0 + k)
    assert len(guard._seen) == 3


def test_generated_entry_loads_and_authenticates_without_storing_the_token(tmp_path) -> None:
    token, entry = new_token_entry("post9", ["R1", "T1"], with_hmac=True)
    assert token not in yaml.safe_dump(entry)
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump({"tokens": [entry]}))
    os.chmod(path, 0o600)
    cred = TokenStore.load(path).authenticate(f"Bearer {token}")
    assert cred is not None and cred.sensors == frozenset({"R1", "T1"})
    assert cred.hmac_key == entry["hmac_key"].encode()


def test_token_bucket_allows_burst_then_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.take()
    assert wait == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.take() == 0.0
    assert bucket.take() > 0


def test_cli_token_command_prints_a_loadable_entry(capsys) -> None:
    from streams.cli import main

    assert main(["gateway", "token", "--name", "post7", "--sensors", "R1,A1"]) == 0
    out, err = capsys.readouterr()
    token = err.split("token for post7: ")[1].split()[0]
    assert token not in out
    store = TokenStore.from_dict({"tokens": yaml.safe_load(out)})
    cred = store.authenticate(f"Bearer {token}")
    assert cred is not None and cred.sensors == frozenset({"R1", "A1"})
