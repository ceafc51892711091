"""`hub switch` and `hub status` as the platform owner runs them, against a real `hub serve` in another process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from evals.llm_server import ScriptedLLMServer, reply
from tests.processes import free_port, hub, wait_until_up


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        server.default = reply("Hello! How can I help you today?")
        yield server


@pytest.fixture
def env(tmp_path: Path, llm: ScriptedLLMServer) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {
        **clean,
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_LOG_FORMAT": "json",
        "HUB_LLM_BASE_URL": llm.base_url,
        "HUB_LLM_API_KEY": "k",
        "HUB_LLM_MODEL": "model-a",
        # Polling this slowly, a flip that arrives within seconds came by the announcement.
        "HUB_SWITCH_POLL_S": "120",
    }


def engine_after(chat: httpx.Client, key: str, wanted: str, deadline_s: float = 10) -> int:
    """Chat until the answer comes from `wanted`; return how many turns it took."""
    deadline = time.monotonic() + deadline_s
    turns = 0
    while True:
        turns += 1
        out = chat.post("/v1/chat", json={"session_id": "s1", "message": "hi"}, headers={"X-Hub-Key": key})
        if out.json()["engine"] == wanted:
            return turns
        assert time.monotonic() < deadline, f"still not {wanted} after {turns} turns"


def switch_audit(data_dir: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(data_dir / "hub.db") as db:
        rows = db.execute(
            "SELECT action, actor, data FROM audit_events WHERE action LIKE 'switch.%' ORDER BY id"
        ).fetchall()
    return [(action, actor, json.loads(data)["reason"]) for action, actor, data in rows]


def test_a_switch_flipped_from_the_cli_reaches_a_running_server(env: dict[str, str], tmp_path: Path) -> None:
    creds = json.loads(hub("seed", "demo", "--json", env=env).stdout.strip().splitlines()[-1])
    key = creds["storefront_key"]
    bad = [
        (["--tenant", "nope", "--feature", "customer_reply", "--reason", "x"], "error: unknown tenant 'nope'"),
        (["--tenant", "demo", "--feature", "customer_replay", "--reason", "x"], "error: unknown feature"),
        (["--tenant", "demo", "--feature", "customer_reply", "--reason", " "], "error: a reason is required"),
        (["--tenant", "demo", "--reason", "x"], "error: --tenant needs --feature"),
        (["--reason", "x"], "error: give --tenant with --feature"),
    ]
    for args, message in bad:
        result = hub("switch", "off", *args, env=env)
        assert result.returncode == 1 and result.stderr.startswith(message), (args, result.stderr)
    assert json.loads(hub("switch", "list", "--json", env=env).stdout) == []

    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", proc)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as chat:
            assert engine_after(chat, key, "llm") == 1

            target = ["--tenant", "demo", "--feature", "customer_reply"]
            off = hub("switch", "off", *target, "--reason", "quotes old prices", "--by", "alice", env=env)
            assert off.returncode == 0, off.stderr
            assert off.stdout.splitlines() == [
                "switched off: AI for 'customer_reply' for shop demo (by alice: quotes old prices)",
                "announced: running processes apply it now",
            ]
            engine_after(chat, key, "deterministic")

            listed = json.loads(hub("switch", "list", "--json", env=env).stdout)
            assert [(s["tenant"], s["feature"], s["set_by"], s["reason"]) for s in listed] == [
                ("demo", "customer_reply", "alice", "quotes old prices")
            ]
            status = json.loads(hub("status", "--json", env=env).stdout)
            assert status["redis"] == "ok" and {w["kind"] for w in status["workers"]} == {"channels", "imaging"}
            [shop] = status["tenants"]
            assert [s["reason"] for s in shop["switches"]] == ["quotes old prices"]
            assert {m["model"]: m["circuit"] for m in status["models"]}["model-a"] == "closed"

            on = hub("switch", "on", "--tenant", creds["tenant_id"], "--feature", "customer_reply", env=env)
            assert on.returncode == 0 and on.stdout.startswith("switched on: AI for 'customer_reply' for shop demo")
            engine_after(chat, key, "llm")
    finally:
        proc.send_signal(2)
        proc.wait(timeout=30)
        log.close()
    assert proc.returncode == 0

    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"
    assert switch_audit(tmp_path / "data") == [
        ("switch.off", "alice", "quotes old prices"),
        ("switch.on", f"cli:{user}", ""),
    ]

    offline = hub("switch", "off", "--model", "model-a", "--reason", "provider incident", env=env)
    assert offline.returncode == 0
    assert "running processes pick it up within 120s (HUB_SWITCH_POLL_S)" in offline.stdout
