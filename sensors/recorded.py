"""Reading the recorded stream format (DESIGN §8): ``{"topic": …, "value": {…}}`` per line.

Used by ``push``, ``replay`` and the archive export, so every tool agrees on what a
malformed line is and reports it with its line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sensors.schemas import READING_TOPICS


@dataclass(frozen=True, slots=True)
class RecordedLine:
    line_no: int
    topic: str
    value: Any


@dataclass(frozen=True, slots=True)
class BadLine:
    line_no: int
    reason: str
    message: str
    raw: str


def iter_recorded(source: IO[str] | Path | str) -> Iterator[RecordedLine | BadLine]:
    """Yield each line as a :class:`RecordedLine`, or a :class:`BadLine` saying why not."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8", errors="replace") as fh:
            yield from iter_recorded(fh)
        return
    for line_no, line in enumerate(source, start=1):
        raw = line.strip()
        if not raw:
            continue
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            yield BadLine(line_no, "malformed_json", f"line {line_no}: not JSON ({exc})", raw)
            continue
        if not isinstance(doc, dict) or "topic" not in doc or "value" not in doc:
            yield BadLine(
                line_no, "bad_envelope", f'line {line_no}: expected {{"topic": …, "value": …}}', raw
            )
            continue
        if doc["topic"] not in READING_TOPICS:
            yield BadLine(
                line_no,
                "unknown_topic",
                f"line {line_no}: topic {doc['topic']!r} is not one of {', '.join(READING_TOPICS)}",
                raw,
            )
            continue
        yield RecordedLine(line_no, doc["topic"], doc["value"])
