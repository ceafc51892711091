"""Production feedback grows the golden sets: a shopper rates a widget reply down, an operator corrects it in the
console, `hub eval candidates` lists it with its tool outputs (personal data masked) and `hub eval adopt` makes it a
golden case; ratings stay inside their session and shop; WhatsApp offers a rating once a conversation is resolved."""

# ruff: noqa: F811 — tests take the fixtures imported from the channel's main tests as arguments

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from chat_ui import console_commands as cc
from chat_ui.chrome import RATING_TEXT
from evals.cases import golden_path, load_cases
from hub.db import models as m
from hub.db.engine import session_factory
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from service.cli.main import app as hub
from tests.conftest import Shop
from tests.service.test_whatsapp import (  # noqa: F401 — its fixtures, shared
    Channel,
    _value,
    channel,
    graph,
    inbound,
    wa_settings,
)

pytestmark = pytest.mark.timeout(60)

CORRECTION = "Order {number} is being packed and ships within two working days; we'll email you the tracking link."


async def _say(api: httpx.AsyncClient, key: str, session_id: str, text: str) -> dict[str, Any]:
    r = await api.post("/v1/chat", json={"session_id": session_id, "message": text}, headers={"X-Hub-Key": key})
    assert r.status_code == 200, r.text
    return r.json()


async def _rate(api: httpx.AsyncClient, key: str, session_id: str, message_id: str, rating: str) -> httpx.Response:
    body = {"session_id": session_id, "message_id": message_id, "rating": rating, "comment": "not what I asked"}
    return await api.post("/v1/chat/feedback", json=body, headers={"X-Hub-Key": key})


def _hub(*args: str) -> Any:
    """Run `hub …` in a thread: the command runs its own event loop."""
    return asyncio.to_thread(CliRunner().invoke, hub, list(args))


async def test_a_low_rated_widget_reply_becomes_a_golden_case(
    api: httpx.AsyncClient, engine: AsyncEngine, demo: DemoCredentials, cli_settings: Settings, tmp_path: Path
) -> None:
    key = demo.storefront_key
    asked = f"where is my order {demo.sample_order_id}? my email is {demo.sample_order_email}"
    out = await _say(api, key, "fb-1", asked)
    assert out["tools"], out

    first = await _rate(api, key, "fb-1", out["message_id"], "down")
    again = await _rate(api, key, "fb-1", out["message_id"], "up")
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == {"message_id": out["message_id"], "rating": "down", "recorded": True}
    assert again.json() == {"message_id": out["message_id"], "rating": "down", "recorded": False}, "rated once"

    plain = await _say(api, key, "fb-1", "hello")  # rated down, never corrected: not adoptable
    assert (await _rate(api, key, "fb-1", plain["message_id"], "down")).status_code == 200

    tenant_id = uuid.UUID(demo.tenant_id)
    correction = CORRECTION.format(number=demo.sample_order_id)
    async with session_factory(engine)() as session:
        answer = await cc.rate_reply(
            session, tenant_id, f"{out['message_id']} down {correction}", by=f"operator:{demo.operator_email}"
        )
        assert "Rated reply" in answer.markdown and "candidate" in answer.markdown
        usage = await cc.rate_reply(session, tenant_id, "nonsense", by="operator:x")
        assert usage.markdown.startswith("`/rate MESSAGE_ID")
        foreign = await cc.rate_reply(session, uuid.uuid4(), f"{out['message_id']} up", by="operator:x")
        assert foreign.markdown.startswith("No reply"), "another shop's reply cannot be rated"
        rows = (
            await session.execute(
                select(m.ReplyFeedback).where(m.ReplyFeedback.message_id == uuid.UUID(out["message_id"]))
            )
        ).scalars()
        by_source = {r.source: r for r in rows}
    assert by_source["shopper"].rating == by_source["operator"].rating == -1
    assert by_source["operator"].correction == correction and by_source["operator"].by.endswith(demo.operator_email)

    listed = await _hub("eval", "candidates", "--use-case", "customer_reply", "--tenant", demo.tenant_id, "--json")
    assert listed.exit_code == 0, listed.output
    found = {c["message_id"]: c for c in map(json.loads, listed.stdout.splitlines())}
    assert set(found) == {out["message_id"], plain["message_id"]}
    candidate = found[out["message_id"]]
    assert candidate["correction"] == correction and candidate["intent"] == out["intent"]
    assert candidate["language"] == "en" and candidate["tools"][0]["tool"] == out["tools"][0]
    assert candidate["tools"][0]["status"] == "ok" and candidate["tools"][0]["result"], "the tool's recorded output"
    assert demo.sample_order_email not in listed.stdout and demo.operator_email not in listed.stdout
    assert "[email]" in candidate["shopper_message"]

    golden = tmp_path / "golden"
    golden.mkdir()
    shutil.copy(golden_path("customer_reply"), golden / "customer_reply.jsonl")
    before = load_cases("customer_reply", golden / "customer_reply.jsonl")
    refused = await _hub("eval", "adopt", plain["message_id"], "--golden-dir", str(golden))
    assert refused.exit_code == 1 and "has no correction" in refused.output

    adopted = await _hub("eval", "adopt", out["message_id"][:13], "--golden-dir", str(golden))
    assert adopted.exit_code == 0, adopted.output
    after = load_cases("customer_reply", golden / "customer_reply.jsonl")
    assert len(after) == len(before) + 1
    case = after[-1]
    assert case.id == f"reply-{len(before) + 1:03d}" and case.source == "production"
    assert case.source_message == out["message_id"] and case.expect.reference == correction
    assert case.expect.intent == out["intent"] and case.expect.tools == out["tools"]
    assert case.input["message"].startswith(f"where is my order {demo.sample_order_id}")
    written = (golden / "customer_reply.jsonl").read_text().splitlines()[-1]
    assert demo.sample_order_email not in written and '"source": "production"' in written

    twice = await _hub("eval", "adopt", out["message_id"], "--golden-dir", str(golden))
    assert twice.exit_code == 1 and "adopted before" in twice.output
    assert len(load_cases("customer_reply", golden / "customer_reply.jsonl")) == len(after)


