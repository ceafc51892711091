"""Describe every tool once (models, audience, sensitivity) and run it with permissions checked at execution."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from tools.context import Audience, PermissionDenied, ToolContext, ToolError

ToolFn = Callable[..., Awaitable[BaseModel]]
"""`async def fn(ctx: ToolContext, args: InputModel) -> ResultModel`."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    """Shown to the model: write it as prompt text."""
    input_model: type[BaseModel]
    result_model: type[BaseModel]
    fn: ToolFn
    audiences: frozenset[Audience]
    sensitive: bool = False
    """Writes or sends something: runs only after an operator confirms (the graph interrupts first)."""


async def run_tool(spec: ToolSpec, ctx: ToolContext, raw_args: dict[str, Any]) -> BaseModel:
    """Check the audience, validate the arguments, run the tool; bad arguments raise ToolError naming them."""
    if ctx.audience not in spec.audiences:
        raise PermissionDenied(f"tool {spec.name!r} is not available to {ctx.audience} conversations")
    try:
        args = spec.input_model.model_validate(raw_args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ToolError(f"invalid arguments for {spec.name!r}: {problems}") from None
    return await spec.fn(ctx, args)


def tools_for(specs: list[ToolSpec], audience: Audience) -> list[ToolSpec]:
    """The tools offered to a conversation; `run_tool` enforces the same rule again at execution."""
    return [spec for spec in specs if audience in spec.audiences]
