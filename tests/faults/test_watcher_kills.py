"""Fault 2: SIGKILL the watcher while it publishes 330 files; nothing lost or doubled.

The files arrive while the watcher runs (a writer adds them over ~17 s). Each kill comes after
a seeded random delay, at the first moment after it when the watcher's ledger holds an intent:
the watcher is then between "about to publish" and "recorded", the window where a crash could
publish a file twice. The watcher reads each renamed-in file at once, so its batches are small
and that window lasts milliseconds: a kill can land just after it closed. Whether a kill was
inside is read from the ledger after the kill (intents left behind), and the watcher is killed
again, up to ``MAX_KILLS`` times, until ``KILLS`` kills were inside. After the kills one more
watcher finishes the inbox; the raw topic must then hold every article exactly once.
"""

from __future__ import annotations

import random
import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.support.fault_articles import write_articles
from tests.support.fault_harness import counts, kill, new_stack

pytestmark = [pytest.mark.integration]

FILES = 330
KILLS = 3
MAX_KILLS = 6
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
        # Renames are atomic: the watcher never sees half a file; 330 files in about 17 s.
        for name in names:
            (staging / name).rename(inbox / name)
            time.sleep(0.05)

    feeding = threading.Thread(target=writer)
    feeding.start()
    ledger = stack.data_dir / "watcher-ledger.sqlite3"
    kills = in_window = 0
    try:
        while in_window < KILLS and kills < MAX_KILLS:
            watcher = stack.start("watcher", "watch", str(inbox))
            time.sleep(rng.uniform(1.5, 2.5))  # start-up (~1.5 s), then work
            assert watcher.poll() is None, stack.log("watcher")[-2000:]
            _wait_for_intent(ledger, 5.0)
            kill(watcher)
            kills += 1
            in_window += _intents(ledger, "rw") > 0  # the crash left intents for the next start
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
    assert kills >= KILLS
    assert in_window >= 1, "no kill landed inside publish..record: the fault was not exercised"
    assert doubled == 0
    assert set(ids) == set(expected.values())
    assert len(ids) == FILES
    assert stack.events("deadletter", idle_seconds=1.0) == []
    assert reconciled == in_window


def _intents(ledger: Path, mode: str = "ro") -> int:
    """How many intents the ledger holds now (0 if it cannot be read yet).

    ``mode="rw"`` once the watcher is dead: a read-write connection can recover the WAL a
    killed writer may have left half-indexed, where a read-only one would fail.
    """
    try:
        db = sqlite3.connect(f"file:{ledger}?mode={mode}", uri=True)
        try:
            return int(db.execute("SELECT COUNT(*) FROM intents").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0  # not created yet, or locked for a moment


def _wait_for_intent(ledger: Path, timeout: float) -> None:
    """Poll the ledger until it holds an intent, or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not _intents(ledger):
        time.sleep(0.0005)
