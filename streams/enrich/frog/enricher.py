"""Dutch named-entity recognition with Debian's Frog, run as supervised socket servers.

Frog (GPL-3+) runs as separate processes, ``frog -S PORT --skip=mpacl`` (tokeniser, tagger and
NER only; lemmatiser, morphology, chunker, multi-word units and parser skipped), so its licence
never mixes with ours and a crash in it never takes the worker down.

What Frog 0.20 does, as measured (the code below relies on each point):

* **Binding.** ``-S PORT`` listens on *all* interfaces (0.0.0.0); Frog has no option to choose
  the address. The port is a random free one and lives only as long as the worker; on a host
  reachable from untrusted networks, firewall it or run the worker in its own network namespace.
* **Fork per connection.** The server forks a child for every connection, which serves it until
  the client closes it. This module keeps one connection per server open (no fork per article)
  and starts each server as the leader of a new process group, so that stopping it kills the
  children too. Frog catches SIGTERM and exits only after its next ``accept`` fails (seconds
  later); it holds no state worth flushing, so it is stopped with SIGKILL.
* **Working directory.** Frog writes ``frog.*.debug`` files into its working directory and, at
  every start (even ``frog -V``), deletes old ``frog.*.debug`` files there; it runs in a private
  temporary directory.
* **Protocol.** Send UTF-8 text, then a line ``EOT``; the answer is one tab-separated line per
  token (index, word, lemma, morphology, an empty column, CGN tag such as ``SPEC(deeleigen)``,
  tag confidence, BIO NER tag such as ``B-PER``, then empty chunk/parse columns), a blank line
  after each sentence, a line ``READY`` and one more blank line. A connection serves any number
  of requests. A line of the text that reads exactly ``EOT`` (also ``EOT\\r``) ends the request
  early and desynchronises the connection; it is sent as ``EOT `` instead.
* **Text.** Tokens keep the body's characters, quotes included („ ” “ ‘ ’ stay as they are), but
  soft hyphens are dropped from words; blank lines do *not* end a sentence, so a heading runs
  into the next paragraph. Paragraphs are therefore sent one request each; a request costs
  ~0.2 ms beyond the work on its text.
* **Resources.** Loading takes 2.5-4 s. One server is ~0.8 GB resident and so is its
  connection child, but they share those pages copy-on-write: ~0.87 GB PSS for the pair.
  Frog is single-threaded per connection and CPU-bound: ~250 words/s on an idle core, ~100
  with the other core busy (see ``main``, which measures it).

Every token is aligned back to the body by searching its text left to right on a folded copy
of both (whitespace, invisible format characters and combining marks dropped, quote, apostrophe
and dash variants unified, compatibility characters decomposed, case folded), so offsets stay
exact whatever Frog does to spacing, quotes or soft hyphens. A token that cannot be found near
the cursor is skipped (logged), never guessed.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import logging
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from schemas import Entity, EntityLabel
from streams.enrich.base import Document, Enricher, EnricherError
from streams.enrich.entity_rules import (
    RULES_VERSION,
    Mention,
    Pos,
    Token,
    canonical_names,
    clean_mentions,
    mentions_from_bio,
)

log = logging.getLogger(__name__)

INSTALL_HINT: Final = "install Debian's frog: apt-get install frog frogdata"
DEFAULT_SKIP: Final = "mpacl"
"""Frog modules not run: multi-word units, parser, chunker, lemmatiser, morphology."""
DEFAULT_START_TIMEOUT: Final = 120.0
"""Loading takes ~4 s alone; several servers loading at once on two busy cores take longer."""
DEFAULT_REQUEST_TIMEOUT: Final = 60.0
"""Base wait for one answer; ``len(text) / 100`` seconds are added (Frog does ~1,500 chars/s)."""
DEFAULT_MAX_CHUNK_CHARS: Final = 10_000
"""Longest text sent in one request. Paragraphs are sent whole up to this size; longer ones are
cut after the last sentence end before it. Frog reads a request whole before it answers."""

FROG_LABELS: Final[dict[str, EntityLabel]] = {
    "PER": EntityLabel.PER,
    "LOC": EntityLabel.LOC,
    "ORG": EntityLabel.ORG,
    "MISC": EntityLabel.MISC,
    # Frog's products and events have no type of their own in our schema.
    "PRO": EntityLabel.MISC,
    "EVE": EntityLabel.MISC,
}

_ANSWER_END: Final = b"READY\n"
_LOOPBACK: Final = "127.0.0.1"


class FrogError(EnricherError):
    """Frog could not be started or did not answer; the message says why."""


class FrogNotInstalledError(FrogError):
    """The ``frog`` executable is missing."""


# --- Protocol ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrogToken:
    """One token line of Frog's answer."""

    word: str
    tag: str
    """CGN part-of-speech tag, e.g. ``SPEC(deeleigen)``, ``N(eigen,ev,basis,zijd,stan)``."""
    confidence: float
    ner: str
    """BIO tag in upper case: ``O``, ``B-PER``, ``I-LOC``, ..."""


