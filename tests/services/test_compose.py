"""docker-compose.yml, the production shape: what it runs exists, and what it pins matches."""

from __future__ import annotations

import inspect
import itertools
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from api.db import connect
from landun.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
KAFKA_POM = ROOT / "deploy" / "kafka" / "pom.xml"


# ---- docker-compose.yml ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def pinned_kafka_version() -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    return ET.parse(KAFKA_POM).getroot().find("m:properties/m:kafka.version", ns).text


def landun_services(compose: dict) -> dict[str, list[str]]:
    """The compose services that run the landun image: name -> command."""
    services = compose["services"]
    return {
        name: service["command"]
        for name, service in services.items()
        if str(service.get("image", "")).startswith("${LANDUN_IMAGE")
    }


def test_compose_describes_the_production_services(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {
        "kafka", "redis", "postgres", "worker", "api", "alert-sink", "archive", "gateway"
    }  # fmt: skip
    assert landun_services(compose) == {
        "worker": ["landun", "worker"],
        "api": ["landun", "api"],
        "alert-sink": ["landun", "alert-sink"],
        "archive": ["landun", "archive"],
        "gateway": ["landun", "gateway"],
    }
    assert re.fullmatch(r"\$\{LANDUN_WORKERS:-\d+\}", str(services["worker"]["deploy"]["replicas"]))


def test_compose_runs_only_real_landun_sub_commands(compose: dict) -> None:
    # argparse exits (SystemExit) on an unknown sub-command or argument.
    parser = build_parser()
    for name, command in landun_services(compose).items():
        assert command[0] == "landun", name
        try:
            args = parser.parse_args(command[1:])
        except SystemExit:
            pytest.fail(f"compose service {name} runs {command}, which `landun` does not accept")
        assert args.command == command[1], name


def interpolate(value: object) -> str:
    """A compose value with ``${VAR:-default}`` as its default and any other ``${VAR...}`` as a
    placeholder (what `docker compose` does with the variable unset or set)."""
    text = str(value)
    text = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)
    return re.sub(r"\$\{[A-Z_]+[^}]*\}", "set-by-operator", text)


def test_compose_commands_parse_with_the_real_cli_under_their_environment(
    compose: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 15: the CLI's defaults come from LANDUN_* variables, so each command is parsed under
    # its service's environment; its health check must probe the port the command listens on,
    # and the installed `landun` script (the image's entry point) must accept the command.
    landun_script = Path(sys.executable).with_name("landun")
    assert landun_script.exists(), "the venv's landun script is missing (make install)"
    for name, command in landun_services(compose).items():
        service = compose["services"][name]
        env = {k: interpolate(v) for k, v in (service.get("environment") or {}).items()}
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            try:
                args = build_parser().parse_args(command[1:])
            except SystemExit:
                pytest.fail(f"compose service {name}: `landun` rejects {command}")
        # the gateway's --port is the terminals' TCP port; its probes are on --http-port
        port = getattr(args, "http_port", None) or args.port or int(env["LANDUN_API_PORT"])
        probe = " ".join(map(str, service["healthcheck"]["test"]))
        assert f"127.0.0.1:{port}/livez" in probe, f"{name} listens on {port}: {probe}"
        done = subprocess.run(
            [str(landun_script), *command[1:], "--help"], capture_output=True, text=True,
            env={**os.environ, **env}, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0 and f"usage: landun {command[1]}" in done.stdout, done.stderr


def test_compose_postgres_is_the_system_of_record(compose: dict) -> None:
    services = compose["services"]
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:1[56]-alpine|postgres:15", postgres["image"])
    env = postgres["environment"]
    # No default: compose refuses to start without a password.
    assert re.fullmatch(r"\$\{LANDUN_PG_PASSWORD:\?[^}]+\}", env["POSTGRES_PASSWORD"])
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == ("landun", "landun")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(m.startswith("postgres-data:") for m in postgres["volumes"])
    url = "postgresql+psycopg://landun:${LANDUN_PG_PASSWORD}@postgres:5432/landun"
    for name in landun_services(compose):
        assert services[name]["environment"]["LANDUN_DATABASE_URL"] == url, name
    healthy = {"condition": "service_healthy"}
    for name in ("api", "alert-sink"):
        depends_on = services[name]["depends_on"]
        assert depends_on.get("postgres") == healthy, name
        assert depends_on.get("kafka") == depends_on.get("redis") == healthy, name
    api_env = services["api"]["environment"]
    assert (api_env["LANDUN_API_HOST"], api_env["LANDUN_API_PORT"]) == ("0.0.0.0", 8000)
    assert {"LANDUN_REDIS_URL", "LANDUN_KAFKA_BOOTSTRAP"} <= set(api_env)


def test_compose_postgres_has_connections_for_the_landun_processes(compose: dict) -> None:
    # docs/services.md: four API and four sink replicas and one operator's command fit.
    command = compose["services"]["postgres"]["command"]
    settings = dict(arg.split("=", 1) for flag, arg in itertools.pairwise(command) if flag == "-c")
    defaults = inspect.signature(connect).parameters
    pool = defaults["pool_size"].default + defaults["max_overflow"].default
    budget = 4 * (pool + 1) + 4 * pool + pool  # + 1: the API's outbox relay's LISTEN
    reserved = 3  # superuser_reserved_connections
    assert int(settings["max_connections"]) - reserved >= budget


def test_compose_kafka_is_kraft_at_the_pinned_version(compose: dict) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{pinned_kafka_version()}"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_references_only_defined_services_and_volumes(compose: dict) -> None:
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert set(service.get("depends_on") or {}) <= set(services) - {name}, name
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name} mounts undeclared volume {source}"
        for key, value in (service.get("environment") or {}).items():
            if key.startswith("LANDUN_") and key.endswith(("_BOOTSTRAP", "_URL")):
                # The host follows the user:password@ of a URL that has one.
                netloc = str(value).split("://")[-1].rsplit("@", 1)[-1]
                host = re.split(r"[/:]+", netloc)[0]
                assert host in services, f"{name}: {key} points at unknown host {host}"


# Compose v2 as the docker CLI's plugin, which also runs on its own (no docker daemon needed for
# `config`); `make test` builds it (mk/compose.mk, target compose-tool).
COMPOSE = Path(os.environ.get("LANDUN_COMPOSE", "/usr/local/lib/docker/cli-plugins/docker-compose"))


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    # Issue 15: a missing `docker compose` fails this test; it used to skip it silently.
    if not os.access(COMPOSE, os.X_OK):
        pytest.fail(f"{COMPOSE} missing: run `make compose-tool`", pytrace=False)
    env = {
        **os.environ,
        "LANDUN_SECRET_KEY": "test-secret-not-for-production",
        "LANDUN_PG_PASSWORD": "test-password-not-for-production",
        "LANDUN_JT808_SECRET": "test-jt808-secret-not-for-production",
    }
    result = subprocess.run(
        [str(COMPOSE), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name, command in landun_services(yaml.safe_load(COMPOSE_FILE.read_text())).items():
        assert services[name]["command"] == command, name  # anchors and merges as written
