"""Shared fixtures. Broker fixtures live in ``tests/broker_fixtures.py`` (a pytest plugin)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only reference captures in ``../shared/data`` (never copied into the repo)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"reference data missing: {SHARED_DATA} (CI lays ../shared beside the clone)")
    return SHARED_DATA


pytest_plugins = ["tests.broker_fixtures"]
