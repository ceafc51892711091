"""`hub` starts light: building the command line imports no heavy package, and its help still lists everything.

A command's own imports (SQLAlchemy, Redis, the gateway, the graph) load only when that command runs, so
`hub --help` and a typo cost an interpreter and Typer, not the whole service. `bench/cli_start.py` times it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import typer

from service.cli.main import app
from tests.processes import hub

HEAVY = (
    "sqlalchemy",
    "langgraph",
    "langchain_core",
    "openai",
    "fastapi",
    "redis",
    "streaq",
    "chainlit",
    "torch",
    "ragas",
)

BUILD_THE_CLI = """
import sys
import typer
from service.cli.main import app
typer.main.get_command(app)  # every command's signature and option types, as `hub --help` needs them
print("\\n".join(sorted(sys.modules)))
"""


@pytest.fixture
def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**clean, "COLUMNS": "200"}


def test_building_the_cli_imports_no_heavy_package(env: dict[str, str]) -> None:
    built = subprocess.run([sys.executable, "-c", BUILD_THE_CLI], env=env, capture_output=True, text=True, check=True)
    modules = set(built.stdout.split())
    assert {"service.cli.main", "service.cli.ops", "service.cli.usage", "typer"} <= modules
    loaded = sorted(name for name in modules if name.split(".")[0] in HEAVY)
    assert loaded == []


def test_help_lists_every_command(env: dict[str, str]) -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    expected = set(root.list_commands(typer.Context(root)))
    assert {"serve", "worker", "seed", "tenants", "keys", "prompts", "usage", "eval", "explain", "audit"} <= expected

    shown = hub("--help", env=env)
    assert shown.returncode == 0, shown.stderr
    listed = {m.group(1) for line in shown.stdout.splitlines() if (m := re.match(r"│ ([a-z][\w-]*) ", line))}
    assert listed == expected


@pytest.mark.parametrize(
    ("command", "choices"),
    [
        (["keys", "create"], "storefront|operator|admin"),
        (["worker"], "channels|imaging"),
        (["usage", "report"], "table|csv|json|html"),
        (["prompts", "new"], "major|minor|patch"),
    ],
)
def test_help_shows_the_choices_of_an_option(env: dict[str, str], command: list[str], choices: str) -> None:
    shown = hub(*command, "--help", env=env)
    assert shown.returncode == 0, shown.stderr
    assert choices in shown.stdout