async def test_a_rating_names_a_reply_of_its_own_session_and_shop(
    api: httpx.AsyncClient, demo: DemoCredentials, shops: tuple[Shop, Shop]
) -> None:
    key = demo.storefront_key
    out = await _say(api, key, "fb-own", "hello")
    other = await _say(api, key, "fb-other", "hello")
    alpha, _ = shops
    assert (await _rate(api, key, "fb-other", out["message_id"], "down")).status_code == 404, "another session's"
    assert (await _rate(api, key, "fb-nobody", out["message_id"], "down")).status_code == 404, "no conversation"
    assert (await _rate(api, alpha.storefront_key, "fb-own", out["message_id"], "down")).status_code == 404
    assert (await _rate(api, key, "fb-own", str(uuid.uuid4()), "up")).status_code == 404
    assert (await _rate(api, key, "fb-own", out["message_id"], "meh")).status_code == 422
    assert (await _rate(api, key, "fb-own", "not-an-id", "up")).status_code == 422
    assert (await _rate(api, key, "fb-other", other["message_id"], "up")).json()["recorded"] is True
    shopper_said = await api.get(
        "/v1/chat/messages", params={"session_id": "fb-own"}, headers={"X-Hub-Key": key}
    )  # the shopper's own message is no reply to rate
    assert shopper_said.status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_whatsapp_offers_a_rating_after_a_resolved_conversation_and_records_the_tap(channel: Channel) -> None:
    await channel.say("hello")
    await channel.say("thanks")
    assert channel.graph.sends[-1].body["type"] == "text", "nothing resolved yet: no rating offered"

    await channel.say("any hoodies under $80?")
    answered = [r for r in await channel.messages() if r.role == "assistant"][-1]
    await channel.say("thanks, bye")
    offer = channel.graph.sends[-1].body
    assert offer["type"] == "interactive"
    buttons = [b["reply"] for b in offer["interactive"]["action"]["buttons"]]
    helpful, not_helpful, thanks = RATING_TEXT["en"]
    assert [b["title"] for b in buttons] == [helpful, not_helpful]
    assert buttons[1]["id"] == f"rate:down:{answered.id}"

    turns_before = len(await channel.messages())
    tap = inbound(channel.demo, "interactive_button_reply")
    _value(tap)["messages"][0]["interactive"]["button_reply"] = buttons[1]
    await channel.deliver(tap)
    await channel.settled()
    thanked = channel.graph.sends[-1].body
    assert thanked["type"] == "text" and thanked["text"]["body"] == thanks
    stored = await channel.messages()
    assert len(stored) == turns_before + 2 and stored[-2].content == not_helpful, "no turn ran for the tap"
    async with channel.sessions() as session:
        [rating] = (await session.execute(select(m.ReplyFeedback))).scalars()
    assert (rating.message_id, rating.source, rating.rating) == (answered.id, "shopper", -1)

    await channel.say("thanks")  # rated already: not asked again
    assert channel.graph.sends[-1].body["type"] == "text"
