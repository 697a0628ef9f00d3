"""Reading one ready inbox file and deciding what the watcher publishes for it.

A ready file (:mod:`streams.sources.pending`) is read (never through a symlink, never outside
the inbox, never more than ``max_file_bytes``), checked to be unchanged since it became ready,
parsed, and becomes one :class:`Prepared`: an ``ArticleIngested`` event to publish, a duplicate
(same content already published) to record only, or a ``DeadLetter`` event with the reason and
the original bytes. An article from a file that published another article before (the file was
edited) *supersedes* that one, unless another inbox file still holds it. Nothing is published
or recorded here: the watcher does both, in that order, for a whole batch. Called from a worker
thread (``asyncio.to_thread``) while the watcher's task waits for it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from schemas import ArticleIngested, DeadLetter, DeadLetterStage, FileOrigin
from schemas.events import utc_now
from schemas.ids import event_id
from streams.sources.ledger import FileRecord, Ledger, Outcome
from streams.sources.parse import Rejected, parse_article
from streams.sources.pending import PendingFiles

# The watcher's logger: these lines are part of its log, under the name operators know.
log = logging.getLogger("streams.sources.watcher")


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one file; reported to the ``on_outcome`` callback after it is durable."""

    path: str
    outcome: Outcome
    article_id: str | None = None
    reason: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class Prepared:
    record: FileRecord
    outcome: FileOutcome
    article: ArticleIngested | None = None
    deadletter: DeadLetter | None = None

    def kafka_key(self) -> str | None:
        """The key its event is published under, or None when nothing is published."""
        if self.article is not None:
            return self.article.article_id
        return None if self.deadletter is None else self.deadletter.event_id


