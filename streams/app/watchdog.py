"""The stuck-consumer watchdog: a worker that holds work it does not do is restarted.

"Stuck" means: the worker's assigned partitions have lag (records between what the agent has
processed and the partition's high watermark) and no batch completed for ``stuck_seconds``,
counted from the moment the lag appeared or the last batch completed, whichever is later. An
idle worker (no lag) is never stuck, however long it waits.

Who calls what:

* the app factory (:func:`streams.app.factory.create_app`) makes one per worker and passes it
  to whatever needs it; the enrich and stories agents' acknowledgements call
  :meth:`Watchdog.progress` for each input they finished;
* a Faust timer on the event loop calls :meth:`Watchdog.observe_lag` every few seconds with the
  current lag of the assigned partitions;
* a daemon thread (:meth:`Watchdog.start`) checks once a second. It is a thread, not a timer,
  so it still fires when the event loop itself hangs (then the last lag it saw stays in force).
  When the worker is stuck it logs at CRITICAL, marks the state ``stuck`` (visible in
  :meth:`Watchdog.state`), waits ``grace_seconds`` so a health probe can see it, and calls
  ``on_stuck``: by default it ends the process with :data:`EXIT_STUCK`, so a supervisor
  (systemd, Docker, Kubernetes, ``newsstream up``) starts a fresh worker that resumes from the
  committed offsets (at-least-once: nothing is lost, redelivered outputs carry the same event
  ids).

The ``/health`` view reports :meth:`Watchdog.state` (:func:`streams.app.health.health_report`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

log = logging.getLogger(__name__)

EXIT_STUCK: Final = 75
"""Exit status of a worker ended by the watchdog (EX_TEMPFAIL: restarting it is the cure)."""


@dataclass(frozen=True, slots=True)
class WatchdogState:
    """A snapshot for health checks. ``status``: ``ok``, ``idle`` (no lag), ``stuck`` or
    ``disabled``."""

    status: str
    lag: int
    seconds_without_progress: float
    stuck_seconds: float
    batches: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "lag": self.lag,
            "seconds_without_progress": round(self.seconds_without_progress, 1),
            "stuck_seconds": self.stuck_seconds,
            "batches": self.batches,
        }


def _exit_stuck() -> None:
    logging.shutdown()  # flush the CRITICAL line before the hard exit
    os._exit(EXIT_STUCK)


class Watchdog:
    """Decides whether the worker is stuck; thread-safe. ``stuck_seconds <= 0`` disables it."""

    def __init__(
        self,
        stuck_seconds: float,
        on_stuck: Callable[[], None] = _exit_stuck,
        grace_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stuck_seconds = stuck_seconds
        self._on_stuck = on_stuck
        self._grace = grace_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._lag = 0
        self._waiting_since = clock()
        self._batches = 0
        self._stuck = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def progress(self) -> None:
        """The agent finished a batch (its outputs acknowledged)."""
        with self._lock:
            self._batches += 1
            self._waiting_since = self._clock()

    def observe_lag(self, lag: int) -> None:
        """The current lag (records not yet processed) over all assigned partitions."""
        with self._lock:
            if lag > 0 and self._lag == 0:
                self._waiting_since = self._clock()  # work just arrived: the wait starts now
            self._lag = max(0, lag)

    def state(self) -> WatchdogState:
        with self._lock:
            waited = self._clock() - self._waiting_since
            if self.stuck_seconds <= 0:
                status = "disabled"
            elif self._stuck or (self._lag > 0 and waited >= self.stuck_seconds):
                status = "stuck"
            elif self._lag > 0:
                status = "ok"
            else:
                status = "idle"
            return WatchdogState(status, self._lag, waited, self.stuck_seconds, self._batches)

    def check(self) -> bool:
        """True (once) when the worker has just become stuck; logs it loudly."""
        state = self.state()
        with self._lock:
            if state.status != "stuck" or self._stuck:
                return False
            self._stuck = True
        log.critical(
            "STUCK CONSUMER: %d records wait on the assigned partitions and no batch finished "
            "for %.0f s (limit --stuck-seconds %.0f s); ending the worker with exit status %d "
            "so that it is restarted",
            state.lag,
            state.seconds_without_progress,
            self.stuck_seconds,
            EXIT_STUCK,
        )
        return True

    def start(self, interval: float = 1.0) -> None:
        """Start the checking thread (no-op when disabled)."""
        if self.stuck_seconds <= 0 or self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                if self.check():
                    time.sleep(self._grace)
                    self._on_stuck()
                    return

        self._thread = threading.Thread(target=loop, name="stuck-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
