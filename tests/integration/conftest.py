"""The embedded broker shared by the integration tests, and per-test topic names."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from streams.kafka.tansu import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One Tansu broker on a free port for the whole session.

    If it cannot start, every test using it errors with the broker's output: integration tests
    are never skipped for want of a broker.
    """
    embedded = EmbeddedBroker()
    embedded.start()
    try:
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to the test, so tests sharing the broker never share topics or groups."""
    return f"t{uuid4().hex[:8]}."