@dataclass(frozen=True, slots=True)
class FilePreparer:
    """Prepares the ready files of one inbox (``inbox`` resolved) for publishing."""

    inbox: Path
    ledger: Ledger
    pending: PendingFiles
    """Files that vanished or changed while being read are taken off or put back here."""
    max_file_bytes: int
    max_deadletter_payload_bytes: int

    def prepare_batch(self, paths: list[str]) -> list[Prepared]:
        prepared: list[Prepared] = []
        ids_in_batch: set[str] = set()
        for rel in paths:
            item = self._prepare(rel, ids_in_batch)
            if item is None:
                continue
            if item.article is not None:
                ids_in_batch.add(item.article.article_id)
            prepared.append(item)
        return _keep_current_what_the_batch_holds(prepared)

    def _prepare(self, rel: str, ids_in_batch: set[str]) -> Prepared | None:
        """Read and classify one stable file; None if it vanished or changed meanwhile."""
        pending = self.pending.get(rel)
        path = self.inbox / rel
        try:
            st = path.lstat()
        except FileNotFoundError:
            log.info("%s disappeared before it was read; nothing to publish", rel)
            self.pending.forget(rel)
            return None
        unread = self._not_to_read(path, st)
        if unread is not None:
            digest, why = unread
            return self._reject(rel, st, digest, None, why)
        if st.st_size > self.max_file_bytes:
            return self._reject_too_large(rel, st)
        data = self._read(path)
        if data is None:
            self.pending.forget(rel)
            return None
        digest = hashlib.sha256(data).hexdigest()
        try:
            after = path.lstat()
        except FileNotFoundError:
            self.pending.forget(rel)
            return None
        if (after.st_size, after.st_mtime_ns) != (pending.size, pending.mtime_ns):
            # Still being written: wait for it to be stable again.
            self.pending.changed(rel, after.st_size, after.st_mtime_ns)
            return None
        if len(data) > self.max_file_bytes:
            return self._reject_too_large(rel, after)
        parsed = parse_article(path.name, data)
        if isinstance(parsed, Rejected):
            return self._reject(rel, after, digest, data, parsed)
        duplicate = parsed.article_id in ids_in_batch or self.ledger.is_published(parsed.article_id)
        outcome = Outcome.DUPLICATE if duplicate else Outcome.PUBLISHED
        record = FileRecord(
            rel, after.st_size, after.st_mtime_ns, digest, parsed.article_id, outcome
        )
        if duplicate:
            return Prepared(record, FileOutcome(rel, outcome, parsed.article_id, "duplicate"))
        return Prepared(
            record,
            FileOutcome(rel, outcome, parsed.article_id),
            article=parsed.to_event(rel, digest, self._supersedes(rel, parsed.article_id)),
        )

    def _supersedes(self, rel: str, article_id: str) -> str | None:
        """The article a new version of ``rel`` replaces: the one last published from it, unless
        another file of the inbox still holds that content, unchanged (a copy, or a file that
        was its duplicate), whose article must stay current."""
        previous = self.ledger.last_published(rel)
        if previous is None or previous == article_id:
            return None
        for other in self.ledger.holders(previous, besides=rel):
            try:
                st = (self.inbox / other.path).lstat()
            except FileNotFoundError:
                continue
            if (st.st_size, st.st_mtime_ns) == (other.size, other.mtime_ns):
                return None
        return previous

    def _not_to_read(self, path: Path, st: os.stat_result) -> tuple[str, Rejected] | None:
        """Why ``path`` is dead-lettered without reading it (a symlink, not a regular file, or
        leading out of the inbox), with the hash it is recorded under; None if it may be read."""
        if stat.S_ISLNK(st.st_mode):
            target = str(path.readlink())
            return hashlib.sha256(target.encode()).hexdigest(), Rejected(
                "symlink", f"symbolic link to {target!r}: links are never followed"
            )
        if not stat.S_ISREG(st.st_mode):
            why = Rejected("not-a-regular-file", "a device, socket or pipe")
        elif not path.resolve().is_relative_to(self.inbox):
            why = Rejected("outside-inbox", "the path leads out of the inbox")
        else:
            return None
        return hashlib.sha256(b"").hexdigest(), why

    def _reject_too_large(self, rel: str, st: os.stat_result) -> Prepared:
        """Dead-letter an oversized file with its full hash and only its first bytes."""
        limit = self.max_deadletter_payload_bytes
        digest = hashlib.sha256()
        head = b""
        with open(self.inbox / rel, "rb") as handle:  # noqa: PTH123 - streamed, not read whole
            while chunk := handle.read(1 << 20):
                if len(head) < limit:
                    head += chunk[: limit - len(head)]
                digest.update(chunk)
        why = Rejected(
            "too-large", f"{st.st_size} bytes is over the limit of {self.max_file_bytes}"
        )
        return self._reject(
            rel, st, digest.hexdigest(), head, why, truncated=st.st_size > len(head)
        )

    def _read(self, path: Path) -> bytes | None:
        """Read at most max_file_bytes + 1 bytes, refusing to follow a symlink swapped in."""
        limit = self.max_file_bytes + 1
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            return handle.read(limit)

    def _reject(
        self,
        rel: str,
        st: os.stat_result,
        digest: str,
        data: bytes | None,
        why: Rejected,
        truncated: bool = False,
    ) -> Prepared:
        limit = self.max_deadletter_payload_bytes
        payload = None if data is None else base64.b64encode(data[:limit]).decode("ascii")
        deadletter = DeadLetter(
            event_id=event_id("watch", rel, digest),
            stage=DeadLetterStage.WATCH,
            reason=why.reason,
            detail=why.detail,
            origin=FileOrigin(path=rel, size=st.st_size, sha256=digest),
            payload_b64=payload,
            payload_truncated=truncated or (data is not None and len(data) > limit),
            occurred_at=utc_now(),
        )
        log.warning("dead-lettered %s: %s (%s)", rel, why.reason, why.detail)
        return Prepared(
            record=FileRecord(rel, st.st_size, st.st_mtime_ns, digest, None, Outcome.DEADLETTER),
            outcome=FileOutcome(rel, Outcome.DEADLETTER, None, why.reason, why.detail),
            deadletter=deadletter,
        )


def _keep_current_what_the_batch_holds(prepared: list[Prepared]) -> list[Prepared]:
    """``prepared`` with no article superseding one that another file of the same batch holds.

    The ledger does not list files of the batch yet: a copy of a file's old text made while
    the watcher was down comes back in the same batch as the file's edit, and must keep the old
    article current (see ``FilePreparer._supersedes``).
    """
    held = {
        (p.record.path, p.record.article_id)
        for p in prepared
        if p.record.outcome in (Outcome.PUBLISHED, Outcome.DUPLICATE)
    }
    for item in prepared:
        article = item.article
        if article is None or article.supersedes is None:
            continue
        if any(aid == article.supersedes and path != item.record.path for path, aid in held):
            item.article = article.model_copy(update={"supersedes": None})
    return prepared
