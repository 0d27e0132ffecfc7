"""sensors/durable.append_or_cut: a write lands whole and fsynced, or the file is as before."""

from __future__ import annotations

import errno
import os

import pytest

import sensors.durable as durable
from sensors.durable import TornWrite, append_or_cut


def _open(path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def test_short_writes_are_continued_until_every_byte_is_down(tmp_path, monkeypatch) -> None:
    real = os.write
    monkeypatch.setattr(durable.os, "write", lambda fd, b: real(fd, bytes(b)[:3]))  # 3 at a time
    fd = _open(tmp_path / "log")
    try:
        append_or_cut(fd, b"first line\n")
        append_or_cut(fd, b"second\n", fsync=False)
    finally:
        os.close(fd)
    assert (tmp_path / "log").read_bytes() == b"first line\nsecond\n"


def test_a_write_failing_part_way_is_cut_back_to_where_it_began(tmp_path, monkeypatch) -> None:
    fd = _open(tmp_path / "log")
    append_or_cut(fd, b"kept\n")
    real, calls = os.write, []

    def disk_fills(f: int, b) -> int:
        calls.append(len(b))
        if len(calls) == 1:
            return real(f, bytes(b)[:4])  # half the record is on disk ...
        raise OSError(errno.ENOSPC, "No space left on device")  # ... then the disk is full

    monkeypatch.setattr(durable.os, "write", disk_fills)
    with pytest.raises(OSError) as err:
        append_or_cut(fd, b"torn record\n")
    assert err.value.errno == errno.ENOSPC and not isinstance(err.value, TornWrite)
    monkeypatch.setattr(durable.os, "write", real)
    append_or_cut(fd, b"next\n")  # the next record lands right behind the last whole one
    os.close(fd)
    assert (tmp_path / "log").read_bytes() == b"kept\nnext\n"


def test_a_failed_fsync_undoes_the_write(tmp_path, monkeypatch) -> None:
    fd = _open(tmp_path / "log")
    append_or_cut(fd, b"kept\n")

    def fsync_fails(f: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(durable.os, "fsync", fsync_fails)
    with pytest.raises(OSError):
        append_or_cut(fd, b"not durable\n")
    os.close(fd)
    assert (tmp_path / "log").read_bytes() == b"kept\n"


def test_when_cutting_back_fails_too_the_caller_is_told_the_tail_is_torn(
    tmp_path, monkeypatch
) -> None:
    fd = _open(tmp_path / "log")
    real = os.write

    def half(f: int, b) -> int:
        if len(b) < 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(f, bytes(b)[:5])

    def no_truncate(f: int, n: int) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(durable.os, "write", half)
    monkeypatch.setattr(durable.os, "ftruncate", no_truncate)
    with pytest.raises(TornWrite) as err:
        append_or_cut(fd, b"0123456789abc\n")
    os.close(fd)
    assert err.value.errno == errno.ENOSPC and "cutting it back failed" in str(err.value)
    assert (tmp_path / "log").read_bytes() == b"01234"  # torn: the spool moves to a new segment
