"""Request signatures, one scheme for the whole product: HMAC-SHA256 over ``<timestamp>.<body>``.

Used both ways: senders sign what they POST to a gateway (a token's ``hmac_key``), and the
delivery service signs the alerts it POSTs to webhooks. ``X-Borderfusion-Timestamp`` is the
signing time (UTC seconds, fractions allowed); ``X-Borderfusion-Signature`` is
``sha256=<hex HMAC of timestamp + "." + body>``. Signing the time lets the receiver refuse a
request older than its tolerance (5 minutes), and :class:`ReplayGuard` refuses one it has
already taken within that window: a captured request can be neither altered nor sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

SIGNATURE_HEADER = "X-Borderfusion-Signature"
TIMESTAMP_HEADER = "X-Borderfusion-Timestamp"
TOLERANCE_S = 300.0


def _key(key: bytes | str) -> bytes:
    return key.encode() if isinstance(key, str) else key


def sign(key: bytes | str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp + "." + body``."""
    mac = hmac.new(_key(key), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def timestamp(now: float | None = None) -> str:
    """A signing time as senders write it (milliseconds: two requests a second differ)."""
    return f"{time.time() if now is None else now:.3f}"


def check(
    key: bytes | str,
    ts: str | None,
    body: bytes,
    signature: str | None,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> str | None:
    """Why the signature is refused, or None when it signs ``body`` at a time within
    ``tolerance_s`` of ``now``."""
    if not signature:
        return f"missing {SIGNATURE_HEADER}"
    if not ts:
        return f"missing {TIMESTAMP_HEADER} (signatures cover <timestamp>.<body>)"
    try:
        age = abs((time.time() if now is None else now) - float(ts))
    except ValueError:
        return f"{TIMESTAMP_HEADER} is not a number of seconds"
    if not age <= tolerance_s:  # (NaN too)
        return f"{TIMESTAMP_HEADER} is {age:.0f} s from this clock (more than {tolerance_s:.0f})"
    if not hmac.compare_digest(sign(key, ts, body).encode(), signature.strip().lower().encode()):
        return f"bad {SIGNATURE_HEADER} for this body and timestamp"
    return None


def verify(
    key: bytes | str,
    ts: str,
    body: bytes,
    signature: str,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """The receiver's check: a valid signature on a timestamp within the tolerance."""
    return check(key, ts, body, signature, now, tolerance_s) is None


class ReplayGuard:
    """Signatures taken in the last ``window_s`` (the timestamp tolerance, both ways): the
    same signed request a second time is a replay. Bounded by ``max_entries`` (the oldest
    go first; a request rate that fills it in less than the window weakens the guard for
    the oldest only, never refuses a fresh request)."""

    def __init__(self, window_s: float = 2 * TOLERANCE_S, max_entries: int = 200_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: dict[str, float] = {}  # signature -> when taken (insertion order = time)
        self._lock = threading.Lock()

    def first_time(self, signature: str, now: float | None = None) -> bool:
        """Record ``signature``; False if it was already taken within the window."""
        now = time.monotonic() if now is None else now
        sig = signature.strip().lower()
        with self._lock:
            self._expire(now)
            if sig in self._seen:
                return False
            self._seen[sig] = now
            return True

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen and (len(seen) >= self.max_entries
                        or now - next(iter(seen.values())) > self.window_s):
            del seen[next(iter(seen))]
