"""Declare every tool once, from its function (name, models, description), and run it with permissions checked."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from tools.context import Audience, PermissionDenied, ToolContext, ToolError

InputT = TypeVar("InputT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)
DepsP = ParamSpec("DepsP")


@dataclass(frozen=True)
class ToolSpec(Generic[InputT, ResultT]):
    """A tool as the registry knows it; `@tool` builds one from a function, so nothing here is written twice."""

    name: str
    description: str
    """Shown to the model: write it as prompt text."""
    input_model: type[InputT]
    result_model: type[ResultT]
    fn: Callable[..., Awaitable[ResultT]]
    audiences: frozenset[Audience]
    sensitive: bool = False
    """Writes or sends something: runs only after an operator confirms (the graph interrupts first)."""

    def __call__(self, ctx: ToolContext, args: InputT, /, **deps: Any) -> Awaitable[ResultT]:
        """Run the function as written, with no audience check and no validation: `run_tool` is the model's way in."""
        return self.fn(ctx, args, **deps)

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-tool definition the model sees: the description and the compact argument schema."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": arguments(self.input_model)},
        }


def tool(
    *, audiences: Iterable[Audience], sensitive: bool = False, name: str | None = None
) -> Callable[[Callable[Concatenate[ToolContext, InputT, DepsP], Awaitable[ResultT]]], ToolSpec[InputT, ResultT]]:
    """Declare a tool from its function alone, the way pydantic-ai and openai-agents do.

    The name is the function's (or `name`), the input model the annotation of its `args` parameter, the result model
    its return annotation, and the description the model reads is its docstring (see `description_of`). Only who may
    use it and whether it needs a confirmation are said here. The decorated name is the `ToolSpec`, which the family
    lists hold; calling it still runs the function, so tests and evals call a tool as before. A function that lacks
    a docstring, an annotated `args` model or a pydantic return model is refused with TypeError when it is defined.
    """
    allowed = frozenset(audiences)

    def declare(fn: Callable[Concatenate[ToolContext, InputT, DepsP], Awaitable[ResultT]]) -> ToolSpec[InputT, ResultT]:
        input_model, result_model = models_of(fn)
        return ToolSpec(
            name=name or fn.__name__,
            description=description_of(fn),
            # models_of returns the classes `args` and the return are annotated with, which InputT and ResultT are
            input_model=cast("type[InputT]", input_model),
            result_model=cast("type[ResultT]", result_model),
            fn=fn,
            audiences=allowed,
            sensitive=sensitive,
        )

    return declare


def description_of(fn: Callable[..., Any]) -> str:
    """Return the tool description `fn`'s docstring holds: cleaned by `inspect.cleandoc`, each paragraph on one line.

    The source wraps a docstring at the line length; the model should read the sentences, not where they wrap.
    """
    if not (fn.__doc__ or "").strip():
        raise TypeError(f"tool {fn.__qualname__} has no docstring: it is the description the model reads")
    paragraphs = re.split(r"\n\s*\n", inspect.cleandoc(fn.__doc__ or ""))
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def models_of(fn: Callable[..., Any]) -> tuple[type[BaseModel], type[BaseModel]]:
    """Return a tool function's input model (`args`' annotation) and result model (its return annotation)."""
    where = f"tool {fn.__qualname__}"
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"{where} must be an `async def`: run_tool awaits it")
    positional = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if positional[1:2] != ["args"]:
        raise TypeError(f"{where} must take `(ctx, args)` first, as run_tool calls it; it takes {positional}")
    try:
        hints = inspect.get_annotations(fn, eval_str=True)
    except NameError as exc:
        raise TypeError(f"{where} has an annotation that cannot be read: {exc}") from None
    found = []
    for key, label in (("args", "its `args` parameter"), ("return", "its return")):
        model = hints.get(key)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"{where}: annotate {label} with a pydantic model, not {model!r}")
        found.append(model)
    return found[0], found[1]


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
