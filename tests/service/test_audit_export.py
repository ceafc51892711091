"""A regulator export: complete for the tenant and period, nothing of another tenant, checksums that verify."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from hub.audit.export import MANIFEST, ExportRange, export_tenant, verify_export
from hub.db import models as m
from hub.settings import Settings
from service.cli.common import with_session
from service.cli.main import app
from tests.conftest import Shop, make_shop
from tests.service.test_retention import OLD, RECENT, seed_history

PERIOD = ExportRange(OLD.date() - timedelta(days=1), RECENT.date())
"""Both seeded ages, none of the rows the shops were created with (today)."""
EVERYTHING = ExportRange(date(2000, 1, 1), date(2100, 1, 1))


def read_export(directory: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    manifest = json.loads((directory / MANIFEST).read_text())
    rows = {
        f["name"]: [json.loads(line) for line in (directory / f["name"]).read_text().splitlines()]
        for f in manifest["files"]
    }
    return manifest, rows


def foreign_marks(shop: Shop) -> list[str]:
    """What would give another tenant's rows away: its id in both spellings, its customer's and operator's emails."""
    return [str(shop.tenant_id), shop.tenant_id.hex, f"jane@{shop.slug}.example.com", f"ops@{shop.slug}.example.com"]


@pytest.fixture
async def seeded(session: AsyncSession, shops: tuple[Shop, Shop]) -> tuple[Shop, Shop]:
    for shop in shops:
        await seed_history(session, shop)
    return shops


async def test_export_holds_every_row_of_the_tenant_in_the_period_and_nothing_else(
    session: AsyncSession, seeded: tuple[Shop, Shop], tmp_path: Path
) -> None:
    alpha, bravo = seeded
    tenant = await session.get(m.Tenant, alpha.tenant_id)
    assert tenant is not None

    result = await export_tenant(session, tenant, PERIOD, tmp_path / "export")

    manifest, rows = read_export(result.directory)
    assert manifest["tenant"] == {"id": str(alpha.tenant_id), "slug": "alpha", "name": "Alpha Shop"}
    assert manifest["range"] == {"from": str(PERIOD.first), "to": str(PERIOD.last), "timezone": "UTC"}
    counts = {f["name"]: f["rows"] for f in manifest["files"]}
    assert {name: len(lines) for name, lines in rows.items()} == counts
    assert {name: n for name, n in counts.items() if n} == {
        "tenants.jsonl": 1,
        "conversations.jsonl": 3,
        "messages.jsonl": 7,
        "message_deliveries.jsonl": 7,
        "trace_spans.jsonl": 6,
        "audit_events.jsonl": 8,
        "usage.jsonl": 4,
        "usage_daily.jsonl": 2,
        "console_users.jsonl": 1,
        "console_threads.jsonl": 2,
        "console_steps.jsonl": 4,
        "console_elements.jsonl": 2,
        "console_feedbacks.jsonl": 2,
    }
    usage = rows["usage.jsonl"][0]
    assert usage["cost"].startswith("0.0012") and Decimal(usage["cost"]) == Decimal("0.0012")
    assert usage["ts"] == OLD.isoformat() and usage["tenant_id"] == str(alpha.tenant_id)
    assert rows["usage_daily.jsonl"][0]["day"] == str(OLD.date())
    assert all(
        r["tenant_id"] == str(alpha.tenant_id) for name, lines in rows.items() for r in lines if "tenant_id" in r
    )
    for f in manifest["files"]:
        text = (result.directory / f["name"]).read_text()
        assert not any(mark in text for mark in foreign_marks(bravo)), f["name"]
        assert all(
            line == json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            for line in text.splitlines()
        )

    verified = verify_export(result.directory)
    assert verified.ok and verified.rows == sum(counts.values()) == result.rows


async def test_an_export_of_all_time_has_every_row_of_every_table_with_tenant_data(
    session: AsyncSession, seeded: tuple[Shop, Shop], tmp_path: Path
) -> None:
    alpha, bravo = seeded
    tenant = await session.get(m.Tenant, alpha.tenant_id)
    assert tenant is not None

    manifest, rows = read_export((await export_tenant(session, tenant, EVERYTHING, tmp_path / "all")).directory)

    by_table = {f["table"]: f for f in manifest["files"]}
    tenant_tables = [t for t in m.Base.metadata.sorted_tables if "tenant_id" in t.c]
    for table in tenant_tables:
        in_db = await session.scalar(
            select(func.count()).select_from(table).where(table.c.tenant_id == alpha.tenant_id)
        )
        assert by_table[table.name]["rows"] == in_db, table.name
    assert {t.name for t in m.CONSOLE_TABLES} <= set(by_table)
    assert by_table["orders"]["rows"] == by_table["customers"]["rows"] == by_table["products"]["rows"] == 1
    assert rows["customers.jsonl"][0]["email"] == "jane@alpha.example.com"
    assert by_table["api_keys"]["rows"] == 3 and all("key_hash" not in k for k in rows["api_keys.jsonl"])
    assert all("password_hash" not in op for op in rows["operators.jsonl"])
    assert by_table["api_keys"]["omitted_columns"] == ["key_hash"]
    text = "".join((tmp_path / "all" / f["name"]).read_text() for f in manifest["files"])
    assert not any(mark in text for mark in foreign_marks(bravo))