_CGN_TAG = re.compile(r"[A-Z]+\(.*\)")
_BIO_TAG = re.compile(r"O|[BI]-[A-Z]+", re.IGNORECASE)


def parse_frog_answer(answer: str) -> list[list[FrogToken]]:
    """Split one answer (everything before ``READY``) into sentences of tokens.

    The tag, confidence and NER columns are found by their form rather than their position, so
    an extra or missing column in another Frog version does not shift them. Raises FrogError on
    a line that is not a token line (the connection is then out of step).
    """
    sentences: list[list[FrogToken]] = []
    current: list[FrogToken] = []
    for line in answer.split("\n"):
        if not line.strip():
            if current:
                sentences.append(current)
                current = []
            continue
        if line == "READY":
            break
        current.append(_parse_token_line(line))
    if current:
        sentences.append(current)
    return sentences


def _parse_token_line(line: str) -> FrogToken:
    fields = line.split("\t")
    if len(fields) >= 5 and fields[0].isdigit():
        for i in range(2, len(fields) - 2):
            if _CGN_TAG.fullmatch(fields[i]) and _BIO_TAG.fullmatch(fields[i + 2]):
                try:
                    confidence = float(fields[i + 1])
                except ValueError:
                    continue
                return FrogToken(fields[1], fields[i], confidence, fields[i + 2].upper())
    raise FrogError(f"unexpected line in frog's answer: {line[:200]!r}")


def cgn_pos(tag: str) -> Pos:
    """The coarse part of speech of a CGN tag (the tag set of Frog's tagger)."""
    head, _, rest = tag.partition("(")
    features = rest.rstrip(")").split(",")
    if head == "N":
        return Pos.PROPN if "eigen" in features else Pos.NOUN
    if head == "SPEC":
        return Pos.PROPN if "deeleigen" in features else Pos.X
    if head == "VG":
        return Pos.CCONJ if "neven" in features else Pos.SCONJ
    return _CGN_HEADS.get(head, Pos.X)


_CGN_HEADS: Final[dict[str, Pos]] = {
    "ADJ": Pos.ADJ,
    "WW": Pos.VERB,
    "VZ": Pos.ADP,
    "LID": Pos.DET,
    "VNW": Pos.PRON,
    "BW": Pos.ADV,
    "TW": Pos.NUM,
    "LET": Pos.PUNCT,
    "TSW": Pos.INTJ,
}

# C0/C1 controls except tab and newline (carriage return included: Frog strips it, which turns
# "EOT\r" into the terminator) and lone surrogates (not encodable as UTF-8). They become spaces;
# alignment ignores them anyway.
_WIRE_BLANKS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_EOT_LINE = re.compile(r"^EOT$", re.MULTILINE)


def wire_text(text: str) -> str:
    """The text as it is safe to send: no line reads ``EOT``, no control characters.

    Only what Frog sees changes; tokens are aligned to the original text, not to this.
    """
    return _EOT_LINE.sub("EOT ", _WIRE_BLANKS.sub(" ", text))


# --- Alignment ---------------------------------------------------------------------------------

