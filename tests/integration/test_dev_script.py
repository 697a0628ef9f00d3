"""./dev, run for real (bash, and the PostgreSQL check against a real server) in a copy of
itself, with apt, dpkg and the .venv's tools stubbed.

What it must do (README, "Two commands"): ``./dev demo`` installs only the project into .venv
(no Debian package, no sudo); ``./dev test`` installs the Debian packages the tests use (Frog,
chromium, kcat) and the dev extras, and checks that PostgreSQL answers before it runs anything.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from streams.subprocesses import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = {"frog", "chromium"}


def executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of ./dev whose apt-get, dpkg-query and .venv tools only write to ``log``."""
    shutil.copy(ROOT / "dev", tmp_path / "dev")
    log = tmp_path / "log"
    stubs = tmp_path / "stubs"
    venv = tmp_path / ".venv" / "bin"
    stubs.mkdir()
    venv.mkdir(parents=True)
    executable(stubs / "apt-get", f'#!/bin/sh\necho "apt-get $*" >> {log}\n')
    executable(stubs / "sudo", f'#!/bin/sh\necho "sudo $*" >> {log}\n')
    installed = " | ".join(sorted(INSTALLED))
    executable(
        stubs / "dpkg-query",
        f'#!/bin/sh\ncase "$3" in {installed}) printf "install ok installed";; *) exit 1;; esac\n',
    )
    # `python -m pip ...` is logged; `python - DSN` (the PostgreSQL check) really runs.
    executable(
        venv / "python",
        f'#!/bin/sh\nif [ "$1" = "-m" ]; then echo "python $*" >> {log}; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n',
    )
    for tool in ("ruff", "mypy", "pytest", "newsstream"):
        executable(venv / tool, f'#!/bin/sh\necho "{tool} $*" >> {log}\n')
    return tmp_path


def run_dev(tree: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    # The user's PostgreSQL for the tests stays; nothing else of theirs changes what ./dev does.
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NEWSSTREAM_") or k == "NEWSSTREAM_TEST_POSTGRES_DSN"
    }
    environ |= {"PATH": f"{tree / 'stubs'}:{os.environ['PATH']}", **env}
    result = subprocess.run(
        ["bash", str(tree / "dev"), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )
    log = tree / "log"
    return result, log.read_text(encoding="utf-8") if log.exists() else ""


def test_demo_installs_only_the_project(tree: Path) -> None:
    result, log = run_dev(tree, "demo", "--inbox", "mine")
    assert result.returncode == 0, result.stderr
    assert "apt-get" not in log
    assert "sudo" not in log
    assert "python -m pip install -q -e .\n" in log
    assert "newsstream up --once --data-dir data --inbox mine" in log


def test_test_installs_what_the_tests_use_then_runs_them(tree: Path) -> None:
    result, log = run_dev(tree, "test", "tests/unit")
    assert result.returncode == 0, result.stderr
    (install,) = [line for line in log.splitlines() if "apt-get install" in line]
    wanted = {"frogdata", "ucto", "uctodata", "chromium-driver", "fonts-dejavu-core", "kcat"}
    assert set(install.split()) >= wanted
    assert not set(install.split()) & INSTALLED, "installed packages are not installed again"
    assert "python -m pip install -q -e .[dev]" in log
    steps = [line.split()[0] for line in log.splitlines()]
    assert steps[-4:] == ["ruff", "ruff", "mypy", "pytest"]
    assert log.splitlines()[-1] == "pytest tests/unit"


def test_test_stops_with_a_clear_line_when_postgresql_does_not_answer(tree: Path) -> None:
    dsn = f"host=127.0.0.1 port={free_port()} user=postgres dbname=test"
    result, log = run_dev(tree, "test", NEWSSTREAM_TEST_POSTGRES_DSN=dsn)
    assert result.returncode != 0
    assert f"PostgreSQL does not answer at '{dsn}'" in result.stderr
    assert "database 'test'" in result.stderr
    assert "ruff" not in log, "checked before anything runs"
    assert "pytest" not in log


def test_ci_runs_exactly_dev_test() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci.splitlines() if line and not line.startswith("#")]
    assert commands[-1] == "exec ./dev test"
