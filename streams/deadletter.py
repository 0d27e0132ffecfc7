"""Dead-letter records (DESIGN §3): every refused record, with why, so nothing vanishes."""

from __future__ import annotations

import base64
import time
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(slots=True)
class DeadLetter:
    source: str
    reason: str
    raw: str
    t: float
    field: str | None = None
    message: str | None = None
    sensor_id: str | None = None
    index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def raw_text(raw: bytes | str | Any, limit: int = 4096) -> str:
    """The offending bytes as text (UTF-8 if it is, else ``base64:``), capped in size."""
    if isinstance(raw, str):
        return raw[:limit]
    if isinstance(raw, bytes):
        try:
            return raw[:limit].decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw[:limit]).decode()
    return repr(raw)[:limit]


def dead_letter(
    source: str,
    reason: str,
    raw: Any,
    *,
    field: str | None = None,
    message: str | None = None,
    sensor_id: str | None = None,
    index: int | None = None,
) -> DeadLetter:
    return DeadLetter(
        source=source,
        reason=reason,
        raw=raw_text(raw),
        t=time.time(),
        field=field,
        message=message,
        sensor_id=sensor_id,
        index=index,
    )
