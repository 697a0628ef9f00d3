"""Running the Faust worker in this process (``newsstream worker``)."""

from __future__ import annotations

from pathlib import Path

import faust

from streams.app.factory import NewsApp


def run_worker(app: NewsApp, loglevel: str, logfile: Path | None = None) -> None:
    """Run the worker until SIGINT/SIGTERM; Faust handles the signals and stops cleanly.

    Blocks; returns (or raises SystemExit) once the worker has stopped.
    """
    worker = faust.Worker(
        app,
        loglevel=loglevel.lower(),
        logfile=str(logfile) if logfile else None,
        # The worker must not install its own event-loop policy or print a banner: the CLI owns
        # the console.
        quiet=True,
    )
    worker.execute_from_commandline()
