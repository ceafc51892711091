"""Make the conversation graph offer quick replies with its answer to chosen messages, for the surfaces' tests.

    said = offer_choices(monkeypatch, [QuickReply(id="yes", title="Yes")], when=lambda text: "return" in text)

The graph runs as it always does; its final state then also holds `quick_replies` (what the engine's flows put
there), for the turn runner to store and return. `said` collects the text of every turn the graph ran, so a test
sees what a tapped choice reached the turn as.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from langgraph.graph.state import CompiledStateGraph

from agents.engine import QuickReply


def offer_choices(
    monkeypatch: pytest.MonkeyPatch, choices: Sequence[QuickReply], *, when: Callable[[str], bool]
) -> list[str]:
    """Offer `choices` with the answer to every message `when` accepts; return the texts the graph ran on."""
    said: list[str] = []
    original = CompiledStateGraph.ainvoke

    async def ainvoke(self: CompiledStateGraph[Any, Any, Any, Any], graph_input: Any, *args: Any, **kwargs: Any) -> Any:
        output = await original(self, graph_input, *args, **kwargs)
        text = graph_input.get("text") if isinstance(graph_input, dict) else None
        if isinstance(text, str):
            said.append(text)
            if when(text) and isinstance(output, dict):
                output = {**output, "quick_replies": [c.model_dump() for c in choices]}
        return output

    monkeypatch.setattr(CompiledStateGraph, "ainvoke", ainvoke)
    return said
