"""Conversations survive a restart: the checkpointer keeps each (tenant, channel, customer) thread apart."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph

from graphs.checkpoint import open_checkpointer, thread_id
from hub.db.models import Channel


class Notes(TypedDict):
    notes: Annotated[list[str], operator.add]


def build() -> StateGraph:
    graph = StateGraph(Notes)
    graph.add_node("echo", lambda state: {})
    graph.add_edge(START, "echo")
    graph.add_edge("echo", END)
    return graph


async def test_threads_persist_across_reopen_and_stay_apart(database_url: str, tmp_path: Path) -> None:
    alice = {"configurable": {"thread_id": thread_id("tenant-a", Channel.WEB, "alice")}}
    other_tenant = {"configurable": {"thread_id": thread_id("tenant-b", Channel.WEB, "alice")}}
    async with open_checkpointer(database_url, tmp_path) as saver:
        app = build().compile(checkpointer=saver)
        await app.ainvoke({"notes": ["hello"]}, alice)
        await app.ainvoke({"notes": ["order A-10001"]}, alice)
        await app.ainvoke({"notes": ["bonjour"]}, other_tenant)
    async with open_checkpointer(database_url, tmp_path) as saver:  # a restarted process
        app = build().compile(checkpointer=saver)
        assert (await app.aget_state(alice)).values["notes"] == ["hello", "order A-10001"]
        assert (await app.aget_state(other_tenant)).values["notes"] == ["bonjour"]
