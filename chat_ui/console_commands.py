"""The operator console's own commands, which work with or without a model: /cost, /prompts, /handoffs, /feedback,
/explain, /status and /switch (the shop's own kill switches).

Each returns an `Answer` (markdown, and a chart for /cost) computed from the tenant's own rows; the Chainlit
console renders it, and anything else (a CLI, a test) can too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import desc, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.explain import ExplainError
from hub.audit.explain import explain as audit_explain
from hub.db import models as m
from hub.gateway.switches import SwitchError, announce, check_feature, switch_off, switch_on, switchable_features
from hub.prompting.outputs import Intent
from hub.prompting.registry import PromptRegistry
from hub.settings import Settings
from hub.status import PlatformStatus, platform_status
from hub.tenancy.config import TenantConfig
from hub.text import format_usd_limit
from hub.usage.report import build_report, cost_chart, format_cost

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from matplotlib.figure import Figure

    from hub.jobs import JobQueue

PERIODS = {"day": 1, "week": 7, "month": 30}
HANDOFFS_SHOWN = 20
FEEDBACK_SHOWN = 20


@dataclass
class Answer:
    markdown: str
    figure: Figure | None = None


@dataclass
class JobNote:
    """A background job's news for the operator's console: text, and images to show inline (media paths)."""

    markdown: str
    images: list[str] = field(default_factory=list)


def job_event(event: dict[str, Any]) -> JobNote | None:
    """What an operator should see of a job event published on the tenant's channel; None for the chatter."""
    kind = event.get("kind")
    if kind == "seo_bulk.finished":
        failed = event.get("failed") or []
        text = f"**Bulk SEO for {event.get('category')} finished:** {event.get('drafted', 0)} drafts to review"
        if event.get("deterministic"):
            text += f" ({event['deterministic']} written without a model)"
        if failed:
            text += f"; {len(failed)} failed: {', '.join(str(f) for f in failed[:10])}"
        return JobNote(text + ".")
    if kind == "photos.finished":
        job, state = event.get("job_id"), event.get("state")
        images = [str(p) for p in event.get("images") or []]
        if state == "failed":
            return JobNote(f"**Photo job {job} for {event.get('sku')} failed:** {event.get('error')}")
        how = "from the studio compositor" if state == "fallback" else "generated"
        scores = ", ".join(f"{s:.2f}" for s in event.get("scores") or [])
        return JobNote(
            f"**Photo job {job} for {event.get('sku')} is ready:** {len(images)} images {how}"
            + (f", scores {scores}" if scores else "")
            + f". Approve with `/approve-photo {job} 1` or reject with `/reject-photo {job} 1 reason`.",
            images,
        )
    return None


async def cost(session: AsyncSession, tenant_id: uuid.UUID, period: str = "week") -> Answer:
    """Model spend for the last day, week or month: totals, by feature, by model, and a cost-per-day chart."""
    days = PERIODS.get(period.strip().lower() or "week")
    if days is None:
        return Answer(f"Say `/cost day`, `/cost week` or `/cost month` (not {period!r}).")
    end = datetime.now(UTC).date()
    report = await build_report(session, tenant_id, end - timedelta(days=days - 1), end)
    t = report.totals
    lines = [
        f"**AI cost, {report.start} to {report.end}: {format_cost(t.cost)}** "
        f"({t.calls} requests, {t.attempts} model attempts, {t.fallbacks} fallbacks, "
        f"{t.input_tokens + t.output_tokens} tokens)",
    ]
    if report.features:
        lines += ["", "| feature | calls | cost |", "|---|---:|---:|"]
        lines += [f"| {f.feature} | {f.calls} | {format_cost(f.cost)} |" for f in report.features]
    else:
        lines.append("No model calls in this period.")
    if live := [str(d) for d in report.live_days]:
        lines.append(f"_Not rolled up yet, computed live from the ledger: {', '.join(live)}._")
    return Answer("\n".join(lines), cost_chart(report) if report.features else None)


