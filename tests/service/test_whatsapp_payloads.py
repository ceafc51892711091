"""Signed WhatsApp bodies of the wrong shape: the webhook answers 200 (400 for what is not JSON), never 500, and
the worker drops only the malformed part, counts it once, and handles the rest of the batch.

Each case goes through the real route, signed with the demo shop's app secret, and through a real job worker that
parses the raw body the webhook queued. The property tests at the end feed the route and the parser any JSON, and
Meta's reference payloads with values of any type substituted anywhere.
"""

# ruff: noqa: F811 — tests take the fixtures imported from the channel's main tests as arguments

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from chat_ui.whatsapp.constants import WEBHOOK_TASK
from chat_ui.whatsapp.events import MalformedBody, batches, count_events, read_webhook
from tests.service.test_whatsapp import (  # noqa: F401 — its fixtures, shared
    SHOPPER,
    Channel,
    _value,
    channel,
    entries,
    graph,
    load,
    sign,
    status,
    text,
    wa_settings,
)

pytestmark = pytest.mark.timeout(90)

OTHER = "15550007777"
"""A second customer, whose message shares the malformed body."""


def malformed(part: str) -> float:
    return REGISTRY.get_sample_value("hub_webhook_malformed_total", {"source": "whatsapp", "part": part}) or 0.0


def metadata_as(value: Any) -> Callable[[Channel], dict[str, Any]]:
    def build(channel: Channel) -> dict[str, Any]:
        bad = text(channel.demo, "is this answered?", wa_id=OTHER)
        _value(bad)["metadata"] = value
        return entries(text(channel.demo, "hello"), bad)

    return build


def profile_as_string(channel: Channel) -> dict[str, Any]:
    payload = text(channel.demo, "hello")
    _value(payload)["contacts"][0]["profile"] = "Test Name"
    return payload


def context_as_string(channel: Channel) -> dict[str, Any]:
    payload = text(channel.demo, "hello")
    bad = text(channel.demo, "a reply to something", wa_id=OTHER, context="wamid.EARLIER")
    _value(payload)["messages"].append(_value(bad)["messages"][0])
    return payload


def status_as_list(channel: Channel) -> dict[str, Any]:
    bad = status(channel.demo, "status_delivered", "wamid.OURS", status=["delivered"])
    return entries(text(channel.demo, "hello"), bad, status(channel.demo, "status_sent", "wamid.OURS"))


@pytest.mark.parametrize(
    ("build", "part", "received", "answered"),
    [
        pytest.param(metadata_as("1122334455667"), "change", 1, [SHOPPER], id="metadata-string"),
        pytest.param(metadata_as([{"phone_number_id": "1"}]), "change", 1, [SHOPPER], id="metadata-list"),
        pytest.param(profile_as_string, "contact", 1, [SHOPPER], id="profile-string"),
        pytest.param(context_as_string, "message", 1, [SHOPPER], id="context-string"),
        pytest.param(status_as_list, "status", 2, [SHOPPER], id="status-list"),
    ],
)
async def test_a_malformed_part_of_a_signed_body_is_dropped_and_counted_and_the_rest_is_answered(
    channel: Channel,
    build: Callable[[Channel], dict[str, Any]],
    part: str,
    received: int,
    answered: list[str],
) -> None:
    dropped = malformed(part)
    body = json.dumps(build(channel)).encode()
    response = await channel.post(body, signature=sign(body, channel.demo.whatsapp_app_secret))
    assert (response.status_code, response.json()) == (200, {"received": received})
    assert malformed(part) - dropped == 1, "the malformed part is counted once, by the webhook"

    channel.start_worker()  # the worker parses the raw body the webhook queued
    [result] = await channel.settled()
    assert result["processed"] == received and result["skipped"] == 0
    assert sorted(s.to for s in channel.graph.sends) == answered, "the well-formed message is answered"
    assert malformed(part) - dropped == 1, "the worker reads the same body without counting it again"
    if part == "contact":
        [customer_message, _] = await channel.messages()
        assert customer_message.meta["whatsapp"]["profile_name"] is None, "only the contact's profile is lost"