_CHAR_FOLD: Final[dict[str, str]] = {
    # Double quotes (straight, low-9, curly, reversed, guillemets, CJK and full-width) count
    # as two single ones, so a tokenizer that turns '' or `` into " (or back) still matches.
    **dict.fromkeys('"\u201e\u201c\u201d\u201f\u00ab\u00bb\u301d\u301e\uff02', "''"),
    # Apostrophes and single quotes: straight, curly, low-9, reversed, grave, acute, prime,
    # single guillemets, full-width.
    **dict.fromkeys("'\u2018\u2019\u201a\u201b`\u00b4\u2032\u2039\u203a\uff07", "'"),
    # hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
}
_ALIGN_SLACK: Final = 32
"""How many folded characters a token may lie ahead of the cursor (text Frog dropped)."""


@functools.lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Mn", "Me"):
        return ""
    mapped = _CHAR_FOLD.get(ch)
    if mapped is not None:
        return mapped
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(
        c for c in decomposed if not unicodedata.combining(c) and not c.isspace()
    ).casefold()


def _fold(text: str) -> tuple[str, list[int]]:
    folded: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        f = _fold_char(ch)
        folded.append(f)
        origin.extend([i] * len(f))
    return "".join(folded), origin


def align_tokens(text: str, words: Sequence[str]) -> list[tuple[int, int] | None]:
    """The span of each word in ``text``, found left to right; None for a word not found.

    Guarantees: spans are in order, never overlap except inside one ligature, and each span
    starts and ends on a character that the word matched (trailing combining marks included),
    so ``text[start:end]`` is the word as written in ``text``.
    """
    folded, origin = _fold(text)
    spans: list[tuple[int, int] | None] = []
    cursor = 0
    for word in words:
        key = "".join(_fold_char(ch) for ch in word)
        if not key:
            spans.append(None)
            continue
        if folded.startswith(key, cursor):
            at = cursor
        else:
            at = folded.find(key, cursor, cursor + len(key) + _ALIGN_SLACK)
            if at < 0:
                spans.append(None)
                continue
        start = origin[at]
        end = origin[at + len(key) - 1] + 1
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1
        spans.append((start, end))
        cursor = at + len(key)
    return spans


# --- Chunking ----------------------------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*\s")
_WHITESPACE = re.compile(r"\s")


