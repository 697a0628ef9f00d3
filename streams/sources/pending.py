"""The watcher's pending files: inbox files seen but not handled yet, and which are ready.

A file is pending from the moment a scan sees it (backfill, an inotify or ``watchfiles``
report, the periodic rescan) until the watcher recorded it in the ledger. It is *ready* to be
read once its writer closed it (or it was moved in) and it has not changed since, or once its
size and mtime stayed unchanged for ``stable_seconds``. Hidden files and the temporary names
editors and copy tools write are never pending; neither is a version of a file (same size and
mtime) the ledger lists as handled. Used by :class:`streams.sources.watcher.FileWatcher` only,
from its own task (and from the thread it reads files in, while the task waits for it).
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from streams.sources.ledger import Ledger

# The watcher's logger: these lines are part of its log, under the name operators know.
log = logging.getLogger("streams.sources.watcher")

# Editors and copy tools write these next to the real file; they are not articles.
_TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".swx", "~")


@dataclass(slots=True)
class PendingFile:
    size: int
    mtime_ns: int
    stable_since: float
    finished: bool = False
    """Its writer closed it (or it was moved in) and it has not changed since."""


class PendingFiles:
    """The pending files of one inbox (``inbox`` resolved), keyed by inbox-relative path."""

    def __init__(self, inbox: Path, ledger: Ledger) -> None:
        self._inbox = inbox
        self._ledger = ledger
        self._files: dict[str, PendingFile] = {}

    def __len__(self) -> int:
        return len(self._files)

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def get(self, rel: str) -> PendingFile:
        return self._files[rel]

    def forget(self, rel: str) -> None:
        """Stop tracking ``rel`` (handled, vanished or unreadable); a later scan may add it."""
        self._files.pop(rel, None)

    def changed(self, rel: str, size: int, mtime_ns: int) -> None:
        """``rel`` changed while it was read: it waits to be stable again, from now."""
        self._files[rel] = PendingFile(size, mtime_ns, time.monotonic())

    def ready(self, stable_seconds: float, limit: int) -> list[str]:
        """Up to ``limit`` pending paths that are ready to be read, in the order they were seen."""
        now = time.monotonic()
        return [
            rel
            for rel, p in self._files.items()
            if p.finished or now - p.stable_since >= stable_seconds
        ][:limit]

    def scan(self, only: set[str] | None = None, finished: Collection[str] = ()) -> None:
        """Update the pending set from the file system (all files, or just ``only``).

        ``finished``: paths whose writer closed them (or that were moved in) since the last
        look; they are ready to be read if they are files and have not changed since.
        """
        now = time.monotonic()
        paths: Iterable[str] = self._walk(self._inbox) if only is None else list(only)
        for rel in paths:
            if _is_ignored(rel):
                continue
            try:
                st = (self._inbox / rel).lstat()
            except FileNotFoundError:
                self._files.pop(rel, None)
                continue
            if stat.S_ISDIR(st.st_mode):
                if only is not None:
                    # A new directory: files created in it before inotify watched it sent no
                    # event of their own.
                    self.scan(set(self._walk(self._inbox / rel)))
                continue
            if self._ledger.is_handled(rel, st.st_size, st.st_mtime_ns):
                self._files.pop(rel, None)
                continue
            seen = self._files.get(rel)
            done = rel in finished and stat.S_ISREG(st.st_mode)
            if seen is None or (seen.size, seen.mtime_ns) != (st.st_size, st.st_mtime_ns):
                self._files[rel] = PendingFile(st.st_size, st.st_mtime_ns, now, done)
            elif done:
                seen.finished = True

    def _walk(self, top: Path) -> Iterator[str]:
        """The inbox-relative paths of everything below ``top`` but directories, one by one.

        A generator, so that a scan holds one directory entry at a time, not the inbox's
        listing: the watcher's memory does not follow the number of files left in the inbox.
        """
        stack = [top]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        if entry.name.startswith("."):
                            continue
                        # Directory symlinks are not followed (they could lead out of the
                        # inbox); they are reported like file symlinks.
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        else:
                            yield Path(entry.path).relative_to(self._inbox).as_posix()
            except OSError as exc:
                log.warning("cannot list %s: %s", directory, exc)


def _is_ignored(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.startswith(".") or name.endswith(_TEMPORARY_SUFFIXES)
