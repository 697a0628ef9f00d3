"""Process set-up shared by the CLI's commands: logging, and running until a signal."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from streams.config import Settings

T = TypeVar("T")


def setup_logging(settings: Settings, logfile: Path | None = None) -> None:
    """Called once by a command before it starts its parts: from then on every log record goes
    to ``logfile`` (created with its folder; default stderr) at ``settings.log_level``,
    replacing the root logger's handlers."""
    handler: logging.Handler
    if logfile is not None:
        logfile.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(logfile)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    if root.level > logging.DEBUG:
        # aiokafka reports every rebalance and reconnect at INFO: too chatty for a console.
        logging.getLogger("aiokafka").setLevel(logging.WARNING)


def run_until_signal(main: Coroutine[Any, Any, T], stop: asyncio.Event) -> T:
    """Run ``main`` with SIGINT/SIGTERM setting ``stop`` (a clean, not an abrupt, shutdown)."""

    async def wrapper() -> T:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await main

    return asyncio.run(wrapper())
