"""Secret values that must never appear in a log line, and the masking the log formatter does.

Why mask at all, when the code never logs a secret: client libraries do. kafka-python's admin
client printed its whole configuration, SASL password included, at DEBUG; capping the known
loggers (``commands.common.QUIET_LOGGERS``) closed that case, masking every configured secret
in every line closes the ones nobody has found yet. Values are registered where they are
loaded: the settings' secret fields (``setup_logging``), the gateway's HMAC keys, the delivery
targets' webhook secrets and TAK key passwords, the web's session secret.
"""

from __future__ import annotations

import json

MASK = "***"
MIN_LEN = 6  # shorter values would mask ordinary words in every line

_secrets: set[str] = set()
_ordered: list[str] = []  # longest first: a secret that contains another is masked whole


def register(*values: str | bytes | None) -> None:
    """Mask these values (and their JSON-escaped forms) in every log line from now on."""
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if not value or len(value) < MIN_LEN:
            continue
        for form in (value, json.dumps(value)[1:-1]):
            _secrets.add(form)
    _ordered[:] = sorted(_secrets, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
