"""Grade production replies in the background: the job behind `hub.quality.maybe_judge`.

The judge is the `reply_judge` prompt, the same grader `hub eval run` uses on golden cases (`grade_reply`), called
through the gateway as the tenant's `evals` feature: billed to the shop, budget-checked, in the ledger. It grades the
reply against the evidence its turn had, read back from the turn's audit event (its tool calls, the validators'
findings), and stores one `TurnJudgement` per reply (a rerun of the job grades nothing twice). Light imports only:
the channel worker runs it, also on a light install.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db import models as m
from hub.feedback import turn_evidence
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.jobs import JobQueue
from hub.prompting.outputs import ReplyJudge, Verdict
from hub.quality import JUDGE_TASK
from hub.tenancy.config import TenantConfig

JUDGE_FEATURE = "evals"
"""The usage feature every judge call is billed to, in evals and in production sampling alike."""
JUDGE_TIMEOUT_S = 120.0

log = structlog.get_logger(__name__)


async def grade_reply(
    gateway: Gateway, call: CallContext, message: str, reply: str, calls: list[dict[str, Any]], problems: list[str]
) -> tuple[ReplyJudge, bool]:
    """Have the judge grade `reply` to `message` against the turn's tool calls (`[{tool, result}]`); and whether a
    judge answered (when none could, the validators' `problems` decide, and the grade says nothing new)."""
    policies = [c["result"] for c in calls if c.get("tool") == "policy_answer" and c.get("result")]
    facts = [
        {"tool": c["tool"], "result": c["result"]}
        for c in calls
        if c.get("tool") != "policy_answer" and c.get("result")
    ]

    def by_rules(_: object) -> ReplyJudge:  # no judge answered: the validators' verdict
        return ReplyJudge(
            grounded=not problems,
            score=0.0 if problems else 1.0,
            issues=problems[:10],
            verdict=Verdict.FAIL if problems else Verdict.PASS,
        )

    result = await gateway.generate(
        call,
        use_case="reply_judge",
        variables={
            "policies": json.dumps(policies, ensure_ascii=False),
            "tool_results": json.dumps(facts, ensure_ascii=False),
            "history": "",
            "message": message,
            "reply": reply,
        },
        fallback=by_rules,
        feature=JUDGE_FEATURE,
    )
    return result.value, result.engine == "llm"


async def _evidence(session: AsyncSession, reply: m.Message) -> tuple[str, list[dict[str, Any]], list[str]] | None:
    """The shopper's message the reply answered, the turn's tool calls and the validators' findings."""
    asked, turn = await turn_evidence(session, reply)
    if asked is None or not turn:
        return None
    calls = [c for c in turn.get("tools", []) if c.get("status") == "ok"]
    return asked, calls, [str(p) for p in turn.get("validation", [])]


async def judge_turn(
    sessions: async_sessionmaker[AsyncSession], gateway: Gateway, tenant_id: uuid.UUID, message_id: uuid.UUID
) -> m.TurnJudgement | None:
    """Grade one shopper reply and store the grade; None when there is nothing to grade (gone, not a shopper's reply,
    graded already, or no judge could answer)."""
    async with sessions() as session:
        reply = await session.get(m.Message, message_id)
        tenant = await session.get(m.Tenant, tenant_id)
        if reply is None or tenant is None or reply.tenant_id != tenant_id or reply.role != "assistant":
            return None
        done = await session.scalar(select(m.TurnJudgement.id).where(m.TurnJudgement.message_id == message_id))
        evidence = await _evidence(session, reply)
        conversation = await session.get(m.Conversation, reply.conversation_id)
        await session.commit()  # nothing stays open while the judge thinks
    if done is not None or evidence is None or conversation is None:
        return None
    asked, calls, problems = evidence
    call = CallContext(tenant_id=tenant_id, tenant=TenantConfig.model_validate(tenant.settings))
    grade, judged = await grade_reply(gateway, call, asked, reply.content, calls, problems)
    if not judged:
        log.info("quality_sample_not_judged", tenant_id=str(tenant_id), message_id=str(message_id))
        return None
    row = m.TurnJudgement(
        tenant_id=tenant_id,
        message_id=message_id,
        use_case="customer_reply",
        prompt_version=reply.prompt_version,
        language=conversation.language,
        engine=reply.engine,
        score=grade.score,
        grounded=grade.grounded,
        issues=grade.issues,
    )
    async with sessions() as session:
        if await session.scalar(select(m.TurnJudgement.id).where(m.TurnJudgement.message_id == message_id)):
            return None  # a second run of the job got there first
        session.add(row)
        await session.commit()
    return row


def register_jobs(queue: JobQueue) -> None:
    """Register the job that grades one sampled production reply."""

    @queue.task(JUDGE_TASK, timeout_s=JUDGE_TIMEOUT_S)
    async def judge_sampled_turn(tenant_id: str, message_id: str) -> dict[str, Any]:
        res = queue.resources
        row = await judge_turn(res.sessions, res.gateway, uuid.UUID(tenant_id), uuid.UUID(message_id))
        return {"graded": row is not None, "score": None if row is None else row.score}
