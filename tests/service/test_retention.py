"""Retention: a tenant's old traces, messages, turn events and console threads go; usage and other tenants stay."""

from __future__ import annotations

import asyncio
import json
import operator
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from typer.testing import CliRunner

from graphs.checkpoint import checkpoint_forgetter, open_checkpointer, thread_id
from hub.audit.retention import ConversationKey, purge_all
from hub.audit.schedule import purge_key, run_due_purge
from hub.db import models as m
from hub.redis_conn import create_redis
from hub.settings import Settings
from hub.tenancy import admin
from hub.workers import WorkerKind
from service.cli.common import with_session
from service.cli.main import app
from service.workers import consumers, retention_purge
from tests.conftest import Shop, make_shop

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
OLD, RECENT = NOW - timedelta(days=40), NOW - timedelta(days=10)


def chainlit_time(at: datetime) -> str:
    """How Chainlit stamps its rows: naive UTC ISO 8601 text with a Z."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


@dataclass
class Seeded:
    old_conversation: uuid.UUID
    recent_conversation: uuid.UUID
    mixed_conversation: uuid.UUID
    """Opened 40 days ago, still talking 10 days ago: it stays, its old messages go."""
    old_messages: list[uuid.UUID]
    recent_messages: list[uuid.UUID]
    old_thread: str
    recent_thread: str


async def seed_history(session: AsyncSession, shop: Shop) -> Seeded:
    """Two ages of everything retention looks at: 40 days old and 10 days old."""
    tid = shop.tenant_id

    def conversation(ref: str, opened: datetime, updated: datetime) -> m.Conversation:
        row = m.Conversation(
            tenant_id=tid, channel=m.Channel.WEB, external_ref=ref, created_at=opened, updated_at=updated
        )
        session.add(row)
        return row

    old = conversation("s-old", OLD, OLD)
    recent = conversation("s-recent", RECENT, RECENT)
    mixed = conversation("s-mixed", OLD, RECENT)
    await session.flush()
    messages: dict[datetime, list[uuid.UUID]] = {OLD: [], RECENT: []}
    for conv, at in [(old, OLD), (old, OLD), (old, OLD), (mixed, OLD), (mixed, OLD), (mixed, RECENT), (recent, RECENT)]:
        msg = m.Message(
            tenant_id=tid, conversation_id=conv.id, role="customer", content=f"where is my order {at:%d}", created_at=at
        )
        session.add(msg)
        await session.flush()
        messages[at].append(msg.id)
        session.add(
            m.MessageDelivery(
                tenant_id=tid,
                message_id=msg.id,
                conversation_id=conv.id,
                kind=m.DeliveryKind.REPLY,
                body={"text": {"body": msg.content}},
                created_at=at,
            )
        )
    for at in (OLD, RECENT):
        trace = uuid.uuid4().hex
        for n in range(3):
            session.add(
                m.TraceSpan(
                    tenant_id=tid,
                    trace_id=trace,
                    span_id=f"{n:016x}",
                    parent_span_id=None if n == 0 else f"{0:016x}",
                    name="chat.turn" if n == 0 else "tool order_status",
                    kind="turn" if n == 0 else "tool",
                    start_ts=at,
                    end_ts=at + timedelta(seconds=1),
                    attributes={"input": "jane@example.com"},
                )
            )
        session.add(
            m.AuditEvent(tenant_id=tid, ts=at, actor="key:x", action="chat.turn", trace_id=trace, data={"tools": []})
        )
        session.add(m.AuditEvent(tenant_id=tid, ts=at, actor="key:x", action="chat.awaiting", data={}))
        session.add(m.AuditEvent(tenant_id=tid, ts=at, actor="cli", action="switch.flipped", data={"feature": "*"}))
        session.add(m.AuditEvent(tenant_id=tid, ts=at, actor="operator:o", action="content.approved", data={}))
        for attempt in (1, 2):
            session.add(
                m.UsageRecord(
                    tenant_id=tid,
                    ts=at,
                    feature="customer_reply",
                    provider="openai",
                    model="gpt-4o-mini",
                    attempt=attempt,
                    outcome=m.UsageOutcome.OK,
                    cost=Decimal("0.0012"),
                    trace_id=trace,
                )
            )
        session.add(
            m.UsageDaily(
                day=at.date(),
                tenant_id=tid,
                feature="customer_reply",
                provider="openai",
                model="gpt-4o-mini",
                calls=1,
                attempts=2,
                successes=1,
                retries=1,
                fallbacks=0,
                failures=0,
                input_tokens=10,
                output_tokens=5,
                estimated_rows=0,
                cost=Decimal("0.0024"),
                latency_p50_ms=100,
                latency_p95_ms=200,
                computed_at=at,
            )
        )
    operator_row = await admin.create_operator(
        session, tenant_id=tid, email=f"ops@{shop.slug}.example.com", password="long-enough-pw"
    )
    await session.flush()
    user_id = str(uuid.uuid4())
    # Chainlit writes these tables with its own SQL: ids as text, timestamps as ISO text.
    await session.execute(
        text('INSERT INTO users ("id", "identifier", "metadata", "createdAt") VALUES (:id, :identifier, :md, :at)'),
        {
            "id": user_id,
            "identifier": str(operator_row.id),
            "md": json.dumps({"tenant_id": str(tid)}),
            "at": chainlit_time(OLD),
        },
    )
    threads = {}
    for at in (OLD, RECENT):
        thread = str(uuid.uuid4())
        threads[at] = thread
        await session.execute(
            text(
                'INSERT INTO threads ("id", "createdAt", "name", "userId", "userIdentifier") VALUES (:id, :at, :n, :u, :ui)'
            ),
            {"id": thread, "at": chainlit_time(at), "n": "top customers", "u": user_id, "ui": str(operator_row.id)},
        )
        for n in range(2):
            step = str(uuid.uuid4())
            await session.execute(
                text(
                    'INSERT INTO steps ("id", "name", "type", "threadId", "streaming", "output", "createdAt") '
                    "VALUES (:id, :name, :type, :thread, false, :out, :at)"
                ),
                {
                    "id": step,
                    "name": "reply",
                    "type": "assistant_message",
                    "thread": thread,
                    "out": "Jane spent $420",
                    "at": chainlit_time(at + timedelta(seconds=n)),
                },
            )
        await session.execute(
            text('INSERT INTO feedbacks ("id", "forId", "threadId", "value") VALUES (:id, :step, :thread, 1)'),
            {"id": str(uuid.uuid4()), "step": step, "thread": thread},
        )
        await session.execute(
            text(
                'INSERT INTO elements ("id", "threadId", "name", "forId", "type") VALUES (:id, :thread, :name, :step, :type)'
            ),
            {"id": str(uuid.uuid4()), "thread": thread, "name": "chart", "step": step, "type": "image"},
        )
    await session.commit()
    return Seeded(old.id, recent.id, mixed.id, messages[OLD], messages[RECENT], threads[OLD], threads[RECENT])


TABLES = {
    "trace_spans": m.TraceSpan.__table__,
    "messages": m.Message.__table__,
    "message_deliveries": m.MessageDelivery.__table__,
    "conversations": m.Conversation.__table__,
    "audit_events": m.AuditEvent.__table__,
    "usage": m.UsageRecord.__table__,
    "usage_daily": m.UsageDaily.__table__,
}


async def snapshot(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    """Row counts of the tenant, table by table (console tables through its operators)."""
    counts = {
        name: (
            await session.execute(select(func.count()).select_from(t).where(t.c.tenant_id == tenant_id))
        ).scalar_one()
        for name, t in TABLES.items()
    }
    operators = [str(i) for i in await session.scalars(select(m.Operator.id).where(m.Operator.tenant_id == tenant_id))]
    users = select(m.console_users.c.id).where(m.console_users.c.identifier.in_(operators))
    threads = select(m.console_threads.c.id).where(m.console_threads.c.userId.in_(users))
    for name, table in [("console_threads", m.console_threads), ("console_steps", m.console_steps)]:
        column = table.c.id if table is m.console_threads else table.c.threadId
        counts[name] = (
            await session.execute(select(func.count()).select_from(table).where(column.in_(threads)))
        ).scalar_one()
    for name, table in [("console_feedbacks", m.console_feedbacks), ("console_elements", m.console_elements)]:
        counts[name] = (
            await session.execute(select(func.count()).select_from(table).where(table.c.threadId.in_(threads)))
        ).scalar_one()
    await session.commit()  # no transaction left open: a checkpointer's setup on Postgres would wait for it
    return counts


async def ids(session: AsyncSession, column: Any, *where: Any) -> set[Any]:
    return set(await session.scalars(select(column).where(*where)))


@pytest.fixture
async def history(session: AsyncSession, shops: tuple[Shop, Shop]) -> tuple[Seeded, Seeded]:
    alpha, bravo = shops
    seeded = await seed_history(session, alpha), await seed_history(session, bravo)
    tenant = await session.get(m.Tenant, alpha.tenant_id)
    assert tenant is not None
    await admin.update_tenant_settings(session, tenant, {"retention_days": 30})
    await session.commit()
    return seeded


class Forgotten:
    def __init__(self) -> None:
        self.keys: list[ConversationKey] = []

    async def __call__(self, keys: Sequence[ConversationKey]) -> None:
        self.keys.extend(keys)


async def test_retention_deletes_only_what_is_older_than_the_tenants_period(
    session: AsyncSession, shops: tuple[Shop, Shop], history: tuple[Seeded, Seeded]
) -> None:
    alpha, bravo = shops
    seeded, _ = history
    before_alpha, before_bravo = await snapshot(session, alpha.tenant_id), await snapshot(session, bravo.tenant_id)
    forgotten = Forgotten()

    results = await purge_all(session, NOW, forget=forgotten, batch_size=2)

    assert [r.slug for r in results] == ["alpha"], "a tenant without retention is not purged"
    assert results[0].deleted == {
        "trace_spans": 3,
        "message_deliveries": 5,
        "messages": 5,
        "conversations": 1,
        "checkpoints": 1,
        "audit_events": 2,
        "console_feedbacks": 1,
        "console_elements": 1,
        "console_steps": 2,
        "console_threads": 1,
    }
    after = await snapshot(session, alpha.tenant_id)
    assert after["usage"] == before_alpha["usage"] == 4 and after["usage_daily"] == before_alpha["usage_daily"] == 2
    assert after["trace_spans"] == 3
    t = alpha.tenant_id
    assert await ids(session, m.TraceSpan.start_ts, m.TraceSpan.tenant_id == t) == {RECENT}
    assert await ids(session, m.Message.id, m.Message.tenant_id == t) == set(seeded.recent_messages)
    assert await ids(session, m.MessageDelivery.message_id, m.MessageDelivery.tenant_id == t) == set(
        seeded.recent_messages
    )
    assert await ids(session, m.Conversation.id, m.Conversation.tenant_id == t) == {
        seeded.recent_conversation,
        seeded.mixed_conversation,
    }
    assert forgotten.keys == [(t, "web", "s-old")]
    events = (
        await session.execute(select(m.AuditEvent.action, m.AuditEvent.ts).where(m.AuditEvent.tenant_id == t))
    ).all()
    assert {(a, ts) for a, ts in events if a.startswith("chat.")} == {("chat.turn", RECENT), ("chat.awaiting", RECENT)}
    kept = {(a, ts) for a, ts in events if a in ("switch.flipped", "content.approved")}
    assert kept == {(a, ts) for a in ("switch.flipped", "content.approved") for ts in (OLD, RECENT)}
    assert {"tenant.created", "key.issued", "operator.created", "tenant.settings_changed"} <= {a for a, _ in events}
    purged = (
        (await session.execute(select(m.AuditEvent).where(m.AuditEvent.action == "retention.purged"))).scalars().all()
    )
    assert [(e.tenant_id, e.data["deleted"]) for e in purged] == [(t, results[0].deleted)]
    assert purged[0].data["retention_days"] == 30
    threads = await ids(session, m.console_threads.c.id, m.console_threads.c.name == "top customers")
    assert uuid.UUID(seeded.old_thread) not in threads and uuid.UUID(seeded.recent_thread) in threads
    assert after["console_steps"] == 2 and after["console_feedbacks"] == after["console_elements"] == 1

    assert await snapshot(session, bravo.tenant_id) == before_bravo, "the other tenant keeps everything"

    again = await purge_all(session, NOW, forget=forgotten, batch_size=2)
    assert again[0].total == 0 and len(forgotten.keys) == 1
    assert await snapshot(session, alpha.tenant_id) == {**after, "audit_events": after["audit_events"] + 1}, (
        "its record"
    )


async def test_dry_run_counts_what_a_purge_would_delete_and_changes_nothing(
    session: AsyncSession, shops: tuple[Shop, Shop], history: tuple[Seeded, Seeded]
) -> None:
    alpha, _ = shops
    before = await snapshot(session, alpha.tenant_id)
    events = await session.scalar(select(func.count()).select_from(m.AuditEvent))

    planned = await purge_all(session, NOW, forget=Forgotten(), dry_run=True)

    assert await snapshot(session, alpha.tenant_id) == before
    assert await session.scalar(select(func.count()).select_from(m.AuditEvent)) == events
    done = await purge_all(session, NOW, forget=Forgotten())
    assert planned[0].dry_run and planned[0].deleted == done[0].deleted and done[0].total == 21


class Notes(TypedDict):
    notes: Annotated[list[str], operator.add]


async def test_purge_forgets_the_graph_memory_of_deleted_conversations(
    session: AsyncSession, shops: tuple[Shop, Shop], history: tuple[Seeded, Seeded], database_url: str, tmp_path: Path
) -> None:
    alpha, bravo = shops
    graph = StateGraph(Notes)
    graph.add_node("echo", lambda state: {})
    graph.add_edge(START, "echo")
    graph.add_edge("echo", END)
    config = {
        name: {"configurable": {"thread_id": thread_id(shop.tenant_id, m.Channel.WEB, ref)}}
        for name, shop, ref in [("gone", alpha, "s-old"), ("kept", alpha, "s-recent"), ("other", bravo, "s-old")]
    }
    async with open_checkpointer(database_url, tmp_path) as saver:
        memory = graph.compile(checkpointer=saver)
        for c in config.values():
            await memory.ainvoke({"notes": ["order A-10001 for jane@example.com"]}, c)

    await purge_all(session, NOW, forget=checkpoint_forgetter(database_url, tmp_path))

    async with open_checkpointer(database_url, tmp_path) as saver:
        memory = graph.compile(checkpointer=saver)
        assert (await memory.aget_state(config["gone"])).values == {}
        assert (await memory.aget_state(config["kept"])).values["notes"] == ["order A-10001 for jane@example.com"]
        assert (await memory.aget_state(config["other"])).values["notes"] == ["order A-10001 for jane@example.com"]


async def test_workers_run_the_daily_purge_once(
    engine: AsyncEngine, session: AsyncSession, history: tuple[Seeded, Seeded], app_settings: Settings
) -> None:
    workers = [create_redis(app_settings.redis_url or ""), create_redis(app_settings.redis_url or "")]
    try:
        ran = await asyncio.gather(*(run_due_purge(engine, redis, NOW) for redis in workers))
        assert sorted(r is None for r in ran) == [False, True], "exactly one worker purged"
        assert [r.slug for r in next(r for r in ran if r is not None)] == ["alpha"]
        assert await workers[0].get(purge_key(NOW)) == "done"
        assert await run_due_purge(engine, workers[1], NOW + timedelta(hours=3)) is None
        tomorrow = await run_due_purge(engine, workers[1], NOW + timedelta(days=1))
        assert tomorrow is not None and tomorrow[0].total == 0
    finally:
        for redis in workers:
            await redis.aclose()
    purged = await session.scalar(select(func.count()).where(m.AuditEvent.action == "retention.purged"))
    assert purged == 2


def test_cli_sets_retention_through_validation_and_the_audit_trail_and_purges(cli_settings: Settings) -> None:
    async def seed(session: AsyncSession) -> None:
        await seed_history(session, await make_shop(session, "alpha"))

    with_session(cli_settings, seed)
    runner = CliRunner()

    set_days = runner.invoke(app, ["tenants", "set", "alpha", "--retention-days", "30", "--redact-pii"])
    assert set_days.exit_code == 0, set_days.output
    assert set_days.stdout.splitlines() == ["alpha: retention_days none → 30", "alpha: redact_pii off → on"]
    refused = runner.invoke(app, ["tenants", "set", "alpha", "--retention-days", "0"])
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "error: invalid settings for tenant 'alpha': retention_days: Input should be greater than or equal to 1"
    )
    assert runner.invoke(app, ["tenants", "set", "alpha"]).exit_code == 1
    # Today is long after both seeded ages.
    dry = runner.invoke(app, ["audit", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[0].startswith("alpha: would delete 37 rows older than ")
    assert "  messages                      7" in dry.stdout.splitlines()
    purged = runner.invoke(app, ["audit", "purge", "--tenant", "alpha"])
    assert purged.exit_code == 0 and purged.stdout.splitlines()[0].startswith("alpha: deleted 37 rows older than ")
    again = runner.invoke(app, ["audit", "purge", "--tenant", "alpha"])
    assert again.stdout.splitlines()[0].startswith("alpha: deleted 0 rows ")
    unknown = runner.invoke(app, ["audit", "purge", "--tenant", "nope"])
    assert unknown.exit_code == 1 and unknown.stderr.strip() == "error: unknown tenant 'nope'"

    forever = runner.invoke(app, ["tenants", "set", "alpha", "--no-retention"])
    assert forever.stdout.strip() == "alpha: retention_days 30 → none"

    async def audited(session: AsyncSession) -> list[dict[str, Any]]:
        stmt = (
            select(m.AuditEvent.data).where(m.AuditEvent.action == "tenant.settings_changed").order_by(m.AuditEvent.id)
        )
        return list(await session.scalars(stmt))

    changes = [e["changes"] for e in with_session(cli_settings, audited)]
    assert changes == [
        {"retention_days": {"from": None, "to": 30}, "redact_pii": {"from": False, "to": True}},
        {"retention_days": {"from": 30, "to": None}},
    ]

    nothing = runner.invoke(app, ["audit", "purge", "--dry-run"])
    assert nothing.exit_code == 0 and nothing.stdout.strip() == "no tenant has a retention period: nothing to purge"
    kept = runner.invoke(app, ["audit", "purge", "--tenant", "alpha"])
    assert kept.stdout.strip() == "alpha has no retention period: everything is kept"


async def test_the_channel_workers_purge_consumer_runs_todays_purge_and_stops_when_asked(
    session: AsyncSession, shops: tuple[Shop, Shop], history: tuple[Seeded, Seeded], app_settings: Settings
) -> None:
    alpha, bravo = shops
    before_bravo = await snapshot(session, bravo.tenant_id)
    assert retention_purge in consumers(WorkerKind.CHANNELS)
    redis = create_redis(app_settings.redis_url or "")
    stop = asyncio.Event()
    consumer = asyncio.create_task(retention_purge(app_settings, redis, stop))
    try:
        async with asyncio.timeout(30):
            while await redis.get(purge_key(datetime.now(UTC))) != "done":  # noqa: ASYNC110 — polling Redis, not a local event
                await asyncio.sleep(0.05)
        stop.set()
        async with asyncio.timeout(10):
            await consumer
    finally:
        stop.set()
        await redis.aclose()
    # Today is long after both seeded ages: all of alpha's history is past its 30 days.
    after = await snapshot(session, alpha.tenant_id)
    assert after["messages"] == after["trace_spans"] == after["conversations"] == after["console_steps"] == 0
    assert after["usage"] == 4 and after["usage_daily"] == 2
    assert await snapshot(session, bravo.tenant_id) == before_bravo
