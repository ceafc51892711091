"""Describe every tool once (models, audience, sensitivity) and run it with permissions checked at execution."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

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

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-tool definition the model sees: the description and the compact argument schema."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": arguments(self.input_model)},
        }


class CompactJsonSchema(GenerateJsonSchema):
    """JSON Schema as a model reads it, without what only costs tokens: no titles (the property name says it),
    an optional field as its plain type (not `anyOf` with null) and no `null` default. The tenant pays for every
    schema on every model call, so this roughly halves a turn's tool definitions; validation stays with the
    pydantic model, which still accepts null where it did."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        generated = super().default_schema(schema)
        if generated.get("default", ...) is None:
            del generated["default"]
        return generated

    def generate(self, schema: core_schema.CoreSchema, mode: Any = "validation") -> JsonSchemaValue:
        generated = super().generate(schema, mode=mode)
        generated.pop("title", None)
        for definition in generated.get("$defs", {}).values():
            definition.pop("title", None)
        return generated


@lru_cache(maxsize=256)
def arguments(input_model: type[BaseModel]) -> dict[str, Any]:
    """A tool's compact argument schema; generating one costs about a millisecond, so once per model class."""
    return input_model.model_json_schema(schema_generator=CompactJsonSchema)


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