async def test_verify_names_the_file_that_changed(
    session: AsyncSession, seeded: tuple[Shop, Shop], tmp_path: Path
) -> None:
    alpha, _ = seeded
    tenant = await session.get(m.Tenant, alpha.tenant_id)
    assert tenant is not None
    directory = (await export_tenant(session, tenant, PERIOD, tmp_path / "export")).directory
    assert verify_export(directory).ok

    messages = directory / "messages.jsonl"
    data = bytearray(messages.read_bytes())
    data[data.index(b"where is my order")] ^= 0x20  # one byte: "where" → "Where"
    messages.write_bytes(bytes(data))

    problems = verify_export(directory).problems
    assert len(problems) == 1 and problems[0].startswith("messages.jsonl: sha256 ")
    (directory / "notes.txt").write_text("added later")
    assert verify_export(directory).problems[1:] == ["notes.txt: not in the manifest"]


def test_cli_exports_verifies_and_refuses_bad_input_without_writing(
    cli_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def seed(session: AsyncSession) -> tuple[Shop, Shop]:
        shops = await make_shop(session, "alpha"), await make_shop(session, "bravo")
        for shop in shops:
            await seed_history(session, shop)
        return shops

    alpha, bravo = with_session(cli_settings, seed)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    runner = CliRunner()
    period = ["--from", str(PERIOD.first), "--to", str(PERIOD.last)]

    exported = runner.invoke(app, ["audit", "export", "--tenant", str(alpha.tenant_id), *period])
    assert exported.exit_code == 0, exported.output
    directory = work / f"audit-export-alpha-{PERIOD.first}-{PERIOD.last}"
    lines = exported.stdout.splitlines()
    assert lines[0] == f"wrote {directory.name}"
    assert lines[1].startswith(f"{len(list(directory.glob('*.jsonl')))} files, 49 rows, ")
    manifest, _ = read_export(directory)
    assert manifest["tenant"]["slug"] == "alpha" and sum(f["rows"] for f in manifest["files"]) == 49
    assert not any(mark in p.read_text() for p in directory.iterdir() for mark in foreign_marks(bravo))

    verified = runner.invoke(app, ["audit", "verify", str(directory)])
    assert (
        verified.exit_code == 0
        and verified.stdout.strip() == f"ok: {len(manifest['files'])} files, 49 rows match the manifest"
    )
    spans = directory / "trace_spans.jsonl"
    spans.write_bytes(spans.read_bytes().replace(b"tool order_status", b"tool order_statuS", 1))
    tampered = runner.invoke(app, ["audit", "verify", str(directory)])
    assert tampered.exit_code == 1 and tampered.stderr.startswith("error: trace_spans.jsonl: sha256 ")

    (work / "full").mkdir()
    (work / "full" / "keep.txt").write_text("mine")
    (work / "a-file").write_text("")
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    refusals = {
        "error: unknown tenant 'nope'": ["--tenant", "nope", *period],
        f"error: --from {PERIOD.last} is after --to {PERIOD.first}": [
            "--tenant",
            "alpha",
            "--from",
            str(PERIOD.last),
            "--to",
            str(PERIOD.first),
        ],
        "error: --from '2025-13-01' is not a date: use YYYY-MM-DD": [
            "--tenant",
            "alpha",
            "--from",
            "2025-13-01",
            "--to",
            "2025-12-31",
        ],
        "error: full is not empty: choose a new directory": ["--tenant", "alpha", *period, "--out", "full"],
        "error: a-file exists and is not a directory": ["--tenant", "alpha", *period, "--out", "a-file"],
        f"error: directory {work / 'missing'} does not exist": [
            "--tenant",
            "alpha",
            *period,
            "--out",
            "missing/export",
        ],
        f"error: {directory.name} is not empty: choose a new directory": ["--tenant", "alpha", *period],
    }
    for message, args in refusals.items():
        refused = runner.invoke(app, ["audit", "export", *args])
        assert (refused.exit_code, refused.stderr.strip().splitlines()[-1:]) == (1, [message]), args
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before, "a refused export writes nothing"
