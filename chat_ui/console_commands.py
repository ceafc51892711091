"""The operator console's own commands, which work with or without a model: /cost, /prompts, /handoffs, /feedback, /quality,
/explain, /rate (rate and correct a reply), /status, /switch (the shop's own kill switches), and /requests, /approve
and /deny (the queue of returns, cancellations and address changes).

Each returns an `Answer` (markdown, and a chart for /cost) computed from the tenant's own rows; the Chainlit
console renders it, and anything else (a CLI, a test) can too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import desc, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat_ui.handoff_news import HANDOFF_EVENT, handovers
from hub.audit.explain import ExplainError
from hub.audit.explain import explain as audit_explain
from hub.db import models as m
from hub.db.models import RequestKind, RequestStatus
from hub.feedback import RATINGS, assistant_message, rate
from hub.gateway.switches import SwitchError, announce, check_feature, switch_off, switch_on, switchable_features
from hub.order_requests import RequestError, RequestNotFound, decide, list_requests
from hub.prompting.outputs import Intent
from hub.prompting.registry import PromptRegistry
from hub.quality import quality_trend
from hub.settings import Settings
from hub.shop_events.delivery import deliver_soon
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
REQUESTS_SHOWN = 50
QUEUE_WORDS = {
    "returns": RequestKind.RETURN,
    "return": RequestKind.RETURN,
    "cancellations": RequestKind.CANCELLATION,
    "cancellation": RequestKind.CANCELLATION,
    "addresses": RequestKind.ADDRESS_CHANGE,
    "address": RequestKind.ADDRESS_CHANGE,
    "address-changes": RequestKind.ADDRESS_CHANGE,
}
"""What `/requests` takes to show one queue."""
STATUS_WORDS = {
    "requested": RequestStatus.REQUESTED,
    "approved": RequestStatus.APPROVED,
    "denied": RequestStatus.DENIED,
}


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
    if kind == HANDOFF_EVENT:
        conversation = event.get("conversation_id")
        why = str(event.get("reason") or "asked for a person").replace("_", " ")
        summary = _cell(str(event.get("summary") or ""), 300)
        return JobNote(
            f"**A {event.get('channel')} shopper is waiting for a person** ({why}, {event.get('reference')})"
            + (f": {summary}" if summary else "")
            + f". Take it with `/takeover {conversation}`."
        )
    return None


def _cell(text: str, limit: int) -> str:
    """Text fit for one cell of a markdown table."""
    flat = " ".join(text.replace("|", "/").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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
    """Conversations waiting for a person, oldest first: why they were handed over, the summary the assistant wrote
    for the team, and the customer's last words."""
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
    why = await handovers(session, tenant_id, [c.id for c in rows])
    lines = [
        "| conversation | channel | waiting since | reason | summary | last customer message |",
        "|---|---|---|---|---|---|",
    ]
    for conversation in rows:
        last = (
            await session.execute(
                select(m.Message.content)
                .where(m.Message.conversation_id == conversation.id, m.Message.role == "customer")
                .order_by(desc(m.Message.created_at))
                .limit(1)
            )
        ).scalar_one_or_none()
        handover = why.get(conversation.id)
        reason = (handover.reason or "–").replace("_", " ") if handover else "taken over"
        summary = _cell(handover.summary or "–", 300) if handover else "–"
        lines.append(
            f"| {conversation.id} | {conversation.channel} | {conversation.updated_at:%Y-%m-%d %H:%M} | {reason} | "
            f"{summary} | {_cell(last or '', 80)} |"
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


def _score(value: float | None, n: int) -> str:
    return "–" if value is None else f"{value:.2f} ({n})"


async def quality(session: AsyncSession, tenant_id: uuid.UUID, *, days: int = 7) -> Answer:
    """How a judge graded a sample of this shop's replies (`HUB_EVAL_SAMPLE_PERCENT`), per use case and language:
    the last week against the one before, so a drop shows between eval runs."""
    trends = await quality_trend(session, tenant_id, days=days)
    if not trends:
        return Answer(
            "No sampled replies graded yet: set `HUB_EVAL_SAMPLE_PERCENT` (with a model configured) to have a judge "
            "grade a share of replies in the background."
        )
    lines = [
        f"| use case | language | last {days} days (n) | {days} days before (n) | trend | grounded |",
        "|---|---|---:|---:|---|---:|",
    ]
    for t in trends:
        trend = "–"
        if t.recent is not None and t.before is not None:
            delta = t.recent - t.before
            trend = "▲" if delta > 0.02 else "▼" if delta < -0.02 else "="
        grounded = "–" if t.grounded is None else f"{t.grounded:.0%}"
        lines.append(
            f"| {t.use_case} | {t.language} | {_score(t.recent, t.recent_n)} | {_score(t.before, t.before_n)} "
            f"| {trend} | {grounded} |"
        )
    return Answer("Judged replies (score 0–1, from the `reply_judge` prompt):\n\n" + "\n".join(lines))


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


RATE_USAGE = (
    "`/rate MESSAGE_ID up|down [correction]`: rate a reply (its id is under each reply and in `/explain`), and say "
    "what it should have said; a corrected reply can become a golden eval case (`hub eval candidates`)."
)


async def rate_reply(session: AsyncSession, tenant_id: uuid.UUID, args: str, *, by: str) -> Answer:
    """`/rate MESSAGE_ID up|down [correction]`: rate one of the shop's assistant replies as `by`, and commit.

    An operator's newer rating of the same reply replaces the older one."""
    ref, _, rest = args.strip().partition(" ")
    verdict, _, correction = rest.strip().partition(" ")
    try:
        wanted = uuid.UUID(ref)
    except ValueError:
        return Answer(RATE_USAGE)
    if verdict.casefold() not in RATINGS:
        return Answer(RATE_USAGE)
    message = await assistant_message(session, tenant_id, wanted)
    if message is None:
        return Answer(f"No reply {wanted} in this shop.")
    await rate(
        session,
        message,
        source=m.FeedbackSource.OPERATOR,
        rating=RATINGS[verdict.casefold()],
        by=by,
        correction=correction.strip() or None,
    )
    await session.commit()
    said = "up" if RATINGS[verdict.casefold()] > 0 else "down"
    corrected = " with your correction: it is now a candidate golden case" if correction.strip() else ""
    return Answer(f"Rated reply {wanted} {said}{corrected}.")


async def status(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    redis: aioredis.Redis,
    settings: Settings,
    prompts: PromptRegistry,
    jobs: JobQueue | None = None,
    golden: Mapping[str, str] | None = None,
) -> Answer:
    """This shop's kill switches and budgets against spend, the model circuits, the job queues, and which of the
    prompt × model pairs serving it have no current eval run (`golden`: each use case's golden set's sha256); no
    other shop."""
    return Answer(
        status_markdown(
            await platform_status(session, redis, settings, tenant_id, prompts=prompts, jobs=jobs, golden=golden)
        )
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
    if st.evals:
        missing = [c for c in st.evals if not c.current]
        if missing:
            lines += [
                "",
                f"**Not evaluated on the model in use** ({len(missing)} of {len(st.evals)} prompt × model pairs; "
                "`hub eval run --stale` runs them):",
                "",
                "| use case | prompt | model |",
                "|---|---|---|",
            ]
            lines += [f"| {c.use_case} | {c.prompt_version} | {c.model} |" for c in missing]
        else:
            lines += ["", f"**Evals:** all {len(st.evals)} prompt × model pairs in use have a current run."]
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


REQUESTS_USAGE = (
    "Say `/requests [returns|cancellations|addresses] [requested|approved|denied]` (the open queue by default), "
    "then `/approve REF [note]` or `/deny REF [note]`."
)


async def requests(session: AsyncSession, tenant_id: uuid.UUID, args: str, *, now: datetime | None = None) -> Answer:
    """The queue of returns, cancellations and address changes: the open ones oldest first, or those decided."""
    kind: RequestKind | None = None
    wanted = RequestStatus.REQUESTED
    for word in args.lower().split():
        if word in QUEUE_WORDS:
            kind = QUEUE_WORDS[word]
        elif word in STATUS_WORDS:
            wanted = STATUS_WORDS[word]
        else:
            return Answer(f"Unknown word {word!r}. {REQUESTS_USAGE}")
    rows = await list_requests(session, tenant_id, kind=kind, status=wanted, limit=REQUESTS_SHOWN)
    what = f"{kind.value.replace('_', ' ')} requests" if kind else "requests"
    if not rows:
        return Answer(f"No {wanted} {what}.")
    now = now or datetime.now(UTC)
    decided = wanted is not RequestStatus.REQUESTED
    columns = ["reference", "kind", "order", "items", "reason", "requested at"]
    columns += ["decided by", "note"] if decided else ["waiting"]
    lines = [f"**{len(rows)} {wanted} {what}**", "", f"| {' | '.join(columns)} |", "|" + "---|" * len(columns)]
    for r in rows:
        asked = r.requested_at
        when = f"{asked:%Y-%m-%d %H:%M}" if asked else "–"
        tail = (
            f"{_cell(r.decided_by or '–', 60)} | {_cell(r.note or '–', 120)} |"
            if decided
            else f"{_waited(now - asked) if asked else '–'} |"
        )
        lines.append(
            f"| {r.reference} | {r.kind.replace('_', ' ')} | {r.order_number} | {_cell(_asked_for(r), 120)} | "
            f"{_cell(_why(r), 120)} | {when} | {tail}"
        )
    if not decided:
        lines += ["", "Decide with `/approve REF [note]` or `/deny REF [note]`."]
    return Answer("\n".join(lines))


def _asked_for(r: m.OrderRequest) -> str:
    if r.kind == RequestKind.ADDRESS_CHANGE:
        parts = [str(v) for v in (r.address or {}).values() if v and isinstance(v, str | int)]
        return f"to {', '.join(parts)}" if parts else "–"
    items = [f"{i.get('quantity', 1)}× {i.get('title') or i.get('sku')}" for i in r.items or []]
    return ", ".join(items) or "whole order"


def _why(r: m.OrderRequest) -> str:
    reason = (r.reason or "").replace("_", " ")
    return " · ".join(p for p in (reason, r.details or "") if p) or "–"


def _waited(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


async def decide_request(
    session: AsyncSession, tenant_id: uuid.UUID, args: str, *, approve: bool, by: str, jobs: JobQueue | None = None
) -> Answer:
    """`/approve REF [note]` or `/deny REF [note]`: decide an open request as `by`, commit, and ask a worker to tell
    the shop's systems now (without `jobs` the sweeper does, a little later)."""
    ref, _, note = args.strip().partition(" ")
    verb = "approve" if approve else "deny"
    if not ref:
        return Answer(f"`/{verb}` needs a request's reference from `/requests`, like `/{verb} RMA-7KQ2M4XD`.")
    try:
        decided = await decide(session, tenant_id, ref, approve=approve, by=by, note=note.strip() or None)
    except (RequestNotFound, RequestError) as exc:
        await session.rollback()
        return Answer(f"Cannot do that: {exc}.")
    request, order = decided.request, decided.order
    await session.commit()
    await deliver_soon(jobs, tenant_id, [decided.event_id])
    return Answer(
        f"{'Approved' if approve else 'Denied'} {request.reference} ({request.kind.replace('_', ' ')} on order "
        f"{order.number}); the order is now `{order.status}` and the shop's systems are told."
    )