async def prompts(session: AsyncSession, tenant_id: uuid.UUID, registry: PromptRegistry) -> Answer:
    """Each use case's version in use for this shop (its pin or the default), the newest version, the last eval."""
    tenant = await session.get(m.Tenant, tenant_id)
    pins = TenantConfig.model_validate(tenant.settings if tenant else {}).prompt_pins
    lines = ["| use case | in use | newest | last eval for this shop |", "|---|---|---|---|"]
    for use_case in registry.use_cases():
        in_use = registry.resolve(use_case, pins).version
        newest = registry.versions(use_case)[-1]
        run = (
            await session.execute(
                select(m.EvalRun)
                .where(m.EvalRun.use_case == use_case, m.EvalRun.tenant_id == tenant_id)
                .order_by(desc(m.EvalRun.finished_at))
                .limit(1)
            )
        ).scalar_one_or_none()
        last = f"{run.prompt_version} {'pass' if run.passed else 'FAIL'} ({run.finished_at:%Y-%m-%d})" if run else "–"
        source = "pinned" if use_case in pins else "default"
        lines.append(f"| {use_case} | {in_use} ({source}) | {newest} | {last} |")
    return Answer("\n".join(lines))


async def handoffs(session: AsyncSession, tenant_id: uuid.UUID) -> Answer:
    """Conversations waiting for a person, oldest first, with the customer's last words."""
    rows = (
        (
            await session.execute(
                select(m.Conversation)
                .where(m.Conversation.tenant_id == tenant_id, m.Conversation.status == m.ConversationStatus.HUMAN)
                .order_by(m.Conversation.updated_at)
                .limit(HANDOFFS_SHOWN)
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return Answer("No conversation is waiting for a person.")
    lines = ["| conversation | channel | waiting since | last customer message |", "|---|---|---|---|"]
    for conversation in rows:
        last = (
            await session.execute(
                select(m.Message.content)
                .where(m.Message.conversation_id == conversation.id, m.Message.role == "customer")
                .order_by(desc(m.Message.created_at))
                .limit(1)
            )
        ).scalar_one_or_none()
        text = (last or "").replace("|", "/").replace("\n", " ")[:80]
        lines.append(
            f"| {conversation.id} | {conversation.channel} | {conversation.updated_at:%Y-%m-%d %H:%M} | {text} |"
        )
    return Answer("\n".join(lines))


async def feedback(session: AsyncSession, tenant_id: uuid.UUID) -> Answer:
    """What shoppers told the shop about itself (messages read as feedback), newest first: what the assistant says it
    passed on to the team."""
    rows = (
        await session.execute(
            select(m.Message.created_at, m.Conversation.channel, m.Message.conversation_id, m.Message.content)
            .join(m.Conversation, m.Conversation.id == m.Message.conversation_id)
            .where(
                m.Message.tenant_id == tenant_id,
                m.Message.role == "customer",
                m.Message.intent == Intent.FEEDBACK.value,
            )
            .order_by(desc(m.Message.created_at))
            .limit(FEEDBACK_SHOWN)
        )
    ).all()
    if not rows:
        return Answer("No feedback from shoppers yet.")
    lines = ["| when | channel | conversation | feedback |", "|---|---|---|---|"]
    for when, channel, conversation_id, content in rows:
        text = content.replace("|", "/").replace("\n", " ")[:200]
        lines.append(f"| {when:%Y-%m-%d %H:%M} | {channel} | {conversation_id} | {text} |")
    return Answer("\n".join(lines))


async def explain(session: AsyncSession, tenant_id: uuid.UUID, message_id: str) -> Answer:
    """Why one answer was given, from its stored trace: prompt, models, attempts, tools, validation, fallback."""
    try:
        wanted = uuid.UUID(message_id.strip())
    except ValueError:
        return Answer(f"`/explain` needs a message id, like `/explain {uuid.uuid4()}`.")
    try:
        explanation = await audit_explain(session, wanted, tenant_id=tenant_id)
    except ExplainError as exc:
        return Answer(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
    return Answer(explanation.markdown())


async def status(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    redis: aioredis.Redis,
    settings: Settings,
    prompts: PromptRegistry,
    jobs: JobQueue | None = None,
) -> Answer:
    """This shop's kill switches and budgets against spend, the model circuits and the job queues; no other shop."""
    return Answer(
        status_markdown(await platform_status(session, redis, settings, tenant_id, prompts=prompts, jobs=jobs))
    )


def status_markdown(st: PlatformStatus) -> str:
    lines = [f"**Status at {st.at:%Y-%m-%d %H:%M} UTC**", ""]
    shop = st.tenants[0] if st.tenants else None
    if shop is not None:
        if shop.switches:
            lines.append("**Switched off for this shop:**")
            lines += [
                f"- `{s.feature}` since {s.set_at:%Y-%m-%d %H:%M} UTC by {s.set_by}: {s.reason} "
                f"(`/switch on {s.feature}`)"
                for s in shop.switches
            ]
        else:
            lines.append("**AI switches:** every feature is on (`/switch off FEATURE reason` stops one).")
        if shop.ai_disabled:
            lines.append(f"Kept off AI by the shop's settings: {', '.join(shop.ai_disabled)}.")
        daily = f"soft {format_usd_limit(shop.daily_soft)}, hard {format_usd_limit(shop.daily_hard)}"
        monthly = f"soft {format_usd_limit(shop.monthly_soft)}, hard {format_usd_limit(shop.monthly_hard)}"
        lines += [
            "",
            f"**Budget** ({shop.budget.replace('_', ' ')}): today ${shop.spent_today:.4f}"
            f" ({daily}); this month ${shop.spent_month:.4f} ({monthly}).",
        ]
    lines.append("")
    if st.models:
        lines += ["| model | circuit | failures | reopens at | switch |", "|---|---|---:|---|---|"]
        for model in st.models:
            off = f"off for every shop: {model.switch.reason}" if model.switch else "on"
            reopens = f"{model.reopens_at:%H:%M:%S} UTC" if model.reopens_at else "–"
            failures = "–" if model.failures is None else str(model.failures)
            lines.append(f"| {model.model} | {model.circuit} | {failures} | {reopens} | {off} |")
    else:
        lines.append("No model is configured: the deterministic engine answers.")
    if st.queues is not None:
        lines += ["", "**Job queues:** " + ", ".join(f"{q.name} {q.unfinished} unfinished" for q in st.queues) + "."]
    if st.redis != "ok":
        lines += ["", "_Redis is unreachable: circuits and queues are unknown._"]
    return "\n".join(lines)


async def switch(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    args: str,
    *,
    redis: aioredis.Redis,
    prompts: PromptRegistry,
    by: str,
) -> Answer:
    """`/switch off FEATURE reason…` or `/switch on FEATURE`: flip this shop's kill switch, audited, and commit."""
    verb, _, rest = args.strip().partition(" ")
    feature, _, reason = rest.strip().partition(" ")
    known = switchable_features(prompts.use_cases())
    usage = (
        "Say `/switch off FEATURE reason…` or `/switch on FEATURE`; FEATURE is one of "
        + ", ".join(f"`{f}`" for f in known)
        + "."
    )
    if verb not in ("off", "on") or not feature:
        return Answer(usage)
    try:
        check_feature(feature, known)
        if verb == "off":
            flipped = await switch_off(session, tenant_id=tenant_id, feature=feature, reason=reason, by=by)
        else:
            flipped = await switch_on(session, tenant_id=tenant_id, feature=feature, reason=reason, by=by)
    except SwitchError as exc:
        await session.rollback()
        return Answer(f"Cannot do that: {exc}. {usage}")
    if flipped is None:
        return Answer(f"`{feature}` was not switched off; nothing changed.")
    await session.commit()
    await announce(redis)
    if verb == "off":
        return Answer(
            f"Switched off {flipped.scope} for this shop: the deterministic engine answers instead, in every process "
            f"within seconds. Turn it back on with `/switch on {feature}`."
        )
    return Answer(
        f"Switched {flipped.scope} back on for this shop (it was off since {flipped.set_at:%Y-%m-%d %H:%M} UTC)."
    )
