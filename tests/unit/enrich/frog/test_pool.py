"""FrogServerPool on real frog servers: a missing frog, restarts of dead servers, a clean close.

The restart test runs Debian's frog (no mocks) in a pool of its own.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.enrich.frog import (
    INSTALL_HINT,
    FrogEntityRecognizer,
    FrogError,
    FrogNotInstalledError,
    FrogServerPool,
)
from streams.subprocesses import group_processes


def _members(pgid: int) -> dict[int, str]:
    """pid -> state letter of every process in a process group (zombies included)."""
    return dict(group_processes(pgid))


def _group_is_empty(pgid: int) -> bool:
    return not _members(pgid)


def test_missing_frog_gives_the_install_hint(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-frog")
    with pytest.raises(FrogNotInstalledError, match=re.escape(INSTALL_HINT)):
        FrogServerPool(frog_bin=missing)
    with pytest.raises(FrogNotInstalledError, match="apt-get install frog frogdata"):
        FrogEntityRecognizer(frog_bin=missing)


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.frog
def test_pool_restarts_dead_servers_and_close_leaves_no_process() -> None:
    pool = FrogServerPool(1)
    try:
        with pool.lease() as server:
            first = server.pid
            assert first is not None
            assert server.analyse("Kim zei dat.")
            # The connection child (Frog forks one per connection) dies mid-session: the
            # request fails, the server is replaced and the request sent again.
            children = [pid for pid in _members(first) if pid != first]
            assert children
            for child in children:
                os.kill(child, signal.SIGKILL)
            assert [t.word for t in server.analyse("Kim zei dat.")[0]] == ["Kim", "zei", "dat", "."]
            second = server.pid
            assert second not in (None, first)
            assert pool.restarts == 1
            # The server itself dies between requests: restarted before the next one.
            assert second is not None
            os.kill(second, signal.SIGKILL)
            assert _wait_for(lambda: _members(second).get(second) == "Z")
            assert server.analyse("Hanoi.")[0][0].ner == "B-LOC"
            third = server.pid
            assert third not in (None, first, second)
            assert pool.restarts == 2
        assert pool.memory()[0].rss_bytes > 100 * 2**20
    finally:
        FrogEntityRecognizer(pool, close_pool=True).close()
    assert pool.closed
    for pid in (first, second, third):
        assert pid is not None
        # An orphaned connection child (its server was killed) is reaped by init: wait for it.
        assert _wait_for(functools.partial(_group_is_empty, pid)), _members(pid)
    with pytest.raises(FrogError, match="closed"), pool.lease():
        pass
    pool.close()  # idempotent
