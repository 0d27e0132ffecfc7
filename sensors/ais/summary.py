"""Counting what a decode run produced, for the CLI's stderr report and for metrics."""

from __future__ import annotations

from collections import Counter

from sensors.ais.model import REASONS, AisRecord, AisRejection


class RejectionSummary:
    """Counts records, rejections by reason (with the first examples) and nulled values."""

    def __init__(self, examples_per_reason: int = 3) -> None:
        self.examples_per_reason = examples_per_reason
        self.records = 0
        self.by_type: Counter[int] = Counter()
        self.reasons: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.examples: dict[str, list[AisRejection]] = {}

    def add(self, item: AisRecord | AisRejection) -> None:
        if isinstance(item, AisRecord):
            self.records += 1
            self.by_type[item.msg_type] += 1
            self.notes.update(item.notes)
            return
        self.reasons[item.reason] += 1
        ex = self.examples.setdefault(item.reason, [])
        if len(ex) < self.examples_per_reason:
            ex.append(item)

    @property
    def rejected(self) -> int:
        return sum(self.reasons.values())

    def format(self) -> str:
        """A human report: totals, rejections by reason with examples, values mapped to null."""
        lines = [f"ais decode: {self.records} records, {self.rejected} rejected"]
        if self.by_type:
            types = ", ".join(f"{k}:{v}" for k, v in sorted(self.by_type.items()))
            lines.append(f"  records by message type: {types}")
        for reason, n in self.reasons.most_common():
            lines.append(f"  {reason}: {n}  ({REASONS.get(reason, '')})")
            for ex in self.examples.get(reason, []):
                raw = ex.raw.replace("\n", " | ")
                raw = raw if len(raw) <= 120 else raw[:117] + "..."
                lines.append(f"      {ex.message}: {raw}")
        if self.notes:
            nulls = ", ".join(f"{k}={v}" for k, v in self.notes.most_common())
            lines.append(f"  values mapped to null (not available / invalid): {nulls}")
        return "\n".join(lines)
