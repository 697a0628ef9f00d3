"""length_batches: batches of similar length within a token budget and a padding bound."""

from __future__ import annotations

from streams.enrich.e5.batches import length_batches


def test_length_batches_respect_the_budget() -> None:
    lengths = [5, 50, 7, 300, 6, 49, 1000]
    batches = length_batches(lengths, 100)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 100


def test_length_batches_keep_padding_small_for_one_article() -> None:
    """One article's sentences (12 to 90 pieces) fit one 2,048-token budget, but padded to the
    longest they would cost more than twice their length: they are split by length
    instead."""
    lengths = [40, 12, 90, 25] * 4 + [12, 25] * 6 + [40, 12]
    assert 30 * max(lengths) > 2 * sum(lengths)
    batches = length_batches(lengths, 2048)
    assert sorted(i for b in batches for i in b) == list(range(30))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded <= 1.1 * sum(lengths)
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) * width <= 2048
        assert len(batch) * width <= 256 or len(batch) * width <= 1.1 * sum(
            lengths[i] for i in batch
        )
    # With the budget alone they cost half as much again.
    unbounded = length_batches(lengths, 2048, max_padding=float("inf"))
    assert sum(len(b) * max(lengths[i] for i in b) for b in unbounded) > 1.4 * sum(lengths)
