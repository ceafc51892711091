"""The `hub` command as an operator runs it: real processes, real ports, the embedded default."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from hub.db.migrate import head_revision
from tests.processes import free_port, hub, start_serve, wait_until_up


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**clean, "HUB_DATA_DIR": str(tmp_path / "data"), "HUB_LOG_FORMAT": "json"}


def test_serve_demo_answers_with_the_demo_shop_and_stops_cleanly(env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until_up(f"http://127.0.0.1:{port}/healthz", proc).json() == {"status": "ok"}
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", headers={"X-Request-ID": "probe-1"}).json()
        assert ready["checks"] == {"database": "ok", "redis": "ok"}
        creds = json.loads(hub("seed", "demo", "--json", env=env).stdout.strip().splitlines()[-1])
        product = httpx.get(
            f"http://127.0.0.1:{port}/v1/products/{creds['sample_sku']}", headers={"X-Hub-Key": creds["storefront_key"]}
        )
        assert product.status_code == 200 and product.json()["in_stock"] is True
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert f"storefront key:    {creds['storefront_key']}" in stdout
    logs = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    events = [entry["event"] for entry in logs]
    assert "embedded_redis_started" in events and "embedded_redis_stopped" in events
    probe = next(entry for entry in logs if entry.get("request_id") == "probe-1")
    assert probe["event"] == "request" and probe["path"] == "/readyz" and probe["status"] == 200
    served = next(entry for entry in logs if entry.get("path") == f"/v1/products/{creds['sample_sku']}")
    assert served["tenant_id"] == creds["tenant_id"]


def test_invalid_environment_stops_startup_with_one_line(env: dict[str, str]) -> None:
    result = hub("serve", env={**env, "HUB_PORT": "eighty"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: invalid configuration: HUB_PORT: Input should be a valid integer, unable to parse string as an integer (got 'eighty')"
    ]


def test_tenant_key_and_operator_lifecycle(env: dict[str, str]) -> None:
    assert hub("tenants", "create", "--name", "Acme Outdoor", env=env).returncode == 0
    listed = json.loads(hub("tenants", "list", "--json", env=env).stdout)
    assert [t["slug"] for t in listed] == ["acme-outdoor"]

    created = hub("keys", "create", "--tenant", "acme-outdoor", "--role", "storefront", env=env)
    assert created.returncode == 0 and "shown once" in created.stderr
    key = created.stdout.strip()
    assert key.startswith("hub_sf_")
    prefix = key.rsplit("_", 1)[0]
    assert prefix in hub("keys", "list", "--tenant", "acme-outdoor", env=env).stdout
    assert key not in hub("keys", "list", "--tenant", "acme-outdoor", env=env).stdout
    revoked = hub("keys", "revoke", prefix, env=env)
    assert revoked.returncode == 0 and "revoked" in hub("keys", "list", "--tenant", "acme-outdoor", env=env).stdout

    op = hub(
        "operators",
        "create",
        "--tenant",
        "acme-outdoor",
        "--email",
        "Ops@Acme.example.com",
        "--password",
        "long-enough-pw",
        env=env,
    )
    assert op.stdout.strip() == "created operator ops@acme.example.com"


def test_cli_errors_name_the_bad_value(env: dict[str, str]) -> None:
    unknown = hub("keys", "create", "--tenant", "nope", "--role", "operator", env=env)
    assert unknown.returncode == 1 and unknown.stderr.strip().splitlines()[-1] == "error: unknown tenant 'nope'"
    bad_role = hub("keys", "create", "--tenant", "nope", "--role", "root", env=env)
    assert bad_role.returncode == 2 and "root" in bad_role.stderr
    hub("tenants", "create", "--name", "Acme", env=env)
    again = hub("tenants", "create", "--name", "Acme", env=env)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_db_upgrade_is_idempotent(env: dict[str, str]) -> None:
    first, second = hub("db", "upgrade", env=env), hub("db", "upgrade", env=env)
    assert first.returncode == second.returncode == 0
    head = head_revision()
    assert first.stdout == second.stdout == f"database at revision {head}\n"
    assert hub("db", "current", env=env).stdout.strip() == f"current: {head}; head: {head}"


def test_seed_demo_json_prints_the_contract_object(env: dict[str, str]) -> None:
    first = hub("seed", "demo", "--json", env=env)
    assert first.returncode == 0, first.stderr
    creds = json.loads(first.stdout.strip().splitlines()[-1])
    assert set(creds) == {
        "tenant_id",
        "storefront_key",
        "operator_key",
        "operator_email",
        "operator_password",
        "whatsapp_phone_number_id",
        "whatsapp_verify_token",
        "whatsapp_app_secret",
        "sample_sku",
        "sample_order_id",
        "sample_order_email",
        "admin_key",
        "delivered_order_id",
        "delivered_order_email",
        "unfulfilled_order_id",
        "unfulfilled_order_email",
    }
    again = json.loads(hub("seed", "demo", "--json", env=env).stdout.strip().splitlines()[-1])
    assert again == creds


def test_serve_refuses_to_start_when_a_tenant_pins_an_unknown_prompt(env: dict[str, str]) -> None:
    import sqlite3

    hub("tenants", "create", "--name", "Acme", env=env)
    db = sqlite3.connect(Path(env["HUB_DATA_DIR"]) / "hub.db")
    db.execute(
        """UPDATE tenants SET settings = json_set(settings, '$.prompt_pins', json('{"customer_reply": "7.0.0"}'))"""
    )
    db.commit()
    db.close()
    result = hub("serve", "--port", str(free_port()), env=env, timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: tenant 'acme':") and "7.0.0" in last


def _valkeys_of(data_dir: Path) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline", "status"])
        if p.info["status"] != psutil.STATUS_ZOMBIE and str(data_dir) in " ".join(p.info["cmdline"] or [])
    ]


def test_a_serve_killed_with_sigkill_leaves_nothing_that_stops_the_next_start(env: dict[str, str]) -> None:
    data_dir = Path(env["HUB_DATA_DIR"])
    port = free_port()
    killed = start_serve(env=env, port=port)
    killed.kill()  # no chance to stop its embedded Redis, which now runs on without its owner
    killed.communicate()
    assert _valkeys_of(data_dir), "the embedded Redis runs in a session of its own"

    restarted = start_serve(env=env, port=port)
    try:
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz").json()
        assert ready["checks"] == {"database": "ok", "redis": "ok"}
    finally:
        restarted.send_signal(signal.SIGTERM)
        _, stderr = restarted.communicate(timeout=60)
    assert restarted.returncode == 0, stderr
    assert "embedded_redis_orphan_stopped" in stderr
    assert not _valkeys_of(data_dir), "SIGTERM stopped the embedded Redis with the server"


def test_a_second_serve_on_the_same_data_dir_names_the_running_one(env: dict[str, str]) -> None:
    port = free_port()
    first = start_serve(env=env, port=port)
    try:
        second = hub("serve", "--demo", "--port", str(free_port()), env=env, timeout=60)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["checks"]["redis"] == "ok"
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert second.returncode == 1 and second.stdout == "", "a refused start prints no banner of keys"
    lines = [line for line in second.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and lines[0].startswith("error: the embedded Redis of "), second.stderr
    assert f"(pid {first.pid})" in lines[0]


def test_commands_log_only_warnings_unless_verbose_and_readable_lines_on_a_terminal(tmp_path: Path) -> None:
    import pty

    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env = {**clean, "HUB_DATA_DIR": str(tmp_path / "data")}
    quiet = hub("db", "upgrade", env=env)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr  # migrated, but an INFO line is not news

    piped = hub("-v", "db", "upgrade", env={**env, "HUB_DATA_DIR": str(tmp_path / "piped")})
    assert json.loads(piped.stderr.splitlines()[0])["event"] == "database_migrated"

    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "hub", "-v", "db", "upgrade"],
        env={**env, "HUB_DATA_DIR": str(tmp_path / "terminal")},
        stdout=subprocess.DEVNULL,
        stderr=follower,
    ) as proc:
        os.close(follower)
        seen = b""
        while chunk := _read_pty(leader):
            seen += chunk
        proc.wait(timeout=60)
    os.close(leader)
    text = seen.decode(errors="replace")
    assert "database_migrated" in text and not text.lstrip().startswith("{"), text


def _read_pty(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the other end closed
        return b""
