"""Operator CRM, SEO and photography tools against the seeded demo shop, on SQLite and on Postgres."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from evals.llm_server import ScriptedLLMServer, reply
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.gateway.config import GatewayConfig
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.gateway.ledger import UsageLedger
from hub.jobs import JobQueue
from hub.prompting.outputs import (
    AspectRatio,
    CrmCustomerSummary,
    CrmFollowupDraft,
    CustomerSegment,
    NextAction,
    NextBestAction,
    PhotoBrief,
    Priority,
    Sentiment,
)
from hub.prompting.registry import PromptRegistry, default_prompts_dir
from hub.redis_conn import create_redis
from hub.seed.demo import DemoCredentials, seed_demo
from hub.settings import Settings
from hub.tenancy.config import TenantConfig
from hub.tenancy.repository import LIFETIME_VALUE_EXCLUDES, TenantData
from tests.conftest import Shop, make_shop, postgres_database
from tests.gateway_harness import PRICES, Harness, fast_config
from tools.context import Audience, PermissionDenied, ToolContext, ToolError
from tools.crm import CRM_TOOLS, SegmentRule
from tools.deps import bind_model, needs_model
from tools.photography import PHOTO_TOOLS
from tools.registry import ToolSpec, run_tool, tools_for
from tools.seo import SEO_TOOLS, SeoBulkProgress, check_seo_copy, fallback_seo_copy, run_seo_bulk

ALL_TOOLS = [*CRM_TOOLS, *SEO_TOOLS, *PHOTO_TOOLS]
TOOLS = {spec.name: spec for spec in ALL_TOOLS}
HAND_CHECKED = "stellarossi@example.com"
"""Five orders: A-10090 delivered 192.00, A-11638 delivered 238.00, A-11650 refunded 94.00, A-11759 delivered
105.95, A-11867 returned 190.90 (refund due). Lifetime value counts the three delivered ones: 535.95."""


# --- one seeded demo shop per backend, copied for every test ----------------------------------------


@dataclass(frozen=True)
class Template:
    backend: str
    url: str
    creds: DemoCredentials
    data_dir: Path
    """Where the seed wrote the shop's media (reference photos)."""


def _in_thread(coro_fn: Callable[[], Any]) -> Any:
    # The seed runs on its own loop in another thread, out of the way of the tests' event loops.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_fn()).result()


async def _seed(url: str, data_dir: Path) -> DemoCredentials:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            creds = await seed_demo(session, Settings(data_dir=data_dir))
            await session.commit()
        return creds
    finally:
        await engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.service)])
