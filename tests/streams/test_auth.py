"""Web access control: password and token hashing, signed sessions, roles, users file."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import time

import pytest
import yaml

from streams.web.auth import (
    AuthError,
    UserStore,
    ensure_demo_users,
    hash_password,
    hash_token,
    user_entry,
    verify_password,
)
from streams.web.views import permission_for


def test_password_hash_format_matches_hashlib_pbkdf2() -> None:
    encoded = hash_password("correct horse", iterations=1000, salt=b"0123456789abcdef")
    algo, iters, salt_b64, hash_b64 = encoded.split("$")
    assert (algo, iters) == ("pbkdf2_sha256", "1000")
    salt = base64.urlsafe_b64decode(salt_b64 + "==")
    assert salt == b"0123456789abcdef"
    expected = hashlib.pbkdf2_hmac("sha256", b"correct horse", salt, 1000)
    assert base64.urlsafe_b64decode(hash_b64 + "=" * (-len(hash_b64) % 4)) == expected


def test_verify_password_accepts_only_the_right_password() -> None:
    encoded = hash_password("s3cret-pass", iterations=2000)
    assert verify_password("s3cret-pass", encoded)
    assert not verify_password("s3cret-pasS", encoded)
    assert not verify_password("s3cret-pass", encoded.replace("pbkdf2_sha256", "md5"))
    assert not verify_password("s3cret-pass", "garbage")
    # two hashes of one password differ (random salt)
    assert hash_password("x", iterations=10) != hash_password("x", iterations=10)


def _store(tmp_path, **extra) -> UserStore:  # type: ignore[no-untyped-def]
    doc = {
        "session_secret": "k" * 32,
        "users": [
            {
                "name": "ana",
                "role": "analyst",
                "password_hash": hash_password("ana-password", iterations=1000),
            },
            {
                "name": "cora",
                "role": "coordinator",
                "password_hash": hash_password("cora-password", iterations=1000),
            },
            {"name": "prom", "role": "metrics", "tokens_sha256": [hash_token("prom-token")]},
        ],
        **extra,
    }
    path = tmp_path / "users.yaml"
    path.write_text(yaml.safe_dump(doc))
    return UserStore.load(path)


def test_authenticate_and_tokens(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = _store(tmp_path)
    assert store.authenticate("cora", "cora-password").role == "coordinator"  # type: ignore[union-attr]
    assert store.authenticate("cora", "ana-password") is None
    assert store.authenticate("nobody", "cora-password") is None
    assert store.authenticate("prom", "") is None  # token-only user has no password
    assert store.by_token("prom-token").name == "prom"  # type: ignore[union-attr]
    assert store.by_token("prom-token ") is None


def test_roles_grant_the_documented_permissions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = _store(tmp_path)
    ana, cora, prom = store.users["ana"], store.users["cora"], store.users["prom"]
    assert ana.can("read") and not ana.can("act") and not ana.can("metrics")
    assert cora.can("read") and cora.can("act") and not cora.can("metrics")
    assert prom.can("metrics") and not prom.can("read")
    assert not user_entry("gw", "gateway", token="t").get("password_hash")
    # the route → permission table: acks need "act", metrics its own, health nothing
    assert permission_for("POST", "/api/alerts/s1:abc/ack") == "act"
    assert permission_for("GET", "/api/alerts/s1:abc") == "read"
    assert permission_for("GET", "/metrics") == "metrics"
    assert permission_for("GET", "/healthz") is None
    assert permission_for("GET", "/router/") == "read"  # Faust's own pages are guarded too


def test_sessions_are_signed_expire_and_follow_the_users_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = _store(tmp_path)
    cora = store.users["cora"]
    now = time.time()
    cookie = store.issue_session(cora, now=now, ttl_s=60)
    assert store.session_user(cookie, now=now + 30) == cora
    assert store.session_user(cookie, now=now + 61) is None  # expired
    payload, sig = cookie.split(".")
    forged = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(payload + "==").replace(b'"cora"', b'"anax"')
    ).decode()
    assert store.session_user(f"{forged.rstrip('=')}.{sig}", now=now) is None
    assert store.session_user(cookie[:-2] + "AA", now=now) is None
    assert store.session_user("not-a-cookie", now=now) is None
    # another secret (another deployment) does not accept it
    other = _store(
        tmp_path,
    )
    other.session_secret = b"another secret"
    assert other.session_user(cookie, now=now) is None
    # removing the user from the file ends the session
    doc = yaml.safe_load((tmp_path / "users.yaml").read_text())
    doc["users"] = [u for u in doc["users"] if u["name"] != "cora"]
    (tmp_path / "users.yaml").write_text(yaml.safe_dump(doc))
    os.utime(tmp_path / "users.yaml", (now + 5, now + 5))
    store.refresh(min_interval_s=0)
    assert store.session_user(cookie, now=now) is None


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"name": "x", "role": "boss"}, "field 'role'"),
        ({"name": "x", "role": "analyst", "password": "plain"}, "unknown field 'password'"),
        ({"name": "x", "role": "analyst", "password_hash": "md5$1$2"}, "password_hash"),
        ({"name": "x", "role": "analyst", "tokens_sha256": ["abc"]}, "tokens_sha256"),
        ({"role": "analyst"}, "field 'name'"),
    ],
)
def test_users_file_errors_name_the_user_and_field(entry, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AuthError, match=message):
        UserStore.from_dict({"users": [entry]})


def test_ensure_demo_users_creates_a_working_private_login(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "demo" / "users.yaml"
    name, password = ensure_demo_users(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password not in path.read_text()
    store = UserStore.load(path)
    user = store.authenticate(name, password)
    assert user is not None and user.role == "coordinator"
    # the session secret comes from the file, so two web processes share sessions
    assert UserStore.load(path).session_user(store.issue_session(user)) == user
