"""The analysts' archive: every ``readings.*``, ``alerts`` and ``alerts.acks`` record in
append-only, hash-chained, gzip segments (``store``), the agent that fills it (``agent``),
window queries and export (``query``), and rule backtesting (``backtest``).
See ``docs/archive.md``.
"""

from streams.archive.store import (
    ARCHIVED_TOPICS,
    ArchiveRecord,
    ArchiveStore,
    RepairReport,
    VerifyReport,
    read_chain,
    verify_archive,
)

__all__ = [
    "ARCHIVED_TOPICS",
    "ArchiveRecord",
    "ArchiveStore",
    "RepairReport",
    "VerifyReport",
    "read_chain",
    "verify_archive",
]
