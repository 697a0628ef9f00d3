"""docker/: the image and the compose file agree with the app they run.

Pure Python (no Docker engine, no compose binary): the compose file is read with PyYAML and its
``${VAR:-default}`` interpolation is done here, the way Compose does it, with the variables a user
copies from ``docker/.env.example``. Every ``NEWSSTREAM_*`` value is then read by
``streams.config.Settings`` exactly as a container reads it (from the environment), so a renamed
setting, a value the app rejects, or topics and brokers that disagree fail here. The Dockerfile's
healthcheck script is taken out of the Dockerfile and run against real processes and sockets.
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.server
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.cli import runtime
from streams.cli.options import KAFKA
from streams.config import Settings
from streams.subprocesses import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"

PREFIX = "NEWSSTREAM_"
APP_IMAGE = "newsstream:local"
KAFKA_IMAGE = "apache/kafka"
PINNED_IMAGE = re.compile(r"(?P<name>[a-z0-9./_-]+):(?P<tag>[\w.-]*\d[\w.-]*)@sha256:[0-9a-f]{64}")
APP_SERVICES = {
    "watcher",
    "worker",
    "sink-jsonl",
    "sink-sqlite",
    "sink-deadletters",
    "sink-postgres",
}
CLUSTER_SECTION = "the 3-broker cluster"
EXISTING_SECTION = "an existing Kafka cluster"


# --- reading the files ---------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def env_example_sections() -> dict[str, dict[str, str]]:
    """``.env.example`` as {section title: {VAR: value}}; commented-out assignments included.

    The part before the first ``# --- title ---`` line is the section ``""``; ``"active"``
    collects the assignments that are not commented out (what a plain copy sets).
    """
    sections: dict[str, dict[str, str]] = {"": {}, "active": {}}
    current = ""
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"# --- (.+?) -+", line.strip())
        if heading:
            current = heading.group(1)
            sections.setdefault(current, {})
            continue
        assignment = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if assignment:
            commented, name, value = assignment.groups()
            sections[current][name] = value
            if not commented:
                sections["active"][name] = value
    return sections


_VAR = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's variable substitution: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error} and $$."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        present = name in variables
        empty = not variables.get(name)
        if op in (":-", "-") and (not present or (op == ":-" and empty)):
            return arg
        if op in (":?", "?") and (not present or (op == ":?" and empty)):
            raise KeyError(f"{name}: {arg}")
        return variables.get(name, "")

    return _VAR.sub(replace, value)


def resolved_env(service: Mapping[str, Any], variables: Mapping[str, str]) -> dict[str, str]:
    """A service's container environment: interpolated values, and empty (null) entries taken
    from ``variables`` when set there (Compose's pass-through), left out otherwise."""
    env: dict[str, str] = {}
    for name, value in (service.get("environment") or {}).items():
        if value is None:
            if name in variables:
                env[name] = variables[name]
        else:
            env[name] = interpolate(str(value), variables)
    return env


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No NEWSSTREAM_* from the test runner's environment leaks into Settings."""
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)
    return monkeypatch


def settings_from(env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a container with environment ``env`` reads them (only NEWSSTREAM_* count)."""
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith(PREFIX):
            monkeypatch.setenv(name, value)
    return Settings()


def running_kafka(variables: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The Apache Kafka services Compose starts with ``variables`` (as from docker/.env): those
    without a profile or with one in COMPOSE_PROFILES, and a scale of at least 1."""
    active = {p.strip() for p in variables.get("COMPOSE_PROFILES", "").split(",") if p.strip()}
    result = {}
    for name, service in services().items():
        if not service.get("image", "").startswith(KAFKA_IMAGE + ":"):
            continue
        profiles = set(service.get("profiles") or [])
        if profiles and not profiles & active:
            continue
        if int(interpolate(str(service.get("scale", 1)), variables)) < 1:
            continue
        result[name] = service
    return result


def advertised(service: Mapping[str, Any]) -> str:
    """host:port of a broker's PLAINTEXT listener, the address clients bootstrap from."""
    listeners = service["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    (plaintext,) = [x for x in listeners if x.startswith("PLAINTEXT://")]
    return plaintext.removeprefix("PLAINTEXT://")


def servers(settings: Settings) -> set[str]:
    return {s.strip() for s in settings.broker.split(",")}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile: comments dropped, continuation lines joined,
    heredoc bodies attached to their instruction's arguments after a newline."""
    instructions: list[tuple[str, str]] = []
    lines = iter(DOCKERFILE.read_text(encoding="utf-8").splitlines())
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        while line.endswith("\\"):
            following = next(lines).strip()
            if not following.startswith("#"):
                line = line[:-1].rstrip() + " " + following
        keyword, _, args = line.partition(" ")
        heredoc = re.search(r"<<-?'?\"?(\w+)'?\"?", args)
        if heredoc:
            body = []
            for body_line in lines:
                if body_line.strip() == heredoc.group(1):
                    break
                body.append(body_line)
            args += "\n" + "\n".join(body)
        instructions.append((keyword.upper(), args))
    return instructions


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's build stages, each starting with its FROM."""
    result: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions():
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, args))
    return result