def template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """The demo shop seeded once per backend; tests get copies, so the 5-second seed runs twice per module."""
    root = tmp_path_factory.mktemp(f"demo-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{root / 'template.db'}"
        yield Template("sqlite", url, _in_thread(lambda: _seed(url, root / "data")), root / "data")
        return
    with postgres_database("hub_tpl") as url:
        yield Template("postgres", url, _in_thread(lambda: _seed(url, root / "data")), root / "data")


@pytest.fixture
def demo_url(template: Template, tmp_path: Path) -> Iterator[str]:
    if template.backend == "sqlite":
        source = Path(make_url(template.url).database)
        shutil.copyfile(source, tmp_path / "demo.db")
        yield f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
        return
    with postgres_database("hub_t", template=make_url(template.url).database) as url:
        yield url


@pytest.fixture
async def demo_engine(demo_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(demo_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def tenant_id(template: Template) -> uuid.UUID:
    return uuid.UUID(template.creds.tenant_id)


@asynccontextmanager
async def demo_gateway(
    engine: AsyncEngine, redis_url: str, config: GatewayConfig, tenant_id: uuid.UUID
) -> AsyncIterator[Harness]:
    """The test harness's gateway, billing to the demo database so usage rows meet their tenant."""
    sessions = session_factory(engine)
    redis = create_redis(redis_url)
    ledger = UsageLedger(sessions, redis, flush_interval_s=0.05)
    ledger.start()
    gateway = Gateway(
        config, redis=redis, ledger=ledger, prompts=PromptRegistry.load(default_prompts_dir()), prices=PRICES
    )
    async with sessions() as session:
        tenant = TenantConfig.model_validate((await session.get(m.Tenant, tenant_id)).settings)
    try:
        yield Harness(gateway, engine, sessions, tenant_id, tenant)
    finally:
        await gateway.aclose()
        await redis.aclose()


@pytest.fixture
async def no_model(demo_engine: AsyncEngine, redis_url: str, tenant_id: uuid.UUID) -> AsyncIterator[Harness]:
    async with demo_gateway(demo_engine, redis_url, fast_config(None), tenant_id) as harness:
        yield harness


@pytest.fixture
async def db(demo_engine: AsyncEngine, no_model: Harness) -> AsyncIterator[AsyncSession]:
    # Opened after the gateway so it closes first: on SQLite an open write would hold up the ledger's last flush.
    async with session_factory(demo_engine)() as session:
        yield session


@pytest.fixture
async def operator_ctx(db: AsyncSession, tenant_id: uuid.UUID, template: Template) -> ToolContext:
    operator = (await db.execute(select(m.Operator).where(m.Operator.tenant_id == tenant_id))).scalar_one()
    return ToolContext(
        session=db,
        tenant_id=tenant_id,
        audience=Audience.OPERATOR,
        channel=m.Channel.CONSOLE,
        operator_id=operator.id,
        settings=Settings(data_dir=template.data_dir),
    )


def bound(harness: Harness) -> dict[str, ToolSpec]:
    call = CallContext(tenant_id=harness.tenant_id, tenant=harness.tenant)
    return {s.name: s for s in bind_model(ALL_TOOLS, gateway=harness.gateway, call=call)}


async def customer_by_email(session: AsyncSession, tenant_id: uuid.UUID, email: str) -> m.Customer:
    return await TenantData(session, tenant_id).customers.by_email(email)


# --- permissions ------------------------------------------------------------------------------------


async def test_every_operator_tool_refuses_a_customer_conversation(
    operator_ctx: ToolContext, no_model: Harness
) -> None:
    customer = await customer_by_email(operator_ctx.session, operator_ctx.tenant_id, HAND_CHECKED)
    shopper = ToolContext(
        session=operator_ctx.session,
        tenant_id=operator_ctx.tenant_id,
        audience=Audience.CUSTOMER,
        channel=m.Channel.WEB,
        customer_id=customer.id,
    )
    assert tools_for(ALL_TOOLS, Audience.CUSTOMER) == []
    assert tools_for(ALL_TOOLS, Audience.OPERATOR) == ALL_TOOLS
    for spec in bound(no_model).values():
        with pytest.raises(PermissionDenied, match=spec.name):
            await run_tool(spec, shopper, {"customer": HAND_CHECKED, "sku": "SKU-1001", "description": "vips"})
    writes = {s.name for s in ALL_TOOLS if s.sensitive}
    assert writes == {
        "add_note",
        "tag_customer",
        "save_segment",
        "approve_content",
        "reject_content",
        "publish_content",
        "request_photos",
        "decide_photo",
    }
    assert {s.name for s in ALL_TOOLS if needs_model(s)} == {
        "summarize_customer",
        "next_best_action",
        "draft_followup",
        "seo_copy",
        "draft_photo_brief",
    }


# --- customers --------------------------------------------------------------------------------------


async def test_profile_of_a_hand_checked_customer_is_exact(operator_ctx: ToolContext) -> None:
    profile = await run_tool(TOOLS["customer_profile"], operator_ctx, {"customer": HAND_CHECKED.upper()})
    assert profile.name == "Stella Rossi" and profile.order_count == 5
    assert profile.lifetime_value == Decimal("535.95") == Decimal("192.00") + Decimal("238.00") + Decimal("105.95")
    assert profile.average_order_value == Decimal("178.65")
    assert (profile.last_order_number, profile.last_order_status) == ("A-11867", m.OrderStatus.RETURNED)
    assert [o.number for o in profile.recent_orders] == ["A-11867", "A-11759", "A-11650", "A-11638", "A-10090"]
    assert profile.open_issues and profile.open_issues[0].startswith("order A-11867 returned, refund due")

    orders = await operator_ctx.data.orders.list(m.Order.customer_id == profile.id)
    assert profile.lifetime_value == sum(o.total for o in orders if o.status not in LIFETIME_VALUE_EXCLUDES)
    last = max(orders, key=lambda o: o.placed_at)
    assert profile.last_order_at == last.placed_at
    assert profile.days_since_last_order == (datetime.now(UTC) - last.placed_at).days
    assert (await run_tool(TOOLS["customer_profile"], operator_ctx, {"customer": str(profile.id)})) == profile


async def test_find_customers_by_name_email_phone_and_tag(operator_ctx: ToolContext) -> None:
    stella = await customer_by_email(operator_ctx.session, operator_ctx.tenant_id, HAND_CHECKED)
    find = TOOLS["find_customers"]
    assert [c.id for c in (await run_tool(find, operator_ctx, {"query": "stella rossi"})).customers] == [stella.id]
    assert stella.id in [c.id for c in (await run_tool(find, operator_ctx, {"query": "stellarossi@"})).customers]
    spaced = f"{stella.phone[:2]} {stella.phone[2:5]} {stella.phone[5:8]}-{stella.phone[8:]}"
    assert [c.id for c in (await run_tool(find, operator_ctx, {"query": spaced})).customers] == [stella.id]
    vips = await run_tool(find, operator_ctx, {"query": "vip", "limit": 50})
    assert vips.total == 20 and all("vip" in c.tags for c in vips.customers)


async def test_notes_and_tags_persist_with_an_audit_trail(operator_ctx: ToolContext, demo_engine: AsyncEngine) -> None:
    await run_tool(TOOLS["add_note"], operator_ctx, {"customer": HAND_CHECKED, "text": "Prefers linen in summer."})
    tagged = await run_tool(
        TOOLS["tag_customer"], operator_ctx, {"customer": HAND_CHECKED, "add": ["Gift Buyer", "vip"], "remove": []}
    )
    assert tagged.added == ["gift-buyer", "vip"]
    untagged = await run_tool(TOOLS["tag_customer"], operator_ctx, {"customer": HAND_CHECKED, "remove": ["vip"]})
    assert untagged.removed == ["vip"] and untagged.tags == ["gift-buyer"]
    with pytest.raises(ToolError, match="at least one tag"):
        await run_tool(TOOLS["tag_customer"], operator_ctx, {"customer": HAND_CHECKED})
    await operator_ctx.session.commit()

    async with session_factory(demo_engine)() as fresh:
        stella = await customer_by_email(fresh, operator_ctx.tenant_id, HAND_CHECKED)
        assert stella.tags == ["gift-buyer"]
        assert stella.notes[-1]["text"] == "Prefers linen in summer." and stella.notes[-1]["author"] == "Demo Operator"
        actions = (
            await fresh.execute(
                select(m.AuditEvent.action, m.AuditEvent.actor)
                .where(m.AuditEvent.subject == str(stella.id))
                .order_by(m.AuditEvent.id)
            )
        ).all()
        assert [a for a, _ in actions] == ["customer.note_added", "customer.tagged", "customer.tagged"]
        assert {actor for _, actor in actions} == {"operator:operator@demo.example.com"}


@dataclass(frozen=True)
class Stats:
    customer: m.Customer
    orders: int
    lifetime_value: Decimal
    last_order_at: datetime | None

    def quiet_for(self, now: datetime, days: int) -> bool:
        return self.last_order_at is None or self.last_order_at < now - timedelta(days=days)


SEGMENTS: list[tuple[str, Callable[[Stats, datetime], bool]]] = [
    ("VIPs who have not ordered in 60 days", lambda s, now: "vip" in s.customer.tags and s.quiet_for(now, 60)),
    ("customers who spent over $500", lambda s, now: s.lifetime_value > 500),
    (
        "newsletter subscribers with no order in 90 days",
        lambda s, now: s.customer.marketing_opt_in and s.quiet_for(now, 90),
    ),
    (
        "customers who ordered in the last 30 days",
        lambda s, now: s.last_order_at is not None and s.last_order_at >= now - timedelta(days=30),
    ),
    ("wholesale accounts with at least 5 orders", lambda s, now: "wholesale" in s.customer.tags and s.orders >= 5),
    ("one-time buyers", lambda s, now: s.orders == 1),
    ("customers who never ordered", lambda s, now: s.orders == 0),
    (
        "repeat customers who spent between $200 and $1,000",
        lambda s, now: s.orders >= 2 and 200 <= s.lifetime_value <= 1000,
    ),
    (
        "VIP customers with lifetime value under $4k",
        lambda s, now: "vip" in s.customer.tags and s.lifetime_value < 4000,
    ),
    (
        "customers who opted out of marketing and have not ordered in 3 months",
        lambda s, now: not s.customer.marketing_opt_in and s.quiet_for(now, 90),
    ),
    ("customers on WhatsApp with more than 3 orders", lambda s, now: s.customer.whatsapp_opt_in and s.orders > 3),
]


async def _all_stats(session: AsyncSession, tenant_id: uuid.UUID) -> list[Stats]:
    data = TenantData(session, tenant_id)
    orders: dict[uuid.UUID, list[m.Order]] = {}
    for order in await data.orders.list():
        orders.setdefault(order.customer_id, []).append(order)
    stats = []
    for customer in await data.customers.list():
        mine = orders.get(customer.id, [])
        kept = sum((o.total for o in mine if o.status not in LIFETIME_VALUE_EXCLUDES), Decimal(0))
        last = max((o.placed_at for o in mine), default=None)
        stats.append(Stats(customer, len(mine), kept, last))
    return stats


async def test_segment_phrasings_count_what_a_direct_query_counts(operator_ctx: ToolContext) -> None:
    # Demo VIPs all ordered recently: let three of them lapse so the first phrasing has members.
    customers = await operator_ctx.data.customers.list(order_by=[m.Customer.email])
    lapsed = [c.id for c in customers if "vip" in c.tags][:3]
    long_ago = datetime.now(UTC) - timedelta(days=75)
    await operator_ctx.session.execute(
        update(m.Order).where(m.Order.customer_id.in_(lapsed)).values(placed_at=long_ago, updated_at=long_ago)
    )
    stats = await _all_stats(operator_ctx.session, operator_ctx.tenant_id)
    for description, belongs in SEGMENTS:
        now = datetime.now(UTC)
        result = await run_tool(TOOLS["segment_customers"], operator_ctx, {"description": description})
        expected = {s.customer.id for s in stats if belongs(s, now)}
        assert result.count == len(expected) > 0, f"{description!r} read as {result.interpretation!r}"
        assert {member.id for member in result.sample} <= expected
        assert len(result.sample) == min(10, len(expected))
        values = [member.lifetime_value for member in result.sample]
        assert values == sorted(values, reverse=True)

    lapsed_vips = await run_tool(
        TOOLS["segment_customers"], operator_ctx, {"description": "VIPs who have not ordered in 60 days"}
    )
    assert lapsed_vips.rule == SegmentRule(tags=["vip"], not_ordered_in_days=60)
    assert {member.id for member in lapsed_vips.sample} == set(lapsed)
    with pytest.raises(ToolError, match="could not read a segment from 'blue things'"):
        await run_tool(TOOLS["segment_customers"], operator_ctx, {"description": "blue things"})


async def test_saved_segment_keeps_rule_and_size_and_names_are_unique(operator_ctx: ToolContext) -> None:
    args = {"name": "Big spenders", "description": "customers who spent over $500"}
    saved = await run_tool(TOOLS["save_segment"], operator_ctx, args)
    preview = await run_tool(TOOLS["segment_customers"], operator_ctx, {"description": args["description"]})
    assert saved.member_count == preview.count > 0 and saved.rule.min_lifetime_value == Decimal("500.01")
    with pytest.raises(ToolError, match="'Big spenders' already exists"):
        await run_tool(TOOLS["save_segment"], operator_ctx, {**args, "name": "big spenders"})
    replaced = await run_tool(
        TOOLS["save_segment"],
        operator_ctx,
        {**args, "description": "customers who spent over $1,000", "replace": True},
    )
    assert replaced.replaced and replaced.id == saved.id and replaced.member_count < saved.member_count
    row = await operator_ctx.data.segments.by_name("BIG SPENDERS")
    assert row.rule["min_lifetime_value"] == "1000.01" and row.member_count == replaced.member_count


async def test_next_best_action_falls_back_to_rules_from_the_profile(
    operator_ctx: ToolContext, no_model: Harness
) -> None:
    tools = bound(no_model)
    with_return = await run_tool(tools["next_best_action"], operator_ctx, {"customer": HAND_CHECKED})
    assert with_return.engine == "deterministic"
    assert (with_return.action, with_return.priority) == (NextAction.RESOLVE_OPEN_ISSUE, Priority.HIGH)
    assert "A-11867" in with_return.reason

    # A VIP whose every order was delivered half a year ago is a lapsed VIP: win them back.
    vip = await operator_ctx.data.customers.list(m.Customer.marketing_opt_in.is_(True), order_by=[m.Customer.email])
    vip = next(c for c in vip if "vip" in c.tags)
    long_ago = datetime.now(UTC) - timedelta(days=200)
    await operator_ctx.session.execute(
        update(m.Order)
        .where(m.Order.customer_id == vip.id)
        .values(status=m.OrderStatus.DELIVERED, placed_at=long_ago, updated_at=long_ago, eta=None)
    )
    lapsed = await run_tool(tools["next_best_action"], operator_ctx, {"customer": vip.email})
    assert (lapsed.action, lapsed.priority) == (NextAction.WIN_BACK, Priority.HIGH)
    assert lapsed.reason.startswith("VIP customer has lapsed") and "200 days ago" in lapsed.reason


async def test_followup_is_a_template_draft_that_names_real_orders(
    operator_ctx: ToolContext, no_model: Harness
) -> None:
    tools = bound(no_model)
    email = await run_tool(
        tools["draft_followup"],
        operator_ctx,
        {"customer": HAND_CHECKED, "purpose": "thank her for shopping with us and offer 10% off with code THANKS10"},
    )
    assert email.engine == "deterministic" and email.channel == "email"
    assert email.subject == "Thank you for your order"
    assert email.body.startswith("Hi Stella,") and "A-11867" in email.body and "Demo Operator" in email.body
    assert "10%" not in email.body and any("offer" in note for note in email.notes_for_operator)
    whatsapp = await run_tool(
        tools["draft_followup"],
        operator_ctx,
        {"customer": HAND_CHECKED, "purpose": "update her on the refund for her return", "channel": "whatsapp"},
    )
    assert whatsapp.subject is None and "A-11867" in whatsapp.body and len(whatsapp.body) <= 1000
    assert (await operator_ctx.session.execute(select(func.count()).select_from(m.Message))).scalar_one() == 0


async def test_model_answers_about_a_customer_are_checked_against_the_records(
    operator_ctx: ToolContext, demo_engine: AsyncEngine, redis_url: str
) -> None:
    win_back = NextBestAction(action="win_back", reason="No order for a while.", priority="medium")
    resolve = NextBestAction(action="resolve_open_issue", reason="A-11867 was returned; refund due.", priority="high")
    invented = CrmFollowupDraft(
        subject="Your return", body="Hi Stella, enjoy 20% off your next order!", channel="email"
    )
    honest = CrmFollowupDraft(
        subject="Your return of A-11867",
        body="Hi Stella,\n\nYour return of order A-11867 has reached us and your refund is on its way.\n\nMaya",
        channel="email",
    )
    async with ScriptedLLMServer() as llm:
        llm.enqueue(*(reply(a.model_dump_json()) for a in (win_back, resolve, invented, honest)))
        async with demo_gateway(demo_engine, redis_url, fast_config(llm.base_url), operator_ctx.tenant_id) as harness:
            tools = bound(harness)
            action = await run_tool(tools["next_best_action"], operator_ctx, {"customer": HAND_CHECKED})
            purpose = "tell her the refund for her return is on its way"
            draft = await run_tool(
                tools["draft_followup"], operator_ctx, {"customer": HAND_CHECKED, "purpose": purpose}
            )
            rows = await harness.usage()
    assert (action.engine, action.action, action.reason) == ("llm", "resolve_open_issue", resolve.reason)
    assert '"lifetime_value": "535.95"' in llm.requests[0].messages[-1]["content"]
    assert "open issue (order A-11867 returned, refund due" in llm.requests[1].messages[-1]["content"]
    assert (draft.engine, draft.body, draft.notes_for_operator) == ("llm", honest.body, [])
    assert purpose in llm.requests[2].messages[-1]["content"]
    assert "'20%' is not in the request: copy the offer's terms exactly" in llm.requests[3].messages[-1]["content"]
    assert [r.outcome for r in rows] == ["invalid_output", "ok", "invalid_output", "ok"]


async def test_summary_without_a_model_is_built_from_the_records(operator_ctx: ToolContext, no_model: Harness) -> None:
    tools = bound(no_model)
    stella = await run_tool(tools["summarize_customer"], operator_ctx, {"customer": HAND_CHECKED})
    profile = await run_tool(TOOLS["customer_profile"], operator_ctx, {"customer": HAND_CHECKED})
    assert stella.engine == "deterministic" and stella.customer_id == profile.id
    assert stella.summary.startswith("Stella Rossi: 5 orders since ") and "lifetime value $535.95" in stella.summary
    assert HAND_CHECKED not in stella.summary and profile.phone not in stella.summary
    assert stella.segment == CustomerSegment.LOYAL and stella.sentiment == Sentiment.UNKNOWN
    assert stella.key_facts[:2] == ["5 orders, lifetime value $535.95", "Average order value $178.65"]
    assert stella.open_issues == profile.open_issues
    assert stella.suggested_next_step.startswith("Resolve the open issue first: order A-11867 returned")

    # A VIP who opted in and whose orders were all delivered over a year ago has lapsed: win them back.
    vips = await operator_ctx.data.customers.list(m.Customer.marketing_opt_in.is_(True), order_by=[m.Customer.email])
    vip = next(c for c in vips if "vip" in c.tags)
    long_ago = datetime.now(UTC) - timedelta(days=400)
    await operator_ctx.session.execute(
        update(m.Order)
        .where(m.Order.customer_id == vip.id)
        .values(status=m.OrderStatus.DELIVERED, placed_at=long_ago, updated_at=long_ago, eta=None)
    )
    lapsed = await run_tool(tools["summarize_customer"], operator_ctx, {"customer": vip.email})
    assert (lapsed.segment, lapsed.open_issues) == (CustomerSegment.LAPSED, [])
    assert "400 days ago" in lapsed.summary
    assert lapsed.suggested_next_step == f"Send a win-back message: no order since {long_ago:%Y-%m-%d}."
    await operator_ctx.session.commit()  # SQLite: the ledger writes through another connection
    rows = await no_model.usage()
    assert [(r.feature, r.outcome) for r in rows] == [("crm_customer_summary", "fallback")] * 2


async def test_model_summary_is_used_when_the_records_back_it_and_replaced_when_it_invents(
    operator_ctx: ToolContext, demo_engine: AsyncEngine, redis_url: str
) -> None:
    profile = await run_tool(TOOLS["customer_profile"], operator_ctx, {"customer": HAND_CHECKED})
    last = profile.last_order_at
    honest = CrmCustomerSummary(
        summary=f"Stella has placed 5 orders, $535.95 in all; the last, A-11867 on {last:%B} {last.day}, "
        f"came back {profile.days_since_last_order} days after she ordered and her refund is still due.",
        segment="loyal",
        key_facts=["5 orders", "Lifetime value $535.95", f"Last order {last:%Y-%m-%d}", "Opted out of marketing"],
        open_issues=["Refund due for returned order A-11867"],
        sentiment="unknown",
        suggested_next_step="Issue the refund for order A-11867 and tell her it is on its way.",
    )
    invented = honest.model_copy(
        update={
            "summary": "Stella is a big spender: 12 orders and $1,250.00 since she joined in March 2019.",
            "key_facts": ["A customer for 5 years", "Last order A-99999"],
            "open_issues": [],
            "sentiment": Sentiment.POSITIVE,
        }
    )
    async with ScriptedLLMServer() as llm:
        llm.enqueue(reply(honest.model_dump_json()), *[reply(invented.model_dump_json())] * 3)
        async with demo_gateway(demo_engine, redis_url, fast_config(llm.base_url), operator_ctx.tenant_id) as harness:
            tools = bound(harness)
            used = await run_tool(tools["summarize_customer"], operator_ctx, {"customer": HAND_CHECKED})
            replaced = await run_tool(tools["summarize_customer"], operator_ctx, {"customer": HAND_CHECKED})
            await operator_ctx.session.commit()
            rows = await harness.usage()
    assert used.engine == "llm" and used.summary == honest.summary and used.open_issues == honest.open_issues
    assert '"lifetime_value": "535.95"' in llm.requests[0].messages[-1]["content"]
    assert (
        "A-11867" in llm.requests[0].messages[-1]["content"] and HAND_CHECKED in llm.requests[0].messages[-1]["content"]
    )

    assert replaced.engine == "deterministic" and replaced.summary.startswith("Stella Rossi: 5 orders since ")
    assert replaced.open_issues == profile.open_issues and replaced.sentiment == Sentiment.UNKNOWN
    reask = llm.requests[2].messages[-1]["content"]
    for problem in (
        "summary: '12' is not in the customer's records",
        "summary: '1,250.00' is not in the customer's records",
        "summary: the date 'March 2019' is not in the customer's records",
        "key_facts: '5 years' does not follow from any date in the records",
        "key_facts: order A-99999 is not one of this customer's orders",
        "open_issues must include 'order A-11867 returned, refund due",
        "sentiment must be 'unknown'",
    ):
        assert problem in reask, problem
    assert [r.outcome for r in rows] == ["ok", "invalid_output", "invalid_output", "invalid_output", "fallback"]


# --- SEO --------------------------------------------------------------------------------------------


async def test_fallback_copy_passes_its_own_rules_for_20_random_products(operator_ctx: ToolContext) -> None:
    products = await operator_ctx.data.products.list(order_by=[m.Product.sku])
    for product in random.Random(20).sample(products, 20):
        copy = fallback_seo_copy(product)
        assert check_seo_copy(copy, product) == [], product.sku
        assert len(copy.title) <= 60 and len(copy.meta_description) <= 155
        assert copy.primary_keyword in copy.title.lower() and copy.primary_keyword in copy.meta_description.lower()


async def test_rules_reject_an_invented_claim_and_a_61_character_title(operator_ctx: ToolContext) -> None:
    product = await operator_ctx.data.products.by_sku("SKU-1001")
    assert "waterproof" not in json.dumps([product.title, product.description, product.attributes]).lower()
    copy = fallback_seo_copy(product)
    waterproof = copy.model_copy(update={"description": copy.description + " Fully waterproof and handmade."})
    problems = check_seo_copy(waterproof, product)
    assert len(problems) == 2 and problems[0].startswith("'waterproof' is not in the product data")
    long_title = (copy.title + " " + "x" * 60)[:61]
    problems = check_seo_copy(copy.model_copy(update={"title": long_title}), product)
    assert problems == ["title is 61 characters; the limit is 60"]
    blue = copy.model_copy(update={"image_alt_text": "Slub Cotton Crew Tee in blue, size XS"})
    assert [p.split(" is not")[0] for p in check_seo_copy(blue, product)] == ["'blue'", "'XS'"]


async def test_copy_is_drafted_and_published_only_after_approval(
    operator_ctx: ToolContext, no_model: Harness, demo_engine: AsyncEngine
) -> None:
    tools = bound(no_model)
    draft = await run_tool(tools["seo_copy"], operator_ctx, {"sku": "SKU-1001"})
    assert draft.engine == "deterministic" and draft.status == m.ContentDraftStatus.DRAFT
    await operator_ctx.session.commit()  # SQLite: the ledger writes through another connection
    [row] = await no_model.usage()
    assert (row.outcome, row.feature, row.tenant_id) == ("fallback", "seo_product_copy", operator_ctx.tenant_id)

    with pytest.raises(ToolError, match="not approved: approve it first"):
        await run_tool(tools["publish_content"], operator_ctx, {"draft_id": str(draft.draft_id)})
    product = await operator_ctx.data.products.by_sku("SKU-1001")
    assert product.title == draft.current_title and "seo" not in product.attributes

    approved = await run_tool(tools["approve_content"], operator_ctx, {"draft_id": str(draft.draft_id)})
    assert approved.status == "approved" and approved.decided_by == "operator:operator@demo.example.com"
    published = await run_tool(tools["publish_content"], operator_ctx, {"draft_id": str(draft.draft_id)})
    assert published.status == "published" and published.published_at is not None
    with pytest.raises(ToolError, match="is published, not approved"):
        await run_tool(tools["publish_content"], operator_ctx, {"draft_id": str(draft.draft_id)})
    await operator_ctx.session.commit()

    async with session_factory(demo_engine)() as fresh:
        product = await TenantData(fresh, operator_ctx.tenant_id).products.by_sku("SKU-1001")
        assert product.title == draft.content.title and product.description == draft.content.description
        assert product.attributes["seo"]["slug"] == draft.content.slug
        assert product.attributes["sizes"]  # the rest of the record is untouched


async def test_rejected_copy_cannot_be_approved_or_published(operator_ctx: ToolContext, no_model: Harness) -> None:
    tools = bound(no_model)
    draft = await run_tool(tools["seo_copy"], operator_ctx, {"sku": "SKU-1002", "target_keywords": ["crew tee"]})
    rejected = await run_tool(
        tools["reject_content"], operator_ctx, {"draft_id": str(draft.draft_id), "reason": "too plain"}
    )
    assert rejected.status == "rejected" and rejected.decision_reason == "too plain"
    for name in ("approve_content", "publish_content"):
        with pytest.raises(ToolError, match="is rejected"):
            await run_tool(tools[name], operator_ctx, {"draft_id": str(draft.draft_id)})
    with pytest.raises(ToolError, match="Unknown SKU 'SKU-0000'"):
        await run_tool(tools["seo_copy"], operator_ctx, {"sku": "SKU-0000"})


async def test_bulk_job_lists_a_category_and_the_runner_drafts_each_product(
    operator_ctx: ToolContext, no_model: Harness, redis_url: str, tmp_path: Path
) -> None:
    with pytest.raises(ToolError, match="Background jobs are not running here"):
        await run_tool(TOOLS["seo_bulk"], operator_ctx, {"category": "bags"})
    async with JobQueue(Settings(data_dir=tmp_path / "data", redis_url=redis_url)) as jobs:
        await _plan_and_run_bulk_copy(replace(operator_ctx, jobs=jobs), no_model)


async def _plan_and_run_bulk_copy(operator_ctx: ToolContext, no_model: Harness) -> None:
    planned = await run_tool(TOOLS["seo_bulk"], operator_ctx, {"category": "bags"})
    assert planned.task_id, "the job is queued for a worker"
    bags = await operator_ctx.data.products.list(m.Product.category == "Bags", m.Product.active.is_(True))
    assert planned.job.category == "Bags" and sorted(planned.job.skus) == sorted(p.sku for p in bags)
    assert planned.product_count == len(bags) > 0 and planned.skipped == []

    seen: list[SeoBulkProgress] = []

    async def progress(step: SeoBulkProgress) -> None:
        seen.append(step)

    call = CallContext(tenant_id=no_model.tenant_id, tenant=no_model.tenant)
    report = await run_seo_bulk(operator_ctx, planned.job, gateway=no_model.gateway, call=call, progress=progress)
    assert sorted(report.drafted) == sorted(planned.job.skus) and report.failed == {}
    assert report.deterministic == len(bags)
    assert [(s.done, s.total) for s in seen] == [(i, len(bags)) for i in range(1, len(bags) + 1)]
    rows = await no_model.usage()
    assert len({r.request_id for r in rows}) == len(bags)

    again = await run_tool(TOOLS["seo_bulk"], operator_ctx, {"category": "Bags"})
    assert again.product_count == 0 and sorted(again.skipped) == sorted(planned.job.skus) and again.task_id == ""
    with pytest.raises(ToolError, match=r"Unknown category 'Boats'.*'Bags'"):
        await run_tool(TOOLS["seo_bulk"], operator_ctx, {"category": "Boats"})


async def test_model_copy_with_an_invented_claim_is_reasked_then_fixed(
    operator_ctx: ToolContext, demo_engine: AsyncEngine, redis_url: str
) -> None:
    product = await operator_ctx.data.products.by_sku("SKU-1001")
    fixed = fallback_seo_copy(product).model_copy(update={"title": "Slub Cotton Crew Tee in Terracotta"})
    invented = fixed.model_copy(update={"description": fixed.description + " Waterproof for rainy days."})
    async with ScriptedLLMServer() as llm:
        llm.enqueue(reply(invented.model_dump_json()), reply(fixed.model_dump_json()))
        async with demo_gateway(demo_engine, redis_url, fast_config(llm.base_url), operator_ctx.tenant_id) as harness:
            draft = await run_tool(bound(harness)["seo_copy"], operator_ctx, {"sku": "SKU-1001"})
            await operator_ctx.session.commit()
            rows = await harness.usage()
    assert draft.engine == "llm" and draft.content == fixed
    first, second = llm.requests
    assert '"sku": "SKU-1001"' in first.messages[-1]["content"]
    assert "'waterproof' is not in the product data" in second.messages[-1]["content"]
    assert [r.outcome for r in rows] == ["invalid_output", "ok"]
    stored = await operator_ctx.data.content_drafts.get(draft.draft_id)
    assert stored.payload == fixed.model_dump(mode="json") and stored.generation["model"] == "model-a"


# --- photography ------------------------------------------------------------------------------------


async def test_photo_request_queues_a_job_that_waits_for_the_imaging_service(operator_ctx: ToolContext) -> None:
    brief = {"scene": "on a weathered oak table", "background": "soft morning light", "aspect": "4:5", "count": 3}
    with pytest.raises(ToolError, match="Unknown SKU 'SKU-9999'"):
        await run_tool(TOOLS["request_photos"], operator_ctx, {"sku": "SKU-9999", **brief})
    with pytest.raises(ToolError, match="count"):
        await run_tool(TOOLS["request_photos"], operator_ctx, {"sku": "SKU-1001", **brief, "count": 9})

    job = await run_tool(TOOLS["request_photos"], operator_ctx, {"sku": "SKU-1001", **brief, "seed": 7})
    assert job.state == m.ImageJobState.QUEUED and job.images == []
    assert job.brief.aspect == AspectRatio.PORTRAIT_4_5 and job.brief.count == 3 and job.brief.seed == 7
    assert [h["state"] for h in job.history] == ["queued"]
    row = await operator_ctx.data.image_jobs.get(job.job_id)
    assert row.state == "queued" and row.result == {} and row.brief["scene"] == "on a weathered oak table"
    assert await run_tool(TOOLS["photo_job_status"], operator_ctx, {"job_id": str(job.job_id)}) == job

    decide = {"job_id": str(job.job_id), "image": 1, "decision": "approve"}
    with pytest.raises(ToolError, match="has no results yet: it is queued"):
        await run_tool(TOOLS["decide_photo"], operator_ctx, decide)

    # What the imaging service writes when it finishes.
    row.state = m.ImageJobState.SUCCEEDED
    row.result = {"images": [{"path": "a.png", "score": 0.9, "seed": 7}, {"path": "b.png", "score": 0.4, "seed": 8}]}
    await operator_ctx.session.flush()
    decided = await run_tool(TOOLS["decide_photo"], operator_ctx, {**decide, "image": 2, "decision": "reject"})
    assert [(i.number, i.decision) for i in decided.images] == [(1, None), (2, "reject")]
    with pytest.raises(ToolError, match="has 2 images; there is no image 3"):
        await run_tool(TOOLS["decide_photo"], operator_ctx, {**decide, "image": 3})


async def test_photo_request_needs_a_reference_image(operator_ctx: ToolContext) -> None:
    product = await operator_ctx.data.products.by_sku("SKU-1002")
    product.image_path = None
    await operator_ctx.session.flush()
    with pytest.raises(ToolError, match="SKU 'SKU-1002' has no reference photo"):
        await run_tool(
            TOOLS["request_photos"],
            operator_ctx,
            {"sku": "SKU-1002", "scene": "on a beach", "background": "dunes"},
        )


async def test_photo_brief_without_a_model_reads_the_operators_words(
    operator_ctx: ToolContext, no_model: Harness
) -> None:
    tools = bound(no_model)
    request = "3 lifestyle shots on a marble counter, 4:5"
    brief = await run_tool(tools["draft_photo_brief"], operator_ctx, {"sku": "SKU-1001", "request": request})
    assert (brief.sku, brief.engine, brief.count, brief.aspect) == (
        "SKU-1001",
        "deterministic",
        3,
        AspectRatio.PORTRAIT_4_5,
    )
    assert brief.scene == "lifestyle shots on a marble counter" and "people, hands" in brief.negative_prompt
    studio = await run_tool(
        tools["draft_photo_brief"], operator_ctx, {"sku": "SKU-1002", "request": "studio shots on white, 2 photos"}
    )
    assert (studio.sku, studio.background, studio.count) == ("SKU-1002", "seamless pure white", 2)
    assert studio.aspect == AspectRatio.SQUARE and "props" in studio.negative_prompt

    with pytest.raises(ToolError, match="Unknown SKU 'SKU-9999'"):
        await run_tool(tools["draft_photo_brief"], operator_ctx, {"sku": "SKU-9999", "request": request})
    with pytest.raises(ToolError, match="1 to 8 images; the request asks for 12"):
        await run_tool(tools["draft_photo_brief"], operator_ctx, {"sku": "SKU-1001", "request": "12 photos on sand"})
    jobs = (await operator_ctx.session.execute(select(func.count()).select_from(m.ImageJob))).scalar_one()
    assert jobs == 0, "a brief queues nothing"


async def test_model_photo_brief_must_keep_the_count_aspect_and_background_asked_for(
    operator_ctx: ToolContext, demo_engine: AsyncEngine, redis_url: str
) -> None:
    fixed = PhotoBrief(
        scene="on a white marble counter beside a sprig of eucalyptus",
        background="soft, out-of-focus kitchen",
        aspect="4:5",
        count=3,
        negative_prompt="text, watermark, logos, extra products, people, hands",
        style_notes="morning window light from the left, 50mm, brand amber accents",
    )
    drifted = fixed.model_copy(update={"count": 4, "aspect": AspectRatio.SQUARE, "negative_prompt": "logos"})
    on_oak = fixed.model_copy(update={"background": "warm oak table", "count": 2, "aspect": AspectRatio.SQUARE})
    async with ScriptedLLMServer() as llm:
        llm.enqueue(*[reply(b.model_dump_json()) for b in (drifted, fixed, on_oak, on_oak, on_oak)])
        async with demo_gateway(demo_engine, redis_url, fast_config(llm.base_url), operator_ctx.tenant_id) as harness:
            tools = bound(harness)
            request = "3 lifestyle shots on a marble counter, 4:5"
            used = await run_tool(tools["draft_photo_brief"], operator_ctx, {"sku": "SKU-1001", "request": request})
            white = await run_tool(
                tools["draft_photo_brief"], operator_ctx, {"sku": "SKU-1001", "request": "white background, 2 photos"}
            )
    assert used.engine == "llm" and used.model_dump(exclude={"sku", "engine"}) == fixed.model_dump()
    asked = llm.requests[0].messages
    assert request in asked[-1]["content"] and "Slub Cotton Crew Tee" in asked[-1]["content"]
    assert "#1F3B33" in asked[0]["content"], "the brand's colours reach the art director"
    reask = llm.requests[1].messages[-1]["content"]
    assert "the request asks for 3 images: set count to 3" in reask
    assert "the request asks for 4:5: set aspect to '4:5'" in reask
    assert "negative_prompt must include text, watermark" in reask
    assert white.engine == "deterministic" and (white.background, white.count) == ("seamless pure white", 2)
    assert "background must say 'white'" in llm.requests[3].messages[-1]["content"]


# --- tenant isolation -------------------------------------------------------------------------------


async def test_an_operator_cannot_reach_another_tenants_rows(operator_ctx: ToolContext, no_model: Harness) -> None:
    session = operator_ctx.session
    bravo: Shop = await make_shop(session, "bravo")
    other = TenantData(session, bravo.tenant_id)
    jane = await other.customers.by_email("jane@bravo.example.com")
    job = other.image_jobs.add(sku="SKU-1", brief={}, history=[], result={})
    draft = other.content_drafts.add(sku="SKU-1", payload={}, created_by="operator")
    await session.commit()
    tools = bound(no_model)

    refused = [
        ("customer_profile", {"customer": str(jane.id)}, "Unknown customer"),
        ("customer_profile", {"customer": jane.email}, "Unknown customer"),
        ("add_note", {"customer": str(jane.id), "text": "hello"}, "Unknown customer"),
        ("tag_customer", {"customer": str(jane.id), "add": ["vip"]}, "Unknown customer"),
        ("summarize_customer", {"customer": str(jane.id)}, "Unknown customer"),
        ("summarize_customer", {"customer": jane.email}, "Unknown customer"),
        ("next_best_action", {"customer": str(jane.id)}, "Unknown customer"),
        ("draft_followup", {"customer": str(jane.id), "purpose": "say hello"}, "Unknown customer"),
        ("seo_copy", {"sku": "SKU-1"}, "Unknown SKU 'SKU-1'"),
        ("request_photos", {"sku": "SKU-1", "scene": "on sand", "background": "sea"}, "Unknown SKU 'SKU-1'"),
        ("draft_photo_brief", {"sku": "SKU-1", "request": "studio shots on white"}, "Unknown SKU 'SKU-1'"),
        ("photo_job_status", {"job_id": str(job.id)}, "Unknown photo job"),
        ("decide_photo", {"job_id": str(job.id), "image": 1, "decision": "approve"}, "Unknown photo job"),
        ("approve_content", {"draft_id": str(draft.id)}, "Unknown content draft"),
        ("publish_content", {"draft_id": str(draft.id)}, "Unknown content draft"),
        ("reject_content", {"draft_id": str(draft.id), "reason": "no"}, "Unknown content draft"),
    ]
    for name, args, message in refused:
        with pytest.raises(ToolError, match=message):
            await run_tool(tools[name], operator_ctx, args)
    assert (await run_tool(tools["find_customers"], operator_ctx, {"query": "bravo"})).total == 0
    assert (await run_tool(tools["segment_customers"], operator_ctx, {"description": "all customers"})).count == 520
    await session.refresh(jane)
    assert jane.notes == [] and jane.tags == []
