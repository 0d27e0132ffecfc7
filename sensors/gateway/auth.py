"""Gateway credentials: bearer tokens bound to sensors, with optional request signatures.

The tokens file holds only SHA-256 hashes of the tokens, so a leaked config does not leak
a credential. A token may report only for its listed sensors, so a stolen camera token
cannot inject radar plots. A token may also carry an ``hmac_key``: the sender then signs
each request (``sensors/signing.py``: ``X-Borderfusion-Timestamp`` and
``X-Borderfusion-Signature: sha256=<hex HMAC of timestamp.body>``), which defeats a forged,
altered or replayed body from someone who sniffed the token on the wire: a signature is
good for 5 minutes either side of the gateway's clock, and only once.

File format (YAML)::

    tokens:
      - name: river-post-3
        token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        sensors: [R1, T1]          # or ["*"] for every sensor
        hmac_key: 3a0c…            # optional: require signed bodies
        rate_per_s: 50             # optional: requests per second (token bucket)
        burst: 100                 # optional
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sensors.signing import ReplayGuard, check

log = logging.getLogger(__name__)

_HEX = frozenset("0123456789abcdef")


class TokensFileError(ValueError):
    """The tokens file is wrong; the message names the entry and the field."""


@dataclass(frozen=True, slots=True)
class Credential:
    """Who is sending, and what they may send. Never holds the token itself."""

    name: str
    sensors: frozenset[str] | None  # None: every sensor ("*")
    hmac_key: bytes | None = None
    rate_per_s: float | None = None
    burst: float | None = None

    def may_report(self, sensor_id: object) -> bool:
        return self.sensors is None or sensor_id in self.sensors


def hash_token(token: str) -> str:
    """Hex SHA-256 of a token: what the tokens file stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """Credentials by token hash; :meth:`authenticate` turns a header into a credential."""

    def __init__(self, credentials: dict[str, Credential]) -> None:
        self._by_hash = dict(credentials)
        self.replays = ReplayGuard()  # signed requests taken lately: each is good once

    def __len__(self) -> int:
        return len(self._by_hash)

    def hmac_keys(self) -> list[bytes]:
        """Every credential's HMAC key (for masking them in logs)."""
        return [c.hmac_key for c in self._by_hash.values() if c.hmac_key]

    @classmethod
    def load(cls, path: str | Path) -> TokenStore:
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError as exc:
            raise TokensFileError(f"tokens file not found: {path}") from exc
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "tokens file is readable by group or others; chmod 600 it",
                extra={"path": str(path)},
            )
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise TokensFileError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_dict(doc, str(path))

    @classmethod
    def from_dict(cls, doc: Any, source: str = "tokens.yaml") -> TokenStore:
        if not isinstance(doc, dict) or not isinstance(doc.get("tokens"), list):
            raise TokensFileError(f"{source}: expected a top-level 'tokens:' list")
        by_hash: dict[str, Credential] = {}
        names: set[str] = set()
        for i, entry in enumerate(doc["tokens"]):
            digest, cred = _parse_entry(i, entry, source)
            if digest in by_hash or cred.name in names:
                raise TokensFileError(f"{source}: token {cred.name!r} is listed twice")
            by_hash[digest] = cred
            names.add(cred.name)
        return cls(by_hash)

    def replace_with(self, other: TokenStore) -> None:
        """Take ``other``'s credentials (a reloaded tokens file) in one assignment: a request
        sees the old set or the new one, never a mix; signatures already taken stay taken."""
        self._by_hash = dict(other._by_hash)

    def authenticate(self, authorization: str | None) -> Credential | None:
        """The credential for an ``Authorization: Bearer <token>`` header, or None.

        Compares the hash of the presented token with every stored hash in constant time
        and without stopping early, so response timing reveals neither a prefix nor which
        entry matched.
        """
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        presented = hash_token(token).encode()
        found: Credential | None = None
        for digest, cred in self._by_hash.items():
            if hmac.compare_digest(presented, digest.encode()):
                found = cred
        return found

    def check_signature(
        self,
        cred: Credential,
        body: bytes,
        signature: str | None,
        ts: str | None,
        now: float | None = None,
    ) -> str | None:
        """Why a request of ``cred`` is refused (its signature missing, stale, wrong or
        already used), or None: ``cred`` needs no signature, or this one is good and new."""
        if cred.hmac_key is None:
            return None
        why = check(cred.hmac_key, ts, body, signature, now)
        if why is None and not self.replays.first_time(str(signature)):
            why = "this signed request was already taken (a replay)"
        return why


def _parse_entry(i: int, entry: Any, source: str) -> tuple[str, Credential]:
    if not isinstance(entry, dict):
        raise TokensFileError(f"{source}: tokens[{i}] must be a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise TokensFileError(f"{source}: tokens[{i}]: field 'name' is missing or not a string")
    allowed = {"name", "token_sha256", "sensors", "hmac_key", "rate_per_s", "burst"}
    for key in entry:
        if key not in allowed:
            raise TokensFileError(f"{source}: token {name!r}: unknown field {key!r}")
    digest = entry.get("token_sha256")
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest.lower()) <= _HEX:
        raise TokensFileError(
            f"{source}: token {name!r}: field 'token_sha256' must be 64 hex digits "
            "(the SHA-256 of the token, not the token)"
        )
    sensors = entry.get("sensors")
    if (
        not isinstance(sensors, list)
        or not sensors
        or not all(isinstance(s, str) and s for s in sensors)
    ):
        raise TokensFileError(
            f"{source}: token {name!r}: field 'sensors' must be a non-empty list of sensor ids "
            'or ["*"]'
        )
    key = entry.get("hmac_key")
    if key is not None and (not isinstance(key, str) or len(key) < 32):
        raise TokensFileError(
            f"{source}: token {name!r}: field 'hmac_key' must be a string of 32+ characters"
        )
    limits: dict[str, float | None] = {}
    for field in ("rate_per_s", "burst"):
        value = entry.get(field)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0
        ):
            raise TokensFileError(f"{source}: token {name!r}: field {field!r} must be > 0")
        limits[field] = None if value is None else float(value)
    cred = Credential(
        name=name,
        sensors=None if "*" in sensors else frozenset(sensors),
        hmac_key=key.encode() if key else None,
        rate_per_s=limits["rate_per_s"],
        burst=limits["burst"],
    )
    return digest.lower(), cred


def new_token_entry(
    name: str, sensors: list[str], with_hmac: bool = False
) -> tuple[str, dict[str, Any]]:
    """A fresh random token and the tokens-file entry for it (hash only, never the token)."""
    token = secrets.token_urlsafe(32)
    entry: dict[str, Any] = {
        "name": name,
        "token_sha256": hash_token(token),
        "sensors": list(sensors),
    }
    if with_hmac:
        entry["hmac_key"] = secrets.token_hex(32)
    return token, entry