def paragraph_chunks(body: str, max_chars: int = DEFAULT_MAX_CHUNK_CHARS) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` of the body to send one request each, in order.

    One per paragraph (blank-line separated), trimmed of surrounding whitespace, empty ones
    left out. A paragraph longer than ``max_chars`` is cut after its last sentence end within
    the limit, else at its last whitespace, else hard at the limit.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    spans: list[tuple[int, int]] = []
    start = 0
    for brk in [*_PARAGRAPH_BREAK.finditer(body), None]:
        end = brk.start() if brk is not None else len(body)
        _add_chunks(body, start, end, max_chars, spans)
        if brk is not None:
            start = brk.end()
    return spans


def _add_chunks(
    body: str, start: int, end: int, max_chars: int, spans: list[tuple[int, int]]
) -> None:
    while end > start and body[end - 1].isspace():
        end -= 1
    while True:
        while start < end and body[start].isspace():
            start += 1
        if start >= end:
            return
        if end - start <= max_chars:
            spans.append((start, end))
            return
        window = body[start : start + max_chars]
        cut = 0
        for match in _SENTENCE_END.finditer(window):
            cut = match.end()
        if cut == 0:
            # ``start`` is not whitespace, so the last whitespace is at 1 or later.
            for match in _WHITESPACE.finditer(window):
                cut = match.start()
        piece_end = start + (cut or max_chars)
        trimmed_end = piece_end
        while body[trimmed_end - 1].isspace():
            trimmed_end -= 1
        spans.append((start, trimmed_end))
        start = piece_end


# --- Processes ---------------------------------------------------------------------------------


def _free_port() -> int:
    # Frog binds the wildcard address, so the port must be free on every interface.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))
        port: int = probe.getsockname()[1]
        return port


class _FrogProcess:
    """One frog server process (leader of its own process group) and our connection to it.

    ``request`` is used by one thread at a time; ``stop`` may be called from any thread at any
    time and is idempotent.
    """

    def __init__(self, frog_bin: str, skip: str, workdir: Path) -> None:
        self.port = _free_port()
        self._popen = subprocess.Popen(
            [frog_bin, "-S", str(self.port), f"--skip={skip}"],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.pid = self._popen.pid
        self._stderr_tail: deque[str] = deque(maxlen=30)
        assert self._popen.stderr is not None
        self._stderr = self._popen.stderr
        # Frog logs a line per request; the pipe is drained so Frog never blocks on it.
        self._drain = threading.Thread(
            target=self._drain_stderr, args=(self._stderr,), name=f"frog-{self.pid}-stderr"
        )
        self._drain.daemon = True
        self._drain.start()
        self._sock: socket.socket | None = None
        self._stop_lock = threading.Lock()
        self._stopped = False

    def _drain_stderr(self, pipe: IO[bytes]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for raw in pipe:
                self._stderr_tail.append(raw.decode("utf-8", "replace").rstrip())

    def stderr_tail(self) -> str:
        return " | ".join(line for line in list(self._stderr_tail) if line.strip())

    def exit_status(self) -> int | None:
        """The exit code (negative: killed by that signal) once the process ended, else None.

        Does not reap the process: its pid, and so its process group id, stays reserved until
        ``stop`` has killed the group.
        """
        if self._popen.returncode is not None:
            return self._popen.returncode
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self._popen.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def wait_ready(self, timeout: float, request_timeout: float) -> None:
        """Block until the server accepts a connection and answers an empty request."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.exit_status()
            if status is not None:
                self._drain.join(timeout=2.0)  # its last words explain why
                raise FrogError(
                    f"frog server (port {self.port}) exited with status {status} while "
                    f"loading: {self.stderr_tail() or 'no output'}"
                )
            try:
                sock = socket.create_connection((_LOOPBACK, self.port), timeout=1.0)
            except OSError:
                if time.monotonic() > deadline:
                    raise FrogError(
                        f"frog server (pid {self.pid}, port {self.port}) did not accept "
                        f"connections within {timeout:g} s: {self.stderr_tail() or 'no output'}"
                    ) from None
                time.sleep(0.1)
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            break
        # An empty request answers READY within milliseconds: proves that Frog, not another
        # program that took the port in between, is listening.
        self.request("", min(request_timeout, 30.0))

    def request(self, text: str, timeout: float) -> str:
        """Send one text (already passed through ``wire_text``); return the answer's token lines.

        Raises FrogError or OSError when the answer does not come in time or the connection
        broke; the connection is then out of step and the process must be replaced.
        """
        sock = self._sock
        if sock is None or self._stopped:
            raise FrogError("frog server is not running")
        deadline = time.monotonic() + timeout
        sock.settimeout(timeout)
        sock.sendall(text.encode("utf-8") + b"\nEOT\n")
        buf = bytearray()
        while True:
            # The blank line after READY may arrive at the start of the next answer.
            end = _answer_end(buf)
            if end >= 0:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FrogError(f"frog server (pid {self.pid}) gave no answer in {timeout:g} s")
            sock.settimeout(remaining)
            data = sock.recv(1 << 16)
            if not data:
                raise FrogError(f"frog server (pid {self.pid}) closed the connection")
            buf += data
        if buf[end:].strip(b"\n"):
            raise FrogError("frog sent more than one answer: the connection is out of step")
        return buf[:end].decode("utf-8", "replace")

    def stop(self) -> None:
        """Kill the server and its connection children, reap it, close pipes and sockets.

        Children are killed first, while the server still lives: it ignores SIGCHLD, so the
        kernel reaps them at once, rather than leaving orphans to an init that may not reap.
        """
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        if self._popen.returncode is None:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                children = [
                    pid
                    for pid, state in _group_processes(self.pid)
                    if pid != self.pid and state != "Z"
                ]
                if not children:
                    break
                for pid in children:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.02)
            # The leader is not reaped yet, so its pid still names this process group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            self._popen.wait()
        self._drain.join(timeout=5.0)
        self._stderr.close()


def _group_processes(pgid: int) -> list[tuple[int, str]]:
    """(pid, state letter) of every process in a process group, from /proc."""
    found: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid):
            found.append((int(entry.name), fields[0]))
    return found


def _answer_end(buf: bytearray) -> int:
    if buf.lstrip(b"\n").startswith(_ANSWER_END):
        return buf.index(_ANSWER_END) + len(_ANSWER_END)
    at = buf.find(b"\n" + _ANSWER_END)
    return at + 1 + len(_ANSWER_END) if at >= 0 else -1


def _stop_all(live: set[_FrogProcess]) -> None:
    for proc in list(live):
        proc.stop()
    live.clear()


def frog_version(frog_bin: str = "frog") -> str:
    """The version of the frog executable ("0.20"), checking first that it is installed.

    Raises FrogNotInstalledError when it is not.
    """
    path = shutil.which(frog_bin)
    if path is None:
        raise FrogNotInstalledError(f"frog executable {frog_bin!r} not found; {INSTALL_HINT}")
    # frog -V also deletes old frog.*.debug files in its working directory.
    with tempfile.TemporaryDirectory(prefix="frog-version-") as workdir:
        done = subprocess.run(
            [path, "-V"], cwd=workdir, capture_output=True, timeout=60, check=False
        )
    found = re.search(rb"frog\s+(\d+(?:\.\d+)+)", done.stdout + done.stderr)
    if found is None:
        raise FrogError(f"{path} -V printed no frog version; {INSTALL_HINT}")
    return found.group(1).decode()


@dataclass(frozen=True, slots=True)
class ServerMemory:
    """Memory of one server: its process group (the server and its connection children)."""

    pid: int
    processes: int
    rss_bytes: int
    """Sum of the resident sets; pages shared copy-on-write are counted once per process."""
    pss_bytes: int
    """Proportional set size: shared pages divided among their users, the honest total."""


def _group_memory(pgid: int) -> ServerMemory:
    members = 0
    rss = pss = 0
    for pid, _state in _group_processes(pgid):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        members += 1
        for line in rollup.splitlines():
            key, _, value = line.partition(":")
            if key in ("Rss", "Pss"):
                size = int(value.split()[0]) * 1024
                if key == "Rss":
                    rss += size
                else:
                    pss += size
    return ServerMemory(pgid, members, rss, pss)


class FrogServer:
    """One supervised server slot of a pool: restarts its process when it died or failed.

    Handed out by ``FrogServerPool.lease``; used by one thread at a time.
    """

    def __init__(self, pool: FrogServerPool) -> None:
        self._pool = pool
        self._proc: _FrogProcess | None = None

    @property
    def pid(self) -> int | None:
        """Pid of the running server process, None while none runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def port(self) -> int | None:
        """TCP port of the running server, None while none runs."""
        return self._proc.port if self._proc is not None else None

    def analyse(self, text: str) -> list[list[FrogToken]]:
        """Frog's sentences of tokens for ``text`` (any size Frog accepts; chunk it before).

        A server that died since the last call is restarted first. When a request fails
        (timeout, broken connection, garbled answer) the server is replaced and the request
        sent once more; a second failure raises FrogError, so a text that crashes Frog costs
        two restarts and then dead-letters.
        """
        wire = wire_text(text)
        timeout = self._pool.request_timeout + len(wire) / 100.0
        failure: Exception | None = None
        for _attempt in range(2):
            proc = self._running()
            try:
                return parse_frog_answer(proc.request(wire, timeout))
            except (OSError, FrogError) as exc:
                failure = exc
                log.warning("frog server pid %d failed (%s); replacing it", proc.pid, exc)
                self._replace()
        raise FrogError(f"frog failed twice on a text of {len(text)} chars: {failure}")

    def _running(self) -> _FrogProcess:
        proc = self._proc
        if proc is not None:
            status = proc.exit_status()
            if status is None:
                return proc
            log.warning(
                "frog server pid %d exited with status %d; restarting it: %s",
                proc.pid,
                status,
                proc.stderr_tail(),
            )
            self._replace()
        self._proc = self._pool._start_process(restart=True)
        return self._proc

    def _replace(self) -> None:
        if self._proc is not None:
            self._pool._stop_process(self._proc)
            self._proc = None

    def _start(self) -> None:
        self._proc = self._pool._start_process(restart=False)


class FrogServerPool:
    """Supervises ``size`` frog server processes and hands them out to concurrent callers.

    Construct once per worker process: the constructor starts all servers in parallel and
    returns when every one answers (or raises FrogError / FrogNotInstalledError). Thread-safe:
    ``lease`` may be called from any number of threads; each caller gets a server of its own
    until it gives it back. A server found dead is restarted before its next request, by the
    thread that leased it (so a restart never blocks other callers). ``close`` stops
    everything: afterwards no frog process, connection child or socket of this pool remains,
    and ``lease`` raises FrogError.
    """

    def __init__(
        self,
        size: int = 1,
        *,
        frog_bin: str = "frog",
        skip: str = DEFAULT_SKIP,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        """Start ``size`` servers of ``frog_bin`` (a name on PATH or a path).

        ``skip``: Frog modules not loaded (``--skip``; tokeniser, tagger and NER must stay).
        ``start_timeout``: longest wait for one server to load. ``request_timeout``: base
        wait for one answer (plus 10 ms per character sent).
        """
        if size < 1:
            raise ValueError("a pool needs at least one server")
        if any(module in skip for module in "tn"):
            raise ValueError("the tokeniser (t) and the NER (n) cannot be skipped")
        self.frog_version = frog_version(frog_bin)
        self._frog_bin = shutil.which(frog_bin) or frog_bin
        self._skip = skip
        self.start_timeout = start_timeout
        self.request_timeout = request_timeout
        self._lock = threading.Lock()
        self._closed = False
        self._restarts = 0
        self._workdir = tempfile.TemporaryDirectory(prefix="frog-")
        self._live: set[_FrogProcess] = set()
        # A worker that forgets close() still kills its servers when it exits normally.
        self._finalizer = weakref.finalize(self, _stop_all, self._live)
        self._servers = [FrogServer(self) for _ in range(size)]
        self._idle: queue.Queue[FrogServer] = queue.Queue()
        try:
            with concurrent.futures.ThreadPoolExecutor(size, "frog-start") as starter:
                for done in [starter.submit(server._start) for server in self._servers]:
                    done.result()
        except BaseException:
            self.close()
            raise
        for server in self._servers:
            self._idle.put(server)

    @property
    def size(self) -> int:
        return len(self._servers)

    @property
    def pids(self) -> list[int | None]:
        """Pids of the server processes now running, one per slot (None: being restarted)."""
        return [server.pid for server in self._servers]

    @property
    def restarts(self) -> int:
        """How many times a server was started again after it died or failed."""
        return self._restarts

    @property
    def closed(self) -> bool:
        return self._closed

    def memory(self) -> list[ServerMemory]:
        """Memory use of each running server (Linux /proc), for reports and health pages."""
        return [_group_memory(pid) for pid in self.pids if pid is not None]

    @contextlib.contextmanager
    def lease(self, timeout: float | None = None) -> Iterator[FrogServer]:
        """Hold one server for the duration of the ``with`` block.

        Blocks while all servers are leased, at most ``timeout`` seconds (None: no limit);
        raises FrogError on timeout or when the pool is (or gets) closed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._closed:
                raise FrogError("the frog server pool is closed")
            wait = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
            if wait <= 0:
                raise FrogError(f"no frog server became free within {timeout:g} s")
            try:
                server = self._idle.get(timeout=wait)
                break
            except queue.Empty:
                continue
        try:
            yield server
        finally:
            self._idle.put(server)

    def analyse(self, text: str) -> list[list[FrogToken]]:
        """Lease a server, analyse one text, give the server back (see ``FrogServer.analyse``)."""
        with self.lease() as server:
            return server.analyse(text)

    def close(self) -> None:
        """Stop all servers; idempotent. Called when the worker stops.

        Servers leased at that moment are killed too: their callers get a FrogError.
        """
        with self._lock:
            self._closed = True
            live = list(self._live)
        for proc in live:
            self._stop_process(proc)
        self._finalizer.detach()
        self._workdir.cleanup()

    def __enter__(self) -> FrogServerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Called by FrogServer.

    def _start_process(self, *, restart: bool) -> _FrogProcess:
        for attempt in range(1, 4):
            with self._lock:
                if self._closed:
                    raise FrogError("the frog server pool is closed")
                try:
                    proc = _FrogProcess(self._frog_bin, self._skip, Path(self._workdir.name))
                except OSError as exc:
                    raise FrogError(
                        f"cannot start {self._frog_bin}: {exc}; {INSTALL_HINT}"
                    ) from exc
                self._live.add(proc)
            try:
                proc.wait_ready(self.start_timeout, self.request_timeout)
            except (OSError, FrogError) as exc:
                self._stop_process(proc)
                # Another program took the port between our probe and Frog's bind: new port.
                if attempt < 3 and "starting server on port" in str(exc):
                    continue
                if self._closed:
                    raise FrogError("the frog server pool is closed") from exc
                raise FrogError(f"{exc} ({INSTALL_HINT} if frogdata is missing)") from exc
            if restart:
                with self._lock:
                    self._restarts += 1
            log.info("frog server pid %d listening on port %d", proc.pid, proc.port)
            return proc
        raise AssertionError("unreachable")

    def _stop_process(self, proc: _FrogProcess) -> None:
        proc.stop()
        with self._lock:
            self._live.discard(proc)


# --- Enricher ----------------------------------------------------------------------------------


class FrogEntityRecognizer(Enricher):
    """Fills ``Document.entities`` with the named entities Frog finds in the body, cleaned up.

    Runs after the language detector. Articles whose detected language is known and not Dutch
    get no entities (Frog's models are Dutch only); 'und' and undetected ones are processed.
    Each paragraph is one request; tokens are aligned back to the body, grouped by their BIO
    tags, repaired by ``entity_rules.clean_mentions`` and named by
    ``entity_rules.canonical_names``. Every entity satisfies ``text == body[start:end]``.
    """

    name = "ner-frog"

    def __init__(
        self,
        pool: FrogServerPool | None = None,
        *,
        close_pool: bool = False,
        frog_bin: str = "frog",
        servers: int = 1,
        max_chunk_chars: int = DEFAULT_MAX_CHUNK_CHARS,
    ) -> None:
        """Use ``pool``, or start (and own) a pool of ``servers`` servers of ``frog_bin``.

        A given pool stays up when this recognizer closes, unless ``close_pool`` hands it over.
        Starting takes seconds and fails here, not on the first article, when Frog is missing.
        ``max_chunk_chars``: longest text per request; part of the version when not default.
        """
        if max_chunk_chars < 1:
            raise ValueError("max_chunk_chars must be at least 1")
        self._owns_pool = pool is None or close_pool
        self._pool = pool if pool is not None else FrogServerPool(servers, frog_bin=frog_bin)
        self._max_chunk_chars = max_chunk_chars
        self.version = f"frog-{self._pool.frog_version}+rules-{RULES_VERSION}"
        if max_chunk_chars != DEFAULT_MAX_CHUNK_CHARS:
            self.version += f"+chunk{max_chunk_chars}"

    @property
    def pool(self) -> FrogServerPool:
        return self._pool

    def enrich(self, doc: Document) -> Document:
        """``doc`` with ``entities`` set (replacing any earlier ones), in body order."""
        if doc.language is not None and doc.language.code not in ("nl", "und"):
            return doc.with_(entities=())
        return doc.with_(entities=tuple(self.recognize(doc.body)))

    def enrich_batch(self, docs: Sequence[Document]) -> list[Document]:
        """Like ``enrich`` on each, spread over the pool's servers when it has several."""
        if self._pool.size == 1 or len(docs) < 2:
            return [self.enrich(doc) for doc in docs]
        workers = min(self._pool.size, len(docs))
        with concurrent.futures.ThreadPoolExecutor(workers, "frog-batch") as executor:
            return list(executor.map(self.enrich, docs))

    def recognize(self, body: str) -> list[Entity]:
        """The entities of one text, in body order; raises FrogError when Frog fails twice."""
        mentions: list[Mention] = []
        with self._pool.lease() as server:
            for start, end in paragraph_chunks(body, self._max_chunk_chars):
                chunk = body[start:end]
                mentions.extend(_frog_mentions(chunk, start, server.analyse(chunk)))
        cleaned = clean_mentions(mentions, body)
        names = canonical_names([(m.text(body), m.label) for m in cleaned])
        return [
            Entity(text=m.text(body), label=m.label, start=m.start, end=m.end, canonical=name)
            for m, name in zip(cleaned, names, strict=True)
        ]

    def close(self) -> None:
        """Stop the servers if this recognizer started or was handed them; else leave them up."""
        if self._owns_pool:
            self._pool.close()


def _frog_mentions(chunk: str, offset: int, sentences: list[list[FrogToken]]) -> list[Mention]:
    spans = align_tokens(chunk, [tok.word for sent in sentences for tok in sent])
    lost: list[str] = []
    mentions: list[Mention] = []
    at = 0
    for sentence in sentences:
        tokens: list[Token] = []
        tags: list[str] = []
        for frog_token in sentence:
            span = spans[at]
            at += 1
            if span is None:
                lost.append(frog_token.word)
                continue
            start, end = span
            tokens.append(
                Token(chunk[start:end], start + offset, end + offset, cgn_pos(frog_token.tag))
            )
            tags.append(frog_token.ner)
        mentions.extend(mentions_from_bio(tokens, tags, FROG_LABELS))
    if any(word.strip() for word in lost):
        log.warning("%d frog tokens not found in the text, left out: %r", len(lost), lost[:10])
    return mentions


# --- Measurement -------------------------------------------------------------------------------


def _group_cpu_seconds(pgid: int) -> float:
    ticks = 0
    for pid, _state in _group_processes(pgid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streams.enrich.frog.enricher FILE...``: entities, words/s and server memory.

    Each file is recognised three times; speed is given as words per wall-clock second (best
    and mean) and per CPU second of the frog processes, which does not depend on other load.
    """
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print("usage: python -m streams.enrich.frog.enricher FILE...", file=sys.stderr)
        return 2
    bodies = [p.read_text(encoding="utf-8") for p in paths]
    loading = time.perf_counter()
    recognizer = FrogEntityRecognizer()
    try:
        loaded = time.perf_counter() - loading
        print(f"{recognizer.name} {recognizer.version}: loaded in {loaded:.1f} s")
        recognizer.recognize("Opwarmen in Utrecht.")
        pid = recognizer.pool.pids[0]
        assert pid is not None
        total_words = 0
        total_wall = 0.0
        total_cpu = 0.0
        for path, body in zip(paths, bodies, strict=True):
            words = len(body.split())
            walls: list[float] = []
            cpu_before = _group_cpu_seconds(pid)
            for _round in range(3):
                began = time.perf_counter()
                entities = recognizer.recognize(body)
                walls.append(time.perf_counter() - began)
            cpu = (_group_cpu_seconds(pid) - cpu_before) / len(walls)
            mean = sum(walls) / len(walls)
            total_words += words
            total_wall += mean
            total_cpu += cpu
            print(
                f"\n{path.name}: {words} words; {words / min(walls):.0f} words/s best, "
                f"{words / mean:.0f} mean (wall clock); {words / cpu:.0f} per frog CPU second"
            )
            for e in entities:
                print(
                    f"  {e.start:5d}-{e.end:<5d} {e.label.value:4s} {e.text!r:20s} -> {e.canonical}"
                )
        print(
            f"\ntotal: {total_words} words; {total_words / total_wall:.0f} words/s (mean wall "
            f"clock); {total_words / total_cpu:.0f} per frog CPU second"
        )
        for mem in recognizer.pool.memory():
            print(
                f"server pid {mem.pid}: {mem.processes} processes, RSS {mem.rss_bytes / 2**20:.0f}"
                f" MiB in all, PSS {mem.pss_bytes / 2**20:.0f} MiB"
            )
            for member, _state in _group_processes(mem.pid):
                status = Path(f"/proc/{member}/status").read_text()
                rss = next(line for line in status.splitlines() if line.startswith("VmRSS"))
                print(f"  pid {member}: {' '.join(rss.split())}")
    finally:
        recognizer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
