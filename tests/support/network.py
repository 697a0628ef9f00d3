"""Blocking the network in tests that load a shipped model: nothing may be downloaded."""

from __future__ import annotations

import socket
from typing import Any

import pytest


def refuse(*args: Any, **kwargs: Any) -> None:
    """Stands in for anything that would open a connection or download."""
    raise AssertionError("network access attempted")


def block_network(mp: pytest.MonkeyPatch) -> None:
    """Make every connection attempt (and a Hugging Face download) fail the test."""
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket, "create_connection", refuse)
