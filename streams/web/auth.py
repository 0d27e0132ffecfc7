"""Who may see the COP and who may act on alerts.

Users live in a YAML file (``BORDERFUSION_USERS_FILE``)::

    session_secret: <random, optional: signs session cookies; shared by web replicas>
    users:
      - {name: alice, role: coordinator, password_hash: "pbkdf2_sha256$600000$<salt>$<hash>"}
      - {name: prom, role: metrics, tokens_sha256: [<sha256 hex of a bearer token>]}

Only hashes are stored: a leaked users file gives away no password or token. Roles grant
permissions (:data:`ROLE_PERMISSIONS`); the web middleware maps each route to one permission.
A browser logs in once and carries an HMAC-signed, HttpOnly, SameSite=Strict cookie; scripts
and Prometheus send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streams import redaction

log = logging.getLogger(__name__)

ROLES: tuple[str, ...] = ("coordinator", "analyst", "gateway", "admin", "metrics")
#: ``read``: map, REST GETs, live stream; ``act``: ack/dismiss/resolve/escalate;
#: ``metrics``: Prometheus scrape. ``gateway`` tokens belong to the ingest gateway and
#: grant nothing here.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "coordinator": frozenset({"read", "act"}),
    "analyst": frozenset({"read"}),
    "gateway": frozenset(),
    "admin": frozenset({"read", "act", "metrics"}),
    "metrics": frozenset({"metrics"}),
}
PBKDF2_ITERATIONS = 600_000
SESSION_TTL_S = 12 * 3600.0  # one shift
COOKIE_NAME = "bf_session"


class AuthError(ValueError):
    """The users file is wrong; the message names the entry and the field."""


# ------------------------------------------------------------------ hashing


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(
    password: str, *, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None
) -> str:
    """``pbkdf2_sha256$iterations$salt_b64$hash_b64`` (Django's layout, urlsafe base64)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string."""
    try:
        algo, iters, salt, digest = encoded.split("$")
        if algo != "pbkdf2_sha256":
            return False
        expected = _unb64(digest)
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), _unb64(salt), int(iters))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def hash_token(token: str) -> str:
    """Tokens are long random strings, so one SHA-256 suffices (no stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


# ------------------------------------------------------------------ users


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str | None = None
    tokens_sha256: tuple[str, ...] = ()

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


@dataclass
class UserStore:
    """Users by name and by token hash; reloads its file when it changes on disk."""

    users: dict[str, User] = field(default_factory=dict)
    session_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    path: Path | None = None
    _mtime: float = 0.0
    _checked: float = 0.0
    _by_token: dict[str, User] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        self._by_token = {h: u for u in self.users.values() for h in u.tokens_sha256}

    @classmethod
    def from_dict(cls, doc: Any, source: str = "users file") -> UserStore:
        if not isinstance(doc, dict) or not isinstance(doc.get("users"), list):
            raise AuthError(f"{source}: expected a top-level 'users:' list")
        users: dict[str, User] = {}
        for i, entry in enumerate(doc["users"]):
            user = _parse_user(i, entry, source)
            if user.name in users:
                raise AuthError(f"{source}: user {user.name!r} is listed twice")
            users[user.name] = user
        secret = doc.get("session_secret")
        store = cls(users=users)
        if secret:
            store.session_secret = str(secret).encode()
            redaction.register(store.session_secret)
        return store

    @classmethod
    def load(cls, path: str | Path) -> UserStore:
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError as exc:
            raise AuthError(f"users file not found: {path}") from exc
        store = cls.from_dict(yaml.safe_load(text), str(path))
        store.path, store._mtime = path, path.stat().st_mtime
        return store

    def refresh(self, min_interval_s: float = 2.0) -> None:
        """Pick up an edited users file (a removed user loses access at once)."""
        now = time.monotonic()
        if self.path is None or now - self._checked < min_interval_s:
            return
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime
            if mtime == self._mtime:
                return
            fresh = UserStore.load(self.path)
        except (OSError, AuthError, yaml.YAMLError):
            log.exception("users file reload failed; keeping the previous users")
            return
        self.users, self._mtime = fresh.users, mtime
        self._index()
        log.info("users file reloaded", extra={"users": len(self.users)})

    def authenticate(self, name: str, password: str) -> User | None:
        user = self.users.get(name)
        if user is None or not user.password_hash:
            # spend the same time as a real check so names cannot be probed by timing
            verify_password(password, _DUMMY_HASH)
            return None
        return user if verify_password(password, user.password_hash) else None

    def by_token(self, token: str) -> User | None:
        return self._by_token.get(hash_token(token))

    # -------------------------------------------------------------- sessions

    def issue_session(
        self, user: User, now: float | None = None, ttl_s: float = SESSION_TTL_S
    ) -> str:
        """``payload.signature``: the cookie is readable but cannot be forged or extended."""
        now = time.time() if now is None else now
        payload = _b64(
            json.dumps(
                {
                    "u": user.name,
                    "iat": int(now),
                    "exp": int(now + ttl_s),
                    "n": secrets.token_hex(4),
                },
                separators=(",", ":"),
            ).encode()
        )
        return f"{payload}.{self._sign(payload)}"

    def session_user(self, cookie: str, now: float | None = None) -> User | None:
        """The user of a valid, unexpired session whose user still exists, else None."""
        now = time.time() if now is None else now
        try:
            payload, sig = cookie.split(".", 1)
            if not hmac.compare_digest(sig, self._sign(payload)):
                return None
            data = json.loads(_unb64(payload))
            if float(data["exp"]) < now:
                return None
            return self.users.get(str(data["u"]))
        except (ValueError, KeyError, TypeError):
            return None

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.session_secret, payload.encode(), hashlib.sha256).digest())


_DUMMY_HASH = hash_password(
    "not a password", iterations=PBKDF2_ITERATIONS, salt=b"borderfusion-dum"
)


def _parse_user(index: int, entry: Any, source: str) -> User:
    if not isinstance(entry, dict):
        raise AuthError(f"{source}: users[{index}] must be a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise AuthError(f"{source}: users[{index}]: field 'name' is missing or not a string")
    unknown = set(entry) - {"name", "role", "password_hash", "tokens_sha256"}
    if unknown:
        raise AuthError(f"{source}: user {name!r}: unknown field {sorted(unknown)[0]!r}")
    role = entry.get("role")
    if role not in ROLES:
        raise AuthError(f"{source}: user {name!r}: field 'role' must be one of {', '.join(ROLES)}")
    pw = entry.get("password_hash")
    if pw is not None and (not isinstance(pw, str) or not pw.startswith("pbkdf2_sha256$")):
        raise AuthError(
            f"{source}: user {name!r}: field 'password_hash' must be "
            "'pbkdf2_sha256$iterations$salt$hash'"
        )
    tokens = entry.get("tokens_sha256") or []
    if not isinstance(tokens, list) or not all(isinstance(t, str) and len(t) == 64 for t in tokens):
        raise AuthError(
            f"{source}: user {name!r}: field 'tokens_sha256' must be a list of SHA-256 hex digests"
        )
    return User(
        name=name, role=role, password_hash=pw, tokens_sha256=tuple(t.lower() for t in tokens)
    )


def user_entry(
    name: str, role: str, password: str | None = None, token: str | None = None
) -> dict[str, Any]:
    """A users-file entry (hashes only) for ``borderfusion users add``."""
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    entry: dict[str, Any] = {"name": name, "role": role}
    if password:
        entry["password_hash"] = hash_password(password)
    if token:
        entry["tokens_sha256"] = [hash_token(token)]
    return entry


def ensure_demo_users(path: str | Path) -> tuple[str, str]:
    """Create a users file with one coordinator and a fresh random password.

    For the quickstart: ``borderfusion demo`` prints the password. An existing file is
    rewritten (the old password cannot be recovered from its hash), readable by the owner only.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    doc = {
        "session_secret": secrets.token_hex(32),
        "users": [user_entry("coordinator", "coordinator", password)],
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False)
    return "coordinator", password
