"""Every tool is declared once, from its function: the model reads its docstring, and a half-declared tool never loads."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field

from tools.context import EVERYONE, OPERATOR_ONLY, Audience, ToolContext
from tools.crm import CRM_TOOLS
from tools.engagement import ENGAGEMENT_TOOLS
from tools.order_actions import ORDER_ACTION_TOOLS
from tools.photography import PHOTO_TOOLS
from tools.registry import ToolSpec, tool
from tools.seo import SEO_TOOLS

ALL_TOOLS = [*ENGAGEMENT_TOOLS, *ORDER_ACTION_TOOLS, *CRM_TOOLS, *SEO_TOOLS, *PHOTO_TOOLS]


class Ping(BaseModel):
    text: str = Field(description="What to send back.")


class Pong(BaseModel):
    text: str


def subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema inside a JSON schema, itself included (property names and `$defs` names are not schemas)."""
    if isinstance(schema, list):
        for item in schema:
            yield from subschemas(item)
    elif isinstance(schema, dict):
        yield schema
        for key, value in schema.items():
            named = key in ("properties", "$defs") and isinstance(value, dict)
            yield from subschemas(list(value.values()) if named else value)


@pytest.mark.parametrize("spec", ALL_TOOLS, ids=lambda spec: spec.name)
def test_the_model_reads_the_tools_docstring(spec: ToolSpec) -> None:
    doc = inspect.getdoc(spec.fn)
    assert doc is not None
    # The same words in the same order: only where the source wraps the docstring is left out.
    assert spec.description.split() == doc.split()
    assert "\n" not in spec.description and spec.description == spec.description.strip()
    assert spec.name == spec.fn.__name__
    assert spec.schema()["function"]["description"] == spec.description


@pytest.mark.parametrize("spec", ALL_TOOLS, ids=lambda spec: spec.name)
def test_every_tool_schema_is_a_compact_object_with_every_argument_described(spec: ToolSpec) -> None:
    params = spec.schema()["function"]["parameters"]
    json.dumps(params, allow_nan=False)
    assert params["type"] == "object" and params["properties"]
    assert set(params.get("required", [])) <= params["properties"].keys()
    for name, prop in params["properties"].items():
        assert prop.get("description") or "$ref" in prop or "allOf" in prop, f"{spec.name}.{name} has no description"
    for node in subschemas(params):
        if "$ref" in node:
            assert node["$ref"].removeprefix("#/$defs/") in params.get("$defs", {}), f"{spec.name}: {node}"
        # Compact: titles and nulls cost tokens on every model call and tell the model nothing.
        assert "title" not in node and node.get("type") != "null" and node.get("default", ...) is not None, node


def test_tool_names_are_unique_and_audiences_are_the_families() -> None:
    names = [spec.name for spec in ALL_TOOLS]
    assert len(names) == len(set(names)) == 29
    assert all(spec.audiences == EVERYONE for spec in [*ENGAGEMENT_TOOLS, *ORDER_ACTION_TOOLS])
    assert all(spec.audiences == OPERATOR_ONLY for spec in [*CRM_TOOLS, *SEO_TOOLS, *PHOTO_TOOLS])


async def test_a_declared_tool_is_still_called_like_its_function() -> None:
    @tool(audiences=[Audience.OPERATOR], sensitive=True, name="echo_back")
    async def echo(ctx: ToolContext, args: Ping) -> Pong:
        """Send the text back.

        Used by tests only."""
        return Pong(text=args.text)

    assert (echo.name, echo.input_model, echo.result_model) == ("echo_back", Ping, Pong)
    assert echo.audiences == OPERATOR_ONLY and echo.sensitive
    assert echo.description == "Send the text back.\n\nUsed by tests only."
    assert await echo(None, Ping(text="hi")) == Pong(text="hi")  # type: ignore[arg-type]


def test_a_tool_without_a_docstring_is_refused() -> None:
    with pytest.raises(TypeError, match="undocumented has no docstring"):

        @tool(audiences=EVERYONE)
        async def undocumented(ctx: ToolContext, args: Ping) -> Pong:
            return Pong(text=args.text)


def test_a_tool_without_an_argument_model_is_refused() -> None:
    with pytest.raises(TypeError, match="annotate its `args` parameter with a pydantic model"):

        @tool(audiences=EVERYONE)
        async def loose(ctx: ToolContext, args: dict[str, str]) -> Pong:
            """Send the text back."""
            return Pong(text=args["text"])

    with pytest.raises(TypeError, match=r"must take `\(ctx, args\)` first"):

        @tool(audiences=EVERYONE)
        async def misnamed(ctx: ToolContext, ping: Ping) -> Pong:
            """Send the text back."""
            return Pong(text=ping.text)


def test_a_tool_without_a_result_model_is_refused() -> None:
    with pytest.raises(TypeError, match="annotate its return with a pydantic model"):

        @tool(audiences=EVERYONE)
        async def unannotated(ctx: ToolContext, args: Ping):  # type: ignore[no-untyped-def]
            """Send the text back."""
            return Pong(text=args.text)

    with pytest.raises(TypeError, match="must be an `async def`"):

        @tool(audiences=EVERYONE)
        def blocking(ctx: ToolContext, args: Ping) -> Pong:  # type: ignore[arg-type]
            """Send the text back."""
            return Pong(text=args.text)
