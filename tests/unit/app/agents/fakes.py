"""Stand-ins for what the agents read of Faust: its stream, events and messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    refs: int = 1

    def incref(self) -> None:
        self.refs += 1


@dataclass
class StreamEvent:
    message: Message
    acked: int = 0

    @property
    def value(self) -> bytes | None:
        return self.message.value

    def ack(self) -> None:
        self.acked += 1


@dataclass
class Stream:
    """What the agents read of Faust's stream: ``events()``."""

    items: list[StreamEvent] = field(default_factory=list)

    async def events(self) -> AsyncIterator[StreamEvent]:
        for item in self.items:
            yield item
