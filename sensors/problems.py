"""One reason a piece of sensor input could not be decoded, shared by the decoders.

Decoders return problems beside their readings instead of raising, so one bad block,
packet or XML fragment never stops a stream; the ingest agent dead-letters them. It lives
here, not under one sensor kind, because radar (ASTERIX) and thermal (ONVIF) both report it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DecodeProblem:
    """``where`` locates the input (``"block 3 @ byte 120"``), ``reason`` is a short code."""

    where: str
    reason: str
    message: str
    raw: bytes = field(default=b"", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``raw`` as base64 as the dead-letter contract (§3) wants."""
        out: dict[str, Any] = {"where": self.where, "reason": self.reason, "message": self.message}
        if self.raw:
            out["raw"] = base64.b64encode(self.raw).decode("ascii")
        return out

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}: {self.message}"
