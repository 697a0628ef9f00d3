"""What goes wrong with Frog, as exceptions the pipeline dead-letters on."""

from __future__ import annotations

from typing import Final

from streams.enrich.base import EnricherError

INSTALL_HINT: Final = "install Debian's frog: apt-get install frog frogdata"


class FrogError(EnricherError):
    """Frog could not be started or did not answer; the message says why."""


class FrogNotInstalledError(FrogError):
    """The ``frog`` executable is missing."""
