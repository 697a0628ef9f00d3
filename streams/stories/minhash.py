"""MinHash signatures of word shingles, and the LSH band index over them.

The near-duplicate half of the story clustering (:mod:`streams.stories.cluster`): an article's
body becomes a set of word shingles, the shingles a fixed-length MinHash signature whose share
of equal values estimates the Jaccard similarity of two bodies, and the signature's LSH band
keys find the candidates worth comparing without comparing every pair. The hash functions are
derived from BLAKE2b, so a signature is the same in every process and after every restart (the
signatures are stored in the clustering state); the band keys are not stored, only rebuilt.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Final

import numpy as np

_PRIME: Final = (1 << 61) - 1
_MAX_HASH: Final = 0xFFFFFFFF

BandKey = int
"""An LSH band key: the hash of (band number, the signature's values in that band)."""


class MinHasher:
    """MinHash signatures of token shingles with process-independent hash functions."""

    def __init__(self, num_perm: int) -> None:
        a: list[int] = []
        b: list[int] = []
        for i in range(num_perm):
            digest = hashlib.blake2b(f"newsstream-minhash-{i}".encode(), digest_size=16).digest()
            a.append(int.from_bytes(digest[:8], "little") % (_PRIME - 1) + 1)
            b.append(int.from_bytes(digest[8:], "little") % _PRIME)
        self._a = np.array(a, dtype=np.uint64)
        self._b = np.array(b, dtype=np.uint64)

    def signature(self, shingles: Iterable[str]) -> tuple[int, ...]:
        # Each shingle's 4-byte blake2b digest read as a little-endian uint32, all at once.
        digests = b"".join(
            hashlib.blake2b(s.encode(), digest_size=4).digest() for s in set(shingles)
        )
        hashes = np.frombuffer(digests, dtype="<u4").astype(np.uint64)
        if hashes.size == 0:
            hashes = np.zeros(1, dtype=np.uint64)
        # uint64 products wrap (as in datasketch's MinHash); the family stays a fixed,
        # well-mixed set of hash functions, which is all the estimate needs.
        permuted = np.multiply.outer(hashes, self._a)  # then in place: no temporaries
        permuted += self._b
        permuted %= np.uint64(_PRIME)
        permuted &= np.uint64(_MAX_HASH)
        return tuple(permuted.min(axis=0).tolist())


def pack_signature(signature: Iterable[int]) -> str:
    """A signature as it is stored in the ``articles`` table: base64 of little-endian uint32s
    (~0.7 KB a signature, against ~4.7 KB as a list of Python ints)."""
    packed = np.fromiter(signature, dtype="<u4").tobytes()
    return base64.b64encode(packed).decode("ascii")


def unpack_signature(stored: str | Iterable[int]) -> tuple[int, ...]:
    """The signature of an ``articles`` entry (a list of ints in state written before
    2026-11-23, which is still read)."""
    if isinstance(stored, str):
        return tuple(np.frombuffer(base64.b64decode(stored), dtype="<u4").tolist())
    return tuple(stored)


def similarity(left: Iterable[int], right: Iterable[int]) -> float:
    """Estimated Jaccard similarity of two MinHash signatures (share of equal values)."""
    pairs = list(zip(left, right, strict=True))
    return sum(1 for x, y in pairs if x == y) / len(pairs) if pairs else 0.0


def shingles(tokens: list[str], size: int) -> list[str]:
    """The runs of ``size`` consecutive tokens, space-joined (all of them, if fewer)."""
    if len(tokens) <= size:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]


def band_keys(signature: Iterable[int], bands: int) -> list[BandKey]:
    """The signature's LSH band keys: hashes of (band number, that band's values).

    They only ever key the in-memory index (rebuilt from the stored signatures), so they
    need not be stable across versions, only equal for equal bands (ints hash alike in every
    process). A hash collision only adds a candidate, which the similarity check rejects."""
    values = tuple(signature)
    rows = len(values) // bands
    return [hash((band, values[band * rows : (band + 1) * rows])) for band in range(bands)]


BandIndex = dict[BandKey, str | list[str]]
"""LSH band key -> the id of the one article with that band, or the ids of several (most keys
have one article: a bare string saves a list per key, ~3 KB per article)."""


def index_ids(index: BandIndex, key: BandKey) -> list[str]:
    """The ids of the articles under ``key`` (none if the key is not there)."""
    held = index.get(key)
    if held is None:
        return []
    return [held] if isinstance(held, str) else list(held)


def index_add(index: BandIndex, key: BandKey, article_id: str) -> None:
    """Add ``article_id`` under ``key`` (after the ids already there)."""
    held = index.get(key)
    if held is None:
        index[key] = article_id
    elif isinstance(held, str):
        index[key] = [held, article_id]
    else:
        held.append(article_id)


def index_remove(index: BandIndex, key: BandKey, article_id: str) -> None:
    """Remove ``article_id`` from ``key``; the key goes when no article is left."""
    held = index.get(key)
    if held == article_id or held is None:
        index.pop(key, None)
    elif isinstance(held, list):
        rest = [a for a in held if a != article_id]
        if not rest:
            index.pop(key, None)
        else:
            index[key] = rest[0] if len(rest) == 1 else rest
