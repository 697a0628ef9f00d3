"""The embedded broker shared by the integration tests, and per-test topic names."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from streams.kafka.tansu import EmbeddedBroker
from tests.support.processes import Stack, running_stack


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One Tansu broker on a free port for the whole session.

    If it cannot start, every test using it errors with the broker's output: integration tests
    are never skipped for want of a broker.
    """
    with EmbeddedBroker() as embedded:
        yield embedded


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to the test, so tests sharing the broker never share topics or groups."""
    return f"t{uuid4().hex[:8]}."


@pytest.fixture(scope="module")
def stack(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A worker and both sinks on topics of their own, shared by the tests of one module (their
    start, with the NER and sentiment models, takes a while); stopped with SIGTERM at the end."""
    with running_stack(broker.bootstrap, tmp_path_factory.mktemp("data")) as running:
        yield running
