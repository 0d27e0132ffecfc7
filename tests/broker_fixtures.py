"""Broker fixtures (a pytest plugin): one real broker per session, one topic prefix per test.

``--broker=tansu`` (default) starts the embedded Tansu; ``--broker=kafka`` starts Apache
Kafka 4.x in KRaft mode from the Maven jar cache (``tests/kafka_kraft.py``). Broker tests
are marked ``broker`` and must pass on both: what works only on Tansu is a bug.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--broker", choices=("tansu", "kafka"), default="tansu",
                     help="which real broker the `broker` tests run against")


@pytest.fixture(scope="session")
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--broker"))


@pytest.fixture(scope="session")
def kafka_bootstrap(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a live broker for this test session."""
    if os.environ.get("BF_TEST_BOOTSTRAP"):
        yield os.environ["BF_TEST_BOOTSTRAP"]
        return
    if broker_kind == "tansu":
        from streams.broker import EmbeddedBroker

        log = tmp_path_factory.mktemp("tansu") / "tansu.log"
        with EmbeddedBroker(log_file=log) as broker:
            yield broker.bootstrap
    else:
        from tests.kafka_kraft import start_kraft

        with start_kraft(workdir=tmp_path_factory.mktemp("kraft")) as broker:
            yield broker.bootstrap


@pytest.fixture
def topic_prefix() -> str:
    """A fresh namespace so tests never see each other's records on the shared broker."""
    return f"t{uuid.uuid4().hex[:10]}."
