"""Append bytes to a file durably, or not at all: the spool's and the archive's one write path.

Why: both are append-only logs whose start-up recovery repairs a torn *tail* only. A write
that fails part-way while running (a full disk: ``ENOSPC``) and is left in place is no longer
the tail once the next append lands behind it — the gateway spool then skipped an
acknowledged reading (its line failed the CRC), the archive a whole gzip member. So a failed
write is cut back to where it began before the error goes up.
"""

from __future__ import annotations

import os


class TornWrite(OSError):
    """The write failed and cutting it back failed too: torn bytes end the file."""


def append_or_cut(fd: int, data: bytes, fsync: bool = True) -> None:
    """Write all of ``data`` at the end of ``fd`` (opened ``O_APPEND``) and fsync it; on an
    ``OSError`` truncate the file to its size before the call and re-raise (:class:`TornWrite`
    if the truncation fails as well)."""
    start = os.fstat(fd).st_size
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    except OSError as exc:
        try:
            os.ftruncate(fd, start)
        except OSError as cut:
            raise TornWrite(exc.errno, f"{exc.strerror}; cutting it back failed: {cut}") from exc
        raise