def healthcheck_script() -> str:
    """The script the Dockerfile writes to the path its HEALTHCHECK runs."""
    (check,) = [a for k, a in stages()[-1] if k == "HEALTHCHECK"]
    command = json.loads(check[check.index("CMD") + len("CMD") :].strip())
    (script,) = [
        a.split("\n", 1)[1] for k, a in stages()[-1] if k == "COPY" and command[0] in a.split()
    ]
    return script


# --- compose: settings ---------------------------------------------------------------------------


def test_every_newsstream_variable_is_a_setting() -> None:
    """compose.yaml, .env.example and the Dockerfile only use NEWSSTREAM_* names the CLI knows."""
    names: set[str] = set()
    for path in (COMPOSE, ENV_EXAMPLE, DOCKERFILE):
        names |= set(re.findall(r"\bNEWSSTREAM_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
    assert {"NEWSSTREAM_BROKER", "NEWSSTREAM_REPLICATION_FACTOR"} <= names
    unknown = sorted(
        n for n in names if n.removeprefix(PREFIX).lower() not in Settings.model_fields
    )
    assert not unknown, f"not fields of streams.config.Settings: {unknown}"


def test_app_services_are_the_expected_ones() -> None:
    app = {n for n, s in services().items() if s.get("image") == APP_IMAGE}
    assert app == APP_SERVICES
    for name in app:
        build = services()[name]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_kafka_connection_settings_pass_through() -> None:
    """Every Kafka connection setting of the CLI reaches every newsstream container, so pointing
    at an existing SASL/SSL cluster needs only docker/.env; secrets are never written inline."""
    for name in APP_SERVICES:
        env = services()[name]["environment"]
        missing = [f"{PREFIX}{k.upper()}" for k in KAFKA if f"{PREFIX}{k.upper()}" not in env]
        assert not missing, f"{name} does not pass {missing}"
        for secret in ("NEWSSTREAM_SASL_PASSWORD", "NEWSSTREAM_SSL_KEY_PASSWORD"):
            assert env[secret] is None, f"{name}: {secret} must come from docker/.env"
        assert env["NEWSSTREAM_TANSU"] == "false", "Apache Kafka needs no Tansu workarounds"


def test_default_deployment_settings(clean_env: pytest.MonkeyPatch) -> None:
    """A plain copy of .env.example: one broker, replication 1, Apache Kafka (never embedded),
    every process agreeing on topics, partitions and consumer groups."""
    variables = env_example_sections()["active"]
    brokers = running_kafka(variables)
    assert list(brokers) == ["kafka"]
    (broker,) = brokers.values()
    seen = set()
    for name in APP_SERVICES:
        settings = settings_from(resolved_env(services()[name], variables), clean_env)
        assert not settings.embedded
        assert not settings.broker_is_tansu
        assert servers(settings) == {advertised(broker)}
        assert settings.replication_factor == 1
        assert broker["environment"]["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "1"
        assert broker["environment"]["KAFKA_MIN_INSYNC_REPLICAS"] == "1"
        assert broker["environment"]["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
        conn = runtime.connection(settings)
        assert not conn.is_tansu
        assert conn.security_protocol == "PLAINTEXT"
        seen.add(
            (
                settings.topic_prefix,
                settings.partitions,
                settings.replication_factor,
                settings.app_id,
            )
        )
    assert len(seen) == 1, f"processes disagree on topics, partitions or app id: {seen}"


def test_topics_are_the_apps_defaults(clean_env: pytest.MonkeyPatch) -> None:
    """Topics come only from the app's ensure_topics (runtime.topic_specs), with its defaults:
    the brokers create none implicitly and nothing else creates them with other counts."""
    variables = env_example_sections()["active"]
    settings = settings_from(resolved_env(services()["worker"], variables), clean_env)
    assert settings.partitions == Settings.model_fields["partitions"].default
    assert settings.topic_prefix == Settings.model_fields["topic_prefix"].default
    specs = runtime.topic_specs(settings)
    assert set(specs) == set(settings.topics.all())
    assert {s.partitions for s in specs.values()} == {settings.partitions}
    assert {s.replication_factor for s in specs.values()} == {settings.replication_factor}
    # The raw topic is the event log (README and docker/README.md say so).
    assert specs[settings.topics.raw].configs["retention.ms"] == "-1"
    for name, service in services().items():
        if service.get("image", "").startswith(KAFKA_IMAGE + ":"):
            assert service["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false", name
        assert "kafka-topics" not in json.dumps(service.get("command", "")), name


def test_three_broker_cluster(clean_env: pytest.MonkeyPatch) -> None:
    """The cluster block of .env.example: 3 brokers, replication factor 3, min.insync.replicas
    2, the single broker left out, and the app pointed at exactly those brokers."""
    variables = env_example_sections()["active"] | env_example_sections()[CLUSTER_SECTION]
    assert variables["COMPOSE_PROFILES"] == "cluster"
    brokers = running_kafka(variables)
    assert set(brokers) == {"kafka-1", "kafka-2", "kafka-3"}, "exactly the cluster profile's"
    assert all(b["profiles"] == ["cluster"] for b in brokers.values())
    envs = [b["environment"] for b in brokers.values()]
    voters = {f"{e['KAFKA_NODE_ID']}@{name}:9093" for name, e in zip(brokers, envs, strict=True)}
    for env in envs:
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
    assert len({e["CLUSTER_ID"] for e in envs}) == 1
    assert len({e["KAFKA_NODE_ID"] for e in envs}) == 3
    for name in APP_SERVICES:
        settings = settings_from(resolved_env(services()[name], variables), clean_env)
        assert settings.replication_factor == 3
        assert servers(settings) == {advertised(b) for b in brokers.values()}
        specs = runtime.topic_specs(settings)
        assert {s.replication_factor for s in specs.values()} == {3}


def test_existing_cluster_example(clean_env: pytest.MonkeyPatch) -> None:
    """The existing-cluster block of .env.example is a configuration the app accepts (SASL_SSL
    with SCRAM: protocol, mechanism and credentials fit together) and runs no local broker."""
    variables = env_example_sections()["active"] | env_example_sections()[EXISTING_SECTION]
    assert not running_kafka(variables)
    settings = settings_from(resolved_env(services()["worker"], variables), clean_env)
    assert settings.security_protocol == "SASL_SSL"
    assert settings.sasl_password is not None
    conn = runtime.connection(settings)
    assert not conn.is_tansu
    assert conn.sasl_mechanism == settings.sasl_mechanism


def test_every_app_service_waits_for_every_local_broker() -> None:
    kafka = {n for n, s in services().items() if s.get("image", "").startswith(KAFKA_IMAGE + ":")}
    assert {"kafka", "kafka-1", "kafka-2", "kafka-3"} == kafka
    for name in APP_SERVICES:
        depends = services()[name]["depends_on"]
        for broker in kafka:
            assert depends[broker] == {"condition": "service_healthy", "required": False}, name


def test_ports_are_published_on_loopback_only(clean_env: pytest.MonkeyPatch) -> None:
    """Only the worker's web port is published, on 127.0.0.1, to the port the worker serves."""
    published = {n: s["ports"] for n, s in services().items() if s.get("ports")}
    assert set(published) == {"worker"}
    for name, ports in published.items():
        for port in ports:
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
    (port,) = published["worker"]
    env = resolved_env(services()["worker"], env_example_sections()["active"])
    settings = settings_from(env, clean_env)
    assert port["target"] == settings.web_port
    assert "published" not in port, "a fixed host port clashes between scaled workers"
    # Inside its container the worker must listen beyond its own loopback to be reachable.
    assert settings.web_host == "0.0.0.0"


def test_secrets_come_from_the_env_file() -> None:
    """No password is written in compose.yaml; docker/.env (the secrets) is ignored by git."""
    for name, service in services().items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert value is None or re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (
                    f"{name}: {key} is written inline"
                )
    assert "POSTGRES_PASSWORD" in env_example_sections()["active"]
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", "docker/.env"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, "docker/.env must be in .gitignore"


def test_images_are_pinned() -> None:
    for name, service in services().items():
        image = service.get("image")
        if image == APP_IMAGE:
            continue
        assert image, name
        assert PINNED_IMAGE.fullmatch(image), f"{name}: {image} is not tag@digest"
    assert services()["kafka"]["image"].startswith("apache/kafka:")
    assert services()["postgres"]["image"].startswith("postgres:")


def test_postgres_sink_runs_by_default_with_the_password_outside_the_dsn() -> None:
    sink = services()["sink-postgres"]
    assert sink["command"] == ["sink", "postgres"]
    assert "postgres" in runtime.SINK_KINDS
    assert not sink.get("profiles")
    dsn = sink["environment"]["NEWSSTREAM_POSTGRES_DSN"]
    assert "password" not in dsn
    assert "host=postgres" in dsn
    assert "PGPASSWORD" in sink["environment"]
    assert services()["postgres"].get("profiles") is None
    assert ".[postgres]" in DOCKERFILE.read_text(encoding="utf-8")


# --- docker/README.md ---------------------------------------------------------------------------

# docker compose options (of the subcommands the README uses) that take a value.
COMPOSE_VALUE_OPTIONS = {"--scale", "--index", "-e", "--env", "-u", "--user", "-w", "--workdir"}


def readme_commands() -> list[list[str]]:
    """The shell commands of docker/README.md: each line of its ``sh`` blocks (comments cut)
    and its inline ``docker ...`` code, split into words, one list per ``&&`` part."""
    text = (DOCKER / "README.md").read_text(encoding="utf-8")
    lines = [
        line
        for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
        for line in block.splitlines()
    ]
    lines += re.findall(r"`(docker [^`]+)`", text)
    commands = []
    for line in lines:
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words:
                commands.append(words)
    return commands


def test_readme_copies_files_that_exist() -> None:
    """Paths out of docker/ in the README (e.g. the sample articles) exist in the tree."""
    outside = [w for command in readme_commands() for w in command if w.startswith("../")]
    assert outside, "the README copies the sample articles"
    for word in outside:
        assert list(DOCKER.glob(word)), f"docker/README.md: {word} matches nothing"


def test_readme_compose_commands_name_services_and_newsstream_commands(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Every service a `docker compose` command of the README names is in compose.yaml, and the
    newsstream command it runs in one (run: after the entry point; exec: `newsstream ...`)
    parses with that service's environment (its subcommand and options exist)."""
    from streams.cli.main import cli

    checked = 0
    for words in readme_commands():
        if words[:2] != ["docker", "compose"] or len(words) < 3:
            continue
        sub, rest = words[2], words[3:]
        positional: list[str] = []
        while rest:
            word = rest.pop(0)
            if word in COMPOSE_VALUE_OPTIONS:
                rest.pop(0)
            elif not word.startswith("-"):
                positional.append(word)
                if sub in ("run", "exec"):
                    break
        if sub in ("up", "logs", "ps", "down", "config", "version"):
            named = positional
        elif sub == "cp":
            named = [p.split(":")[0] for p in positional if ":" in p]
        elif sub in ("port", "run", "exec"):
            named = positional[:1]
        else:
            raise AssertionError(f"docker/README.md: unknown compose command {sub}")
        for name in named:
            assert name in services(), f"docker/README.md: `{' '.join(words)}`: no {name}"
        if sub in ("run", "exec"):
            args = rest if sub == "run" else rest[1:]
            assert sub == "run" or rest[0] == "newsstream", words
            env = resolved_env(services()[named[0]], env_example_sections()["active"])
            for key, value in env.items():
                if key.startswith(PREFIX):
                    clean_env.setenv(key, value)
            name, *options = args
            assert name in cli.commands, f"docker/README.md: no newsstream command {name}"
            cli.commands[name].make_context(name, options)
            checked += 1
        checked += 1
    assert checked >= 8


# --- Dockerfile ----------------------------------------------------------------------------------


def test_dockerfile_base_images_are_pinned_and_multi_stage() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    names: set[str] = set()
    for stage in all_stages:
        image, *rest = stage[0][1].split()
        if image not in names:
            match = PINNED_IMAGE.fullmatch(image)
            assert match, f"{image} is not pinned by tag and digest"
            requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
            minimum = re.search(r">=\s*([\d.]+)", requires["requires-python"])
            assert minimum
            assert match["name"] != "python" or match["tag"].startswith(minimum.group(1))
        if rest:
            names.add(rest[-1])
    final = all_stages[-1]
    assert any(k == "COPY" and "--from=" in a for k, a in final), "runtime copies from build"


def test_dockerfile_runs_as_non_root() -> None:
    users = [a for k, a in stages()[-1] if k == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert not user.isdigit() or int(user) >= 1000


def test_dockerfile_entrypoint_and_healthcheck() -> None:
    final = stages()[-1]
    (entrypoint,) = [a for k, a in final if k == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["newsstream"]
    (check,) = [a for k, a in final if k == "HEALTHCHECK"]
    assert "CMD" in check.split()
    assert check.split()[0].upper() != "NONE"
    compile(healthcheck_script(), "newsstream-healthcheck", "exec")
    (expose,) = [a for k, a in final if k == "EXPOSE"]
    assert int(expose) == Settings.model_fields["web_port"].default


def test_dockerfile_installs_what_dev_installs() -> None:
    """The Debian packages ./dev installs for the enrichers (frog, its data, ucto) are in the
    image, and the ENV settings parse."""
    dev = (ROOT / "dev").read_text(encoding="utf-8")
    install = re.search(r'^FROG_PACKAGES="([^"]+)"$', dev, re.MULTILINE)
    assert install
    wanted = set(install.group(1).split())
    assert {"frog", "frogdata", "ucto", "uctodata"} <= wanted
    apt = " ".join(a for k, a in stages()[-1] if k == "RUN" and "apt-get install" in a)
    installed = {w.split("=")[0] for w in shlex.split(apt) if re.match(r"[a-z][a-z0-9.+-]*=", w)}
    assert wanted <= installed, f"missing from the image: {wanted - installed}"
    env = " ".join(a for k, a in stages()[-1] if k == "ENV")
    newsstream = dict(re.findall(r"\b(NEWSSTREAM_[A-Z_]+)=(\S+)", env))
    assert newsstream
    for name, value in newsstream.items():
        Settings.model_validate({name.removeprefix(PREFIX).lower(): value})


def test_dockerignore_lets_in_only_what_the_build_copies() -> None:
    patterns = [
        p.strip()
        for p in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if p.strip() and not p.startswith("#")
    ]
    assert patterns[0] == "*", "an allow-list: everything is excluded first"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for stage in stages():
        for keyword, args in stage:
            if keyword == "COPY" and "--from=" not in args and "<<" not in args:
                copied |= set(args.split()[:-1])
    assert copied == allowed
    assert all((ROOT / path).exists() for path in copied)
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package, files in package_data["package-data"].items():
        for pattern in files:
            assert any(f"{package}/{pattern}".startswith(a + "/") for a in allowed), pattern
    for secret in ("docker/.env", ".venv", ".git", "data", "tests"):
        assert not any(fnmatch.fnmatch(secret, a) or secret.startswith(a + "/") for a in allowed)


# --- the healthcheck script, run -----------------------------------------------------------------


@contextlib.contextmanager
def fake_process(command: str) -> Iterator[int]:
    """A process whose command line reads like `newsstream COMMAND` (as in the container)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "/opt/venv/bin/newsstream", command]
    )
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def web_server() -> Iterator[int]:
    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"status": "OK"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def listener() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def run_healthcheck(tmp_path: Path, pid: int | str, env: Mapping[str, str]) -> int:
    script = tmp_path / "newsstream-healthcheck"
    script.write_text(healthcheck_script(), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    result = subprocess.run(
        [sys.executable, str(script), str(pid)], env=clean | dict(env), check=False, timeout=30
    )
    return result.returncode


def test_healthcheck_worker_is_healthy_while_its_web_answers(tmp_path: Path) -> None:
    with fake_process("worker") as pid:
        with web_server() as port:
            assert run_healthcheck(tmp_path, pid, {"NEWSSTREAM_WEB_PORT": str(port)}) == 0
        assert run_healthcheck(tmp_path, pid, {"NEWSSTREAM_WEB_PORT": str(free_port())}) == 1


@pytest.mark.parametrize("command", ["watch", "sink"])
def test_healthcheck_clients_are_healthy_while_a_broker_answers(
    tmp_path: Path, command: str
) -> None:
    with fake_process(command) as pid:
        with listener() as port:
            # The first bootstrap server is down: any one answering is enough.
            broker = f"127.0.0.1:{free_port()},127.0.0.1:{port}"
            assert run_healthcheck(tmp_path, pid, {"NEWSSTREAM_BROKER": broker}) == 0
        broker = f"127.0.0.1:{free_port()}"
        assert run_healthcheck(tmp_path, pid, {"NEWSSTREAM_BROKER": broker}) == 1


def test_healthcheck_other_commands_and_no_process(tmp_path: Path) -> None:
    with fake_process("schemas") as pid:
        assert run_healthcheck(tmp_path, pid, {}) == 0
    with fake_process("worker") as pid:
        pass
    assert run_healthcheck(tmp_path, pid, {}) == 1, "the process is gone"
