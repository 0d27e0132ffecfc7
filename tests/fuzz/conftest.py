"""Fuzzing helpers: how many examples to run, and byte/text mutators seeded from real data.

The normal suite runs a short pass (``FUZZ_EXAMPLES`` unset: 200 examples per target);
``make fuzz`` sets ``FUZZ_EXAMPLES=20000`` for the long one. Every test here is marked
``fuzz`` so either pass can be selected (``-m fuzz``) or left out (``-m "not fuzz"``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 200,  # the short pass is reproducible; the long one explores
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
    database=None,
)

INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: property-based fuzzing (FUZZ_EXAMPLES sets depth)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/fuzz/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.fuzz)
            if EXAMPLES > 200:
                item.add_marker(pytest.mark.timeout(3600))


def mutate_bytes(draw: Callable[[Any], Any], seed: bytes, max_ops: int = 6) -> bytes:
    """``seed`` with a few random edits: flips, interesting bytes, inserts, deletes,
    truncation, duplicated chunks — the classic mutational fuzzer's moves."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(("flip", "set", "insert", "delete", "truncate", "dup")))
        n = len(data)
        pos = draw(st.integers(0, max(n - 1, 0)))
        if op == "flip" and n:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and n:
            data[pos] = draw(st.sampled_from(INTERESTING) | st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and n:
            del data[pos : pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[pos:]
        elif op == "dup" and n:
            end = min(n, pos + draw(st.integers(1, 64)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


def mutate_text(draw: Callable[[Any], Any], seed: str, max_ops: int = 4) -> str:
    """Text edits for line formats (NMEA): character swaps, inserts, deletes, truncation."""
    chars = list(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(("replace", "insert", "delete", "truncate")))
        n = len(chars)
        pos = draw(st.integers(0, max(n - 1, 0)))
        alphabet = st.sampled_from(list("!$*,0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ`abcdefw\\:"))
        if op == "replace" and n:
            chars[pos] = draw(alphabet | st.characters())
        elif op == "insert":
            chars[pos:pos] = draw(st.lists(alphabet | st.characters(), min_size=1, max_size=8))
        elif op == "delete" and n:
            del chars[pos : pos + draw(st.integers(1, 8))]
        elif op == "truncate":
            del chars[pos:]
    return "".join(chars)
