"""The operator console's own commands, which work with or without a model: /cost, /prompts, /handoffs, /explain.

Each returns an `Answer` (markdown, and a chart for /cost) computed from the tenant's own rows; the Chainlit
console renders it, and anything else (a CLI, a test) can too.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import desc, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from hub.prompting.registry import PromptRegistry
from hub.tenancy.config import TenantConfig
from hub.usage.report import build_report, cost_chart, format_cost

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PERIODS = {"day": 1, "week": 7, "month": 30}
HANDOFFS_SHOWN = 20


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
    if report.computed_at is None:
        lines.append("_Figures come from the daily rollup; today's calls appear after the next rollup._")
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


async def explain(session: AsyncSession, tenant_id: uuid.UUID, message_id: str) -> Answer:
    """What the audit knows about one answer: prompt, engine, models, tools and results, validation, rungs, cost."""
    try:
        wanted = uuid.UUID(message_id.strip())
    except ValueError:
        return Answer(f"`/explain` needs a message id, like `/explain {uuid.uuid4()}`.")
    message = await session.get(m.Message, wanted)
    if message is None or message.tenant_id != tenant_id:
        return Answer(f"No message {wanted} in this shop.")
    event = (
        await session.execute(
            select(m.AuditEvent).where(
                m.AuditEvent.tenant_id == tenant_id,
                m.AuditEvent.subject == str(wanted),
                m.AuditEvent.action.in_(("chat.turn", "chat.awaiting", "chat.loop_stopped")),
            )
        )
    ).scalar_one_or_none()
    if event is None:
        return Answer(f"Message {wanted} has no recorded turn (it may be a customer's message).")
    return Answer(timeline(message, event.data))


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeline(message: m.Message, data: dict[str, Any]) -> str:
    """Render a turn's audit data as steps an operator can follow."""
    lines = [f"**Why this answer** (message {message.id}, trace {message.trace_id})", ""]
    lines.append(f"1. Intent: `{data.get('intent')}`; prompt `{data.get('prompt')}`; engine **{data.get('engine')}**.")
    step = 2
    for rung in data.get("rungs", []):
        detail = f": {rung['detail']}" if rung.get("detail") else ""
        lines.append(f"{step}. Gateway {rung['step']}{' (' + rung['model'] + ')' if rung.get('model') else ''}{detail}")
        step += 1
    for call in [*data.get("abandoned_tools", []), *data.get("tools", [])]:
        outcome = _short(call.get("result")) if call["status"] == "ok" else call.get("detail")
        lines.append(f"{step}. Tool `{call['tool']}` {_short(call.get('args', {}), 80)} → {call['status']}: {outcome}")
        step += 1
    for problem in data.get("validation", []):
        lines.append(f"{step}. Validator rejected the model's draft: {problem}")
        step += 1
    if data.get("fallback_reason"):
        lines.append(f"{step}. Fell back to the deterministic answer: {data['fallback_reason']}")
        step += 1
    lines.append(f"{step}. Answered ({data.get('cost', '0')} USD): {message.content[:300]}")
    return "\n".join(lines)
