"""docker-compose.yml stays runnable by an operator: a scalable API behind a proxy, honest health checks, no silent secrets."""

from __future__ import annotations

import re
import shlex
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from hub.settings import Settings
from service.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
HUB_SERVICES = {name: s for name, s in SERVICES.items() if s.get("command", [None])[0] == "hub"}
WORKERS = {name: s for name, s in HUB_SERVICES.items() if s["command"][1] == "worker"}
README = (ROOT / "README.md").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()

FIXED_BY_COMPOSE = {
    "HUB_ENV": "compose is the production topology",
    "HUB_DATABASE_URL": "the postgres service, with POSTGRES_PASSWORD",
    "HUB_REDIS_URL": "the redis service",
    "HUB_DATA_DIR": "the media volume is mounted under it",
    "HUB_HOST": "the proxy reaches every replica on the compose network",
    "HUB_PORT": "the proxy's upstream port",
}
"""README settings whose value the topology decides; every other one is passed through from the operator."""


def readme_settings() -> list[str]:
    """Every variable named in the first cell of README's configuration table."""
    names = []
    for line in README.splitlines():
        if line.startswith("| `HUB_"):
            names += re.findall(r"`(HUB_[A-Z0-9_]+)`", line.split("|")[1])
    return names


def dockerfile_lines() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    return [line.strip() for line in DOCKERFILE.replace("\\\n", " ").splitlines() if line.strip()]


def image_data_dir() -> str:
    [env] = [line for line in dockerfile_lines() if line.startswith("ENV ") and "HUB_DATA_DIR=" in line]
    return re.search(r"HUB_DATA_DIR=(\S+)", env).group(1)


def test_the_api_publishes_no_host_port_so_it_scales_to_n_replicas() -> None:
    api = SERVICES["api"]
    assert "ports" not in api and "container_name" not in api
    published = {name for name, s in SERVICES.items() if s.get("ports")}
    assert published == {"proxy"}, "only the proxy is reachable from outside the compose network"


def test_a_proxy_from_an_official_image_listens_for_the_api() -> None:
    proxy = SERVICES["proxy"]
    assert proxy["image"].split(":")[0] in {"caddy", "nginx"}
    assert proxy["ports"]
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"
    [config] = [v.split(":")[0] for v in proxy["volumes"] if v.startswith("./")]
    api_port = SERVICES["api"]["environment"]["HUB_PORT"]
    assert re.search(rf"\bapi\b[ :]{api_port}\b", (ROOT / config).read_text()), f"{config} must proxy to api:{api_port}"


def test_each_worker_is_healthy_only_while_its_own_heartbeat_is_live() -> None:
    assert set(WORKERS) >= {"channel-worker", "imaging-worker"}
    for name, worker in WORKERS.items():
        kind = worker["command"][2]
        check = worker["healthcheck"]["test"]
        assert check == ["CMD", "hub", "health", "worker", kind], name
        result = CliRunner().invoke(app, [*check[2:], "--help"])
        assert result.exit_code == 0, f"{name}'s healthcheck is not a `hub` command: {result.output}"


def test_up_without_a_profile_needs_no_gpu() -> None:
    assert SERVICES["imaging-worker"]["profiles"] == ["gpu"]
    for name, service in SERVICES.items():
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        if any("gpu" in d.get("capabilities", []) for d in devices):
            assert service.get("profiles") == ["gpu"], f"{name} reserves a GPU outside the gpu profile"


def test_required_secrets_have_no_silent_default() -> None:
    for secret in ("POSTGRES_PASSWORD", "HUB_SECRET_KEY"):
        uses = re.findall(rf"\$\{{{secret}([^}}]*)\}}", COMPOSE_TEXT)
        assert uses, f"{secret} is not used"
        assert all(use.startswith(":?") for use in uses), f"{secret} must fail when unset (${{{secret}:?…}})"
    assert "${POSTGRES_PASSWORD" in SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_every_setting_the_readme_lists_reaches_the_api_and_the_workers() -> None:
    names = readme_settings()
    assert len(names) > 20, "README's configuration table was not found"
    for service_name, service in HUB_SERVICES.items():
        env = service["environment"]
        for name in names:
            assert name in env, f"{name} (README) is not passed to {service_name}"
            value = env[name]
            # None: compose copies the operator's value when set, else the variable stays unset.
            passed_through = value is None or f"${{{name}" in str(value)
            assert passed_through or name in FIXED_BY_COMPOSE, f"{service_name} fixes {name}={value!r}"


def test_every_hub_variable_in_compose_is_a_setting() -> None:
    for service_name, service in HUB_SERVICES.items():
        for name in service["environment"]:
            if name.startswith("HUB_"):
                field = name.removeprefix("HUB_").lower()
                assert field in Settings.model_fields, f"{service_name} sets {name}, which no setting reads"


def test_the_media_volume_is_where_the_image_keeps_media_and_writable_by_its_user() -> None:
    data_dir = image_data_dir()
    for name, service in HUB_SERVICES.items():
        assert service["environment"]["HUB_DATA_DIR"] == data_dir, name
        media = [v for v in service.get("volumes", []) if v.startswith("media:")]
        assert media == [f"media:{data_dir}/media"], name
    lines = dockerfile_lines()
    user = lines.index("USER hub")
    creates = [
        i
        for i, line in enumerate(lines)
        if line.startswith("RUN ")
        and re.search(rf"install -d -o hub -g hub .*(\"?\$HUB_DATA_DIR|{re.escape(data_dir)})/media", line)
    ]
    assert creates and creates[0] < user, "the Dockerfile must create HUB_DATA_DIR/media owned by hub before USER hub"


def test_the_readme_deploy_section_names_what_the_compose_file_has() -> None:
    section = README.split("### Deploy with compose", 1)[1].split("\n##", 1)[0]
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.DOTALL))
    commands = [shlex.split(line, comments=True) for line in code.splitlines() if line.startswith("docker compose")]
    assert ["docker", "compose", "run", "--rm", "api", "hub", "tenants", "create"] in [c[:8] for c in commands]
    profiles = {p for s in SERVICES.values() for p in s.get("profiles", [])}
    for command in commands:
        for option, value in pairwise(command):
            if option == "--profile":
                assert value in profiles, f"README uses --profile {value}, which compose does not define"
            if option == "--scale":
                assert value.split("=")[0] in SERVICES, f"README scales {value}, which compose does not define"
