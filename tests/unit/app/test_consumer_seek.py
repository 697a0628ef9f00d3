"""The worker's consumer seeks every stream partition back to where processing must resume.

Faust calls ``perform_seek`` when a rebalance's recovery ends, after the fetcher may already have
delivered records of the new partitions into the streams' queues, and clears those queues right
after it. Whatever was cleared must be fetched again, so the fetch position of each stream
partition must end at its committed offset, or at its beginning when nothing was committed yet
(aiokafka's own ``seek_to_committed`` leaves such a partition where its fetch had got to, which
lost the records in the worker takeover fault test). The thread that owns the aiokafka consumer
is replaced by one that keeps fetch positions the way aiokafka 0.14 does.
"""

from __future__ import annotations

from collections.abc import Mapping

from faust.types import TP

from streams.app.factory import NewsApp
from streams.app.transport import _Consumer

APP_ID = "seek-test"


class AiokafkaLikeThread:
    """Fetch positions as aiokafka keeps them: ``seek_to_committed`` moves only the partitions
    whose committed offset is above 0."""

    def __init__(
        self, positions: dict[TP, int], committed: Mapping[TP, int | None], beginning: int = 0
    ) -> None:
        self.positions = positions
        self.committed = committed
        self.beginning = beginning

    def assignment(self) -> set[TP]:
        return set(self.positions)

    async def seek_to_committed(self) -> Mapping[TP, int | None]:
        for tp, offset in self.committed.items():
            if offset and offset > 0:
                self.positions[tp] = offset
        return dict(self.committed)

    async def earliest_offsets(self, *partitions: TP) -> Mapping[TP, int]:
        return dict.fromkeys(partitions, self.beginning)

    def seek(self, partition: TP, offset: int) -> None:
        self.positions[partition] = offset


def _consumer(thread: AiokafkaLikeThread) -> _Consumer:
    app = NewsApp(APP_ID, broker="kafka://127.0.0.1:1")
    app.Table("counts", default=int, partitions=1)
    consumer = app.consumer
    assert isinstance(consumer, _Consumer)
    # The consumer's own thread service owns an event loop of its own, never started here.
    consumer._thread.thread_loop.close()
    consumer._thread = thread  # type: ignore[assignment]
    return consumer


async def test_partitions_with_nothing_committed_are_fetched_again_from_their_beginning() -> None:
    never_committed = TP(f"{APP_ID}-story-input", 0)
    committed_zero = TP("raw", 0)
    committed = TP("raw", 1)
    changelog = TP(f"{APP_ID}-counts-changelog", 0)
    # Where each fetch had got to while records were delivered into the (then cleared) queues.
    thread = AiokafkaLikeThread(
        positions={never_committed: 21, committed_zero: 9, committed: 57, changelog: 14},
        committed={never_committed: None, committed_zero: 0, committed: 40, changelog: None},
    )
    consumer = _consumer(thread)

    await consumer.perform_seek()

    assert thread.positions == {
        never_committed: 0,
        committed_zero: 0,
        committed: 40,
        # The table's changelog is positioned by table recovery, never by this seek.
        changelog: 14,
    }
    # Faust's fetch loop drops records below its read offset: none may be left ahead.
    assert consumer._read_offset[never_committed] is None
    assert consumer._read_offset[committed] == 40


async def test_a_partition_whose_log_start_moved_is_rewound_to_its_first_record() -> None:
    # Kafka deletes old segments (retention): the beginning is not always offset 0.
    story_input = TP(f"{APP_ID}-story-input", 0)
    thread = AiokafkaLikeThread(
        positions={story_input: 130}, committed={story_input: None}, beginning=100
    )
    consumer = _consumer(thread)

    await consumer.perform_seek()

    assert thread.positions == {story_input: 100}
    assert consumer._read_offset[story_input] == 100


async def test_the_seek_stops_the_flow_so_no_record_fetched_before_it_is_delivered_after_it() -> (
    None
):
    # Records fetched before the seek and delivered after it would move Faust's read offset
    # past the records fetched again, which it would then drop. Faust's callers resume the
    # flow once the seek has returned.
    thread = AiokafkaLikeThread(positions={TP("raw", 0): 5}, committed={TP("raw", 0): 3})
    consumer = _consumer(thread)
    flowing_before = consumer.flow_active

    await consumer.perform_seek()

    assert flowing_before
    assert not consumer.flow_active
    assert consumer.suspend_flow.is_set()
