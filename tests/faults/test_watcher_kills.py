"""Fault 2: SIGKILL the watcher 3 times while it publishes 330 files; nothing lost or doubled.

The files arrive while the watcher runs (a writer adds them over a few seconds). Each kill
comes after a seeded random delay, at the first moment after it when the watcher's ledger holds
an intent: the watcher is then between "about to publish" and "recorded", the window where a
crash could publish a file twice. After the kills one more watcher finishes the inbox; the raw
topic must then hold every article exactly once.
"""

from __future__ import annotations

import random
import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.faults.articles import write_articles
from tests.faults.harness import counts, kill, new_stack

pytestmark = [pytest.mark.integration]

FILES = 330
KILLS = 3
SEED = 4242


def test_killing_the_watcher_three_times_loses_and_doubles_nothing(
    broker: object, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    stack = new_stack(broker.bootstrap, tmp_path / "data")  # type: ignore[attr-defined]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    staging = tmp_path / "staging"
    expected = write_articles(staging, FILES, seed=SEED)
    names = sorted(expected)

    def writer() -> None:
        # Renames are atomic: the watcher never sees half a file; 330 files in about 10 s.
        for name in names:
            (staging / name).rename(inbox / name)
            time.sleep(0.03)

    feeding = threading.Thread(target=writer)
    feeding.start()
    kills = in_window = 0
    try:
        for _ in range(KILLS):
            watcher = stack.start("watcher", "watch", str(inbox))
            time.sleep(rng.uniform(1.5, 2.5))  # start-up (~1.5 s), then work
            assert watcher.poll() is None, stack.log("watcher")[-2000:]
            in_window += _wait_for_intent(stack.data_dir / "watcher-ledger.sqlite3", 5.0)
            kill(watcher)
            kills += 1
    finally:
        feeding.join()
        stack.stop_all()
    last = stack.cli("watch", str(inbox), "--once", timeout=120)

    raw = stack.events("articles.raw")
    ids = [str(e["article_id"]) for e in raw]
    distinct, doubled = counts(ids)
    logs = stack.log("watcher") + last.stderr.decode()
    reconciled = logs.count("stopped between publishing and recording")
    # Files the broker held when the watcher died: without the reconciliation, doubles.
    saved = sum(int(n) for n in re.findall(r": (\d+) are on the broker already", logs))
    print(
        f"fault 2: files {FILES}, kills {kills}, raw events {len(ids)}, distinct {distinct}, "
        f"published twice {doubled}, kills inside publish..record {in_window}, "
        f"restarts that reconciled intents {reconciled}, files found on the broker and not "
        f"published again {saved}"
    )
    assert kills == KILLS
    assert doubled == 0
    assert set(ids) == set(expected.values())
    assert len(ids) == FILES
    assert stack.events("deadletter", idle_seconds=1.0) == []
    assert reconciled == in_window


def _wait_for_intent(ledger: Path, timeout: float) -> int:
    """Poll the ledger until it holds an intent (1 if seen, 0 after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
            try:
                if db.execute("SELECT COUNT(*) FROM intents").fetchone()[0]:
                    return 1
            finally:
                db.close()
        except sqlite3.OperationalError:
            pass  # not created yet, or locked for a moment
        time.sleep(0.0005)
    return 0