async def test_a_body_nested_100k_levels_deep_is_refused_by_the_webhook_and_dropped_by_the_worker(
    channel: Channel,
) -> None:
    deep = b'{"entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = await channel.post(deep, signature=sign(deep, channel.demo.whatsapp_app_secret))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    assert channel.task_ids == []

    dropped = malformed("body")
    tenants = {channel.demo.whatsapp_phone_number_id: channel.demo.tenant_id}
    await channel.app.state.resources.jobs.enqueue(WEBHOOK_TASK, {"body": deep.decode(), "tenants": tenants})
    channel.start_worker()
    [result] = await channel.settled()
    assert result == {"processed": 0, "duplicate": 0, "skipped": 0, "sent": 0}, "finished at once, not retried"
    assert malformed("body") - dropped == 1
    await channel.say("hello")  # the worker goes on with the next job
    assert [s.to for s in channel.graph.sends] == [SHOPPER]


# --- properties ----------------------------------------------------------------------------------------

_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
JSON = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
"""Any JSON value."""
FIXTURES = ("text_message", "image_message", "interactive_button_reply", "status_sent", "status_failed")


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a payload a value sits, containers included, except the phone number the body is for."""
    found = [at] if at else []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in children:
        if key != "phone_number_id":
            found += _paths(child, (*at, key))
    return found


@st.composite
def meta_shaped(draw: st.DrawFn, phone_number_id: str) -> dict[str, Any]:
    """One of Meta's reference payloads, to the demo shop's number, with 1-3 values replaced by any JSON."""
    payload = copy.deepcopy(load(draw(st.sampled_from(FIXTURES))))
    value = _value(payload)
    value["metadata"]["phone_number_id"] = phone_number_id
    for item in value.get("messages", []):
        item["id"] = f"wamid.P{uuid.uuid4().hex}"  # a fresh message, sent now: the worker answers it
        item["timestamp"] = str(int(time.time()))
        item["from"] = item["from"][:-4] + str(draw(st.integers(1000, 9999)))
    paths = _paths(payload)
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True)):
        node = payload
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = draw(JSON)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier substitution replaced a container on this path
    return payload


def _read_everywhere(body: bytes, phone_number_id: str, tenant_id: str) -> None:
    """Read `body` as the webhook and the worker do; only MalformedBody (not JSON) may come out."""
    try:
        webhook = read_webhook(body)
    except MalformedBody:
        return
    tenants = {phone_number_id: uuid.UUID(tenant_id)}
    assert count_events(webhook, tenants) == sum(len(b.events) for b in batches(webhook, tenants))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_any_signed_json_gets_200_or_400_and_the_worker_never_fails(channel: Channel) -> None:
    """On Postgres, which refuses what SQLite would store (NUL characters, over-long keys).

    Hypothesis runs in a thread of its own; each example's POST runs on the test's event loop.
    """
    demo, loop = channel.demo, asyncio.get_running_loop()
    answers: list[int] = []
    examples = settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))

    def post(body: bytes) -> None:
        posted = asyncio.run_coroutine_threadsafe(
            channel.post(body, signature=sign(body, demo.whatsapp_app_secret)), loop
        )
        response = posted.result(timeout=30)
        assert response.status_code in (200, 400), response.text
        answers.append(response.status_code)
        _read_everywhere(body, demo.whatsapp_phone_number_id, demo.tenant_id)

    @examples
    @given(st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=64)))
    def post_any_json_or_bytes(body: bytes) -> None:
        post(body)

    @examples
    @given(meta_shaped(demo.whatsapp_phone_number_id))
    def post_meta_shaped(payload: dict[str, Any]) -> None:
        post(json.dumps(payload).encode())

    await asyncio.to_thread(post_any_json_or_bytes)
    await asyncio.to_thread(post_meta_shaped)
    assert 200 in answers and 400 in answers
    channel.start_worker()  # afterwards: Hypothesis would take a worker's use of `random` for its strategies'
    results = await channel.settled(within_s=60)
    assert all(r["skipped"] == 0 for r in results), results
