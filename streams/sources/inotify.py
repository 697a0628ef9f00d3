"""Linux inotify on the event loop: which files of a directory tree were finished, and when.

The watcher needs one thing the portable file-watching libraries do not report: that a
writer has *closed* a file (``IN_CLOSE_WRITE``) or that a finished file was *moved in*
(``IN_MOVED_TO``, the atomic rename that careful writers use). ``watchfiles`` reports both as
"added" or "modified", indistinguishable from a file still being written, so a watcher built
on it can only wait until the file has stayed unchanged for a while. With this module a file
is known complete at once (see :class:`streams.sources.watcher.FileWatcher`).

This is a small ctypes binding of three libc calls (``inotify_init1``, ``inotify_add_watch``,
``inotify_rm_watch``) and the kernel's event format, read with ``loop.add_reader``; no thread.
Directories are watched recursively, never through a symbolic link (``IN_DONTFOLLOW``).
:func:`available` is False on systems without inotify; callers fall back to ``watchfiles``.
"""

from __future__ import annotations

import asyncio
import ctypes
import enum
import errno
import logging
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

# From <sys/inotify.h>.
_IN_MODIFY: Final = 0x00000002
_IN_ATTRIB: Final = 0x00000004
_IN_CLOSE_WRITE: Final = 0x00000008
_IN_MOVED_FROM: Final = 0x00000040
_IN_MOVED_TO: Final = 0x00000080
_IN_CREATE: Final = 0x00000100
_IN_DELETE: Final = 0x00000200
_IN_Q_OVERFLOW: Final = 0x00004000
_IN_IGNORED: Final = 0x00008000
_IN_ONLYDIR: Final = 0x01000000
_IN_DONTFOLLOW: Final = 0x02000000
_IN_ISDIR: Final = 0x40000000
_IN_NONBLOCK: Final = os.O_NONBLOCK
_IN_CLOEXEC: Final = os.O_CLOEXEC

_WATCHED: Final = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_ONLYDIR
    | _IN_DONTFOLLOW
)
_HEADER: Final = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


class Change(enum.Enum):
    """What happened to a path, as far as the watcher cares."""

    FINISHED = "finished"
    """Its writer closed it after writing, or a finished file was moved in."""
    CHANGED = "changed"
    """Created, written to, its metadata changed, or it went away: look at it again."""
    OVERFLOW = "overflow"
    """The kernel dropped events (queue full): every path must be looked at again."""


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if not all(
        hasattr(libc, name) for name in ("inotify_init1", "inotify_add_watch", "inotify_rm_watch")
    ):
        return None
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_init1.restype = ctypes.c_int
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_add_watch.restype = ctypes.c_int
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.inotify_rm_watch.restype = ctypes.c_int
    return libc


_LIBC: Final = _libc()


def available() -> bool:
    """Whether this system has inotify (Linux)."""
    return _LIBC is not None


class TreeWatch:
    """Reports changes below ``root`` to ``on_change(relative_path, change)`` on the event loop.

    :meth:`start` is called from inside the running loop; from then on ``on_change`` is called
    from the loop (never from another thread) as the kernel reports events, in their order.
    Paths are relative to ``root``, POSIX style. A directory created (or moved) in gets a watch
    of its own and is reported as ``CHANGED``, so the caller lists it: files written into it
    before its watch existed send no event. :meth:`close` stops the reports and frees the
    kernel's watches; it is safe to call more than once.
    """

    def __init__(self, root: Path, on_change: Callable[[str, Change], None]) -> None:
        if _LIBC is None:
            raise OSError(errno.ENOSYS, "inotify is not available on this system")
        self._libc = _LIBC
        self._root = root
        self._on_change = on_change
        self._fd = -1
        self._dirs: dict[int, str] = {}  # watch descriptor -> directory, relative ("" = root)
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Watch ``root`` and every directory below it; raises OSError if inotify refuses."""
        fd = self._libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"inotify_init1: {os.strerror(code)}")
        self._fd = fd
        try:
            self._watch_tree("")
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(fd, self._read)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._fd < 0:
            return
        if self._loop is not None:
            self._loop.remove_reader(self._fd)
        os.close(self._fd)  # frees every watch of this instance
        self._fd = -1
        self._dirs.clear()

    def _watch_tree(self, rel: str) -> None:
        """Watch directory ``rel`` and, depth first, every directory below it."""
        stack = [rel]
        while stack:
            current = stack.pop()
            path = self._root / current if current else self._root
            wd = self._libc.inotify_add_watch(self._fd, os.fsencode(path), _WATCHED)
            if wd < 0:
                code = ctypes.get_errno()
                if current == "":
                    raise OSError(code, f"inotify_add_watch {path}: {os.strerror(code)}")
                # Gone meanwhile, a symlink, or out of watches (fs.inotify.max_user_watches):
                # the watcher's periodic rescan still finds its files.
                log.warning("not watching %s: %s", path, os.strerror(code))
                continue
            self._dirs[wd] = current
            try:
                with os.scandir(path) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(f"{current}/{entry.name}" if current else entry.name)
            except OSError as exc:
                log.warning("cannot list %s: %s", path, exc)

    def _unwatch_tree(self, rel: str) -> None:
        """Stop watching directory ``rel`` (moved away) and every directory below it."""
        prefix = rel + "/"
        for wd, directory in list(self._dirs.items()):
            if directory == rel or directory.startswith(prefix):
                self._libc.inotify_rm_watch(self._fd, wd)
                del self._dirs[wd]

    def _read(self) -> None:
        while self._fd >= 0:
            try:
                data = os.read(self._fd, 64 * 1024)
            except BlockingIOError:
                return
            except OSError as exc:
                log.error("reading inotify events failed: %s", exc)
                self._on_change("", Change.OVERFLOW)
                return
            self._dispatch(data)

    def _dispatch(self, data: bytes) -> None:
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            start = offset + _HEADER.size
            name = os.fsdecode(data[start : start + length].rstrip(b"\0"))
            offset = start + length
            if mask & _IN_Q_OVERFLOW:
                self._on_change("", Change.OVERFLOW)
                continue
            if mask & _IN_IGNORED:
                self._dirs.pop(wd, None)
                continue
            directory = self._dirs.get(wd)
            if directory is None:
                continue
            if not name:  # an event of the watched directory itself: its parent reports it
                continue
            rel = f"{directory}/{name}" if directory else name
            if mask & _IN_ISDIR:
                if mask & (_IN_MOVED_FROM | _IN_DELETE):
                    self._unwatch_tree(rel)
                elif mask & (_IN_CREATE | _IN_MOVED_TO):
                    self._watch_tree(rel)
                self._on_change(rel, Change.CHANGED)
            elif mask & (_IN_CLOSE_WRITE | _IN_MOVED_TO):
                self._on_change(rel, Change.FINISHED)
            else:
                self._on_change(rel, Change.CHANGED)
