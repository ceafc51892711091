"""Give operator tools what ToolContext does not carry: the model gateway for this call, and who is acting."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache, partial
from typing import Any

from hub.audit import events
from hub.db import models as m
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from tools.context import ToolContext
from tools.registry import ToolSpec


@lru_cache(maxsize=512)
def needs_model(spec: ToolSpec) -> bool:
    """Tell whether the tool's function still takes the keyword-only `gateway` and `call` arguments."""
    gateway = inspect.signature(spec.fn).parameters.get("gateway")
    # Once bound with functools.partial the parameter is still listed, with the bound value as its default.
    return gateway is not None and gateway.default is inspect.Parameter.empty


def bind_model(specs: Sequence[ToolSpec], *, gateway: Gateway, call: CallContext) -> list[ToolSpec]:
    """Return the specs with `gateway` and `call` bound into every model-backed tool; the others are unchanged.

    Bind per turn: `call` carries the turn's request and trace ids, so usage rows and the audit trail of
    a tool's model call join the conversation that asked for it.
    """
    return [replace(s, fn=partial(s.fn, gateway=gateway, call=call)) if needs_model(s) else s for s in specs]


def check_call(ctx: ToolContext, call: CallContext) -> None:
    """Refuse a call context bound for another tenant: a wiring bug, never something the model can fix."""
    if call.tenant_id != ctx.tenant_id:
        raise ValueError(f"call context is for tenant {call.tenant_id}, the tool runs for tenant {ctx.tenant_id}")


async def operator(ctx: ToolContext) -> m.Operator | None:
    """Return the operator the conversation is signed in as, if the context names one of this tenant's."""
    return await ctx.data.operators.get(ctx.operator_id) if ctx.operator_id is not None else None


async def actor(ctx: ToolContext) -> str:
    """Name who acts, as the audit trail spells it: `operator:<email>`, or `operator` when no operator is known."""
    op = await operator(ctx)
    return f"operator:{op.email}" if op is not None else "operator"


async def record(
    ctx: ToolContext,
    action: str,
    subject: str,
    data: dict[str, Any] | None = None,
    *,
    by: str | None = None,
    trace_id: str | None = None,
) -> None:
    """Append an audit event for a write a tool made, in the tool's transaction; `trace_id` ties it to a model call."""
    await events.record(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=by or await actor(ctx),
        action=action,
        subject=subject,
        trace_id=trace_id,
        data=data,
    )
