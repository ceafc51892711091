"""The README is a test: a fresh clone, no HUB_* variables, the README's first command exactly as it prints it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from tests.processes import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    """The commands of README's "Two commands" section, in order: run, then test."""
    section = (REPO / "README.md").read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)][:2]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A `git clone` of this repository, sharing this checkout's installed .venv (the install is not under test:
    the clone's working directory and defaults are)."""
    target = tmp_path_factory.mktemp("newcomer") / "hub"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True)
    stamp = (REPO / ".venv" / ".hub-installed").read_text().split()
    want = hashlib.sha256((target / "pyproject.toml").read_bytes() + (target / "constraints.txt").read_bytes())
    if stamp[0] != want.hexdigest():
        pytest.fail("commit pyproject.toml and constraints.txt: the clone's bin/setup would reinstall the shared .venv")
    (target / ".venv").symlink_to(REPO / ".venv")
    yield target
    leftovers = processes_of(target)
    for proc in leftovers:
        proc.kill()
    assert not leftovers, f"processes of the clone outlived the tests: {leftovers}"


def newcomer_env(clone: Path) -> dict[str, str]:
    """A shell with no HUB_* variables; the clone's code first on the path (the shared .venv's editable install
    points at this checkout)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**clean, "PYTHONPATH": str(clone), "PYTHONFAULTHANDLER": "1"}


def processes_of(clone: Path) -> list[psutil.Process]:
    """Every live process started from the clone: by its command line or its working directory."""
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd", "status"]):
        info = proc.info
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(info["cmdline"] or [])
        if str(clone) in cmdline or (info["cwd"] or "").startswith(str(clone)):
            found.append(proc)
    return found


@contextmanager
def serving(clone: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    """Run README's first command in the clone (plus the documented --port) until it answers; a test that fails
    midway still stops it the way an operator would, so no Redis is left behind."""
    run = readme_commands()[0]
    assert run == "bin/hub serve --demo"
    assert "--port" in (REPO / "README.md").read_text(), "README documents the flag this test adds"
    proc = subprocess.Popen(
        [*shlex.split(run), "--port", str(port)],
        cwd=clone,
        env=newcomer_env(clone),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until_up(f"http://127.0.0.1:{port}/healthz", proc, deadline_s=120).json() == {"status": "ok"}
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def stop(proc: subprocess.Popen[str], how: signal.Signals) -> tuple[str, str]:
    proc.send_signal(how)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"exit {proc.returncode} after {how.name}:\n{err[-4000:]}"
    return out, err


def printed(banner: str, label: str) -> str:
    match = re.search(rf"^\s*{label}:\s+(\S+)", banner, re.M)
    assert match, f"the banner has no {label!r} line:\n{banner}"
    return match.group(1)


def test_readme_first_command_answers_a_shopper_from_a_fresh_clone_and_stops_on_sigterm_and_sigint(
    clone: Path,
) -> None:
    port = free_port()
    with serving(clone, port) as proc:
        landing = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert landing.status_code == 200
        surfaces = ("/docs", "/console", "/demo", "/metrics")
        assert all(f'href="{path}"' in landing.text for path in surfaces)
        for path in surfaces:
            assert httpx.get(f"http://127.0.0.1:{port}{path}", follow_redirects=True, timeout=30).status_code == 200
        out, err = stop(proc, signal.SIGTERM)
    storefront_key = printed(out, "storefront key")
    for label in ("operator key", "admin key", "operator console", "demo storefront", "operator login"):
        printed(out, label)
    assert not processes_of(clone), "SIGTERM left a process of the clone running (the embedded Redis?)"
    assert (clone / ".hub" / "hub.db").is_file(), "the default data dir is .hub in the working directory"
    assert not (clone / ".hub" / "redis" / ".hub").exists(), "a relative path was resolved twice"
    assert "Created default translation" not in err

    with serving(clone, port) as proc:
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat",
            headers={"X-Hub-Key": storefront_key},
            json={"session_id": "newcomer-1", "message": "do you have hoodies?"},
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["reply"] and reply.json()["intent"] == "product_search"
        stop(proc, signal.SIGINT)
    assert not processes_of(clone), "SIGINT left a process of the clone running"


def test_status_beside_the_running_service_finds_its_embedded_redis(clone: Path) -> None:
    with serving(clone, free_port()) as proc:
        status = subprocess.run(
            ["bin/hub", "status", "--json"], cwd=clone, env=newcomer_env(clone), capture_output=True, text=True
        )
        stop(proc, signal.SIGHUP)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["redis"] == "ok", status.stdout
    assert {worker["kind"] for worker in report["workers"]} == {"channels", "imaging"}
    assert status.stderr == "", "a command logs only warnings: its output reads cleanly"
    assert not processes_of(clone), "SIGHUP left a process of the clone running"
