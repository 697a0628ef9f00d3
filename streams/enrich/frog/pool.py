"""A supervised pool of frog servers handed out to concurrent callers."""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import queue
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from streams.enrich.frog.errors import INSTALL_HINT, FrogError
from streams.enrich.frog.protocol import FrogToken, parse_frog_answer, wire_text
from streams.enrich.frog.server import FrogProcess, ServerMemory, frog_version, group_memory
from streams.resources import Resource

log = logging.getLogger(__name__)

DEFAULT_SKIP: Final = "mpacl"
"""Frog modules not run: multi-word units, parser, chunker, lemmatiser, morphology."""
DEFAULT_START_TIMEOUT: Final = 120.0
"""Loading takes ~4 s alone; several servers loading at once on two busy cores take longer."""
DEFAULT_REQUEST_TIMEOUT: Final = 60.0
"""Base wait for one answer; ``len(text) / 100`` seconds are added (Frog does ~1,500 chars/s)."""


def _stop_all(live: set[FrogProcess]) -> None:
    for proc in list(live):
        proc.stop()
    live.clear()


class FrogServer:
    """One supervised server slot of a pool: restarts its process when it died or failed.

    Handed out by ``FrogServerPool.lease``; used by one thread at a time.
    """

    def __init__(self, pool: FrogServerPool) -> None:
        self._pool = pool
        self._proc: FrogProcess | None = None

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

    def _running(self) -> FrogProcess:
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


class FrogServerPool(Resource):
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
        self._live: set[FrogProcess] = set()
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
        return [group_memory(pid) for pid in self.pids if pid is not None]

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

    # Called by FrogServer.

    def _start_process(self, *, restart: bool) -> FrogProcess:
        for attempt in range(1, 4):
            with self._lock:
                if self._closed:
                    raise FrogError("the frog server pool is closed")
                try:
                    proc = FrogProcess(self._frog_bin, self._skip, Path(self._workdir.name))
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

    def _stop_process(self, proc: FrogProcess) -> None:
        proc.stop()
        with self._lock:
            self._live.discard(proc)
