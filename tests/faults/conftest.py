"""The fault suite's broker (its own embedded Tansu) and its marker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.kafka.tansu import EmbeddedBroker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in item.nodeid:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    """One Tansu per test module: in-memory storage never frees, so modules do not share."""
    with EmbeddedBroker() as embedded:
        yield embedded
