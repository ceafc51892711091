"""A reply's quick replies on WhatsApp: reply buttons for up to three short titles, a list for up to ten, numbered
lines beyond, only the last part of a long reply interactive, and only inside the customer-service window."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from agents.replies import QuickReply
from chat_ui.whatsapp.choices import LIST_BUTTON, MAX_BODY, MAX_BUTTON_TITLE, clip, offer
from chat_ui.whatsapp.outbox import CALLBACK_KEY, MAX_TEXT, plan
from hub.db import models as m
from hub.languages import LANGUAGES

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SHOPPER = "15550009876"
CONFIRM = [QuickReply(id="yes", title="Yes, go ahead"), QuickReply(id="no", title="No, leave it")]
ITEMS = [
    QuickReply(id=f"item:SKU-{n}", title=f"Heavyweight hoodie {n}", description=f"Size M, SKU-{n}") for n in range(6)
]
MANY = [QuickReply(id=f"item:SKU-{n}", title=f"Item {n}") for n in range(1, 13)]


@dataclass
class Added:
    """Stands in for the session `plan` adds its rows to."""

    rows: list[Any] = field(default_factory=list)

    def add(self, row: Any) -> None:
        self.rows.append(row)


@dataclass(frozen=True)
class Reply:
    id: uuid.UUID
    content: str


def planned(
    text: str,
    choices: list[QuickReply],
    *,
    language: Any = "en",
    last_inbound: timedelta = timedelta(minutes=1),
    config: dict[str, Any] | None = None,
) -> list[m.MessageDelivery]:
    conversation = m.Conversation(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        channel=m.Channel.WHATSAPP,
        external_ref=SHOPPER,
        last_inbound_at=NOW - last_inbound,
    )
    session = Added()
    rows = plan(
        cast(AsyncSession, session),
        conversation=conversation,
        message=Reply(uuid.uuid4(), text),
        account_config=config or {},
        now=NOW,
        choices=choices,
        language=language,
    )
    assert rows == session.rows
    return rows


def test_two_choices_go_out_as_reply_buttons_under_the_reply() -> None:
    [row] = planned("Shall I start the return for order A-10423?", CONFIRM)
    body = row.body
    assert body.pop(CALLBACK_KEY) == str(row.id)
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": SHOPPER,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Shall I start the return for order A-10423?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Yes, go ahead"}},
                    {"type": "reply", "reply": {"id": "no", "title": "No, leave it"}},
                ]
            },
        },
    }
    assert (row.status, row.kind) == (m.DeliveryStatus.PENDING, m.DeliveryKind.REPLY)


def test_six_choices_go_out_as_a_list_with_a_button_in_the_replys_language() -> None:
    [row] = planned("Which item would you like to return?", ITEMS, language="es")
    interactive = row.body["interactive"]
    assert interactive["type"] == "list" and interactive["body"] == {"text": "Which item would you like to return?"}
    assert interactive["action"]["button"] == "Elegir"
    [section] = interactive["action"]["sections"]
    assert section["rows"] == [{"id": c.id, "title": c.title, "description": c.description} for c in ITEMS], (
        "titles that fit a row are never cut"
    )


def test_more_than_ten_choices_are_numbered_lines_of_text() -> None:
    [row] = planned("Which item?", MANY)
    assert row.body["type"] == "text"
    assert row.body["text"]["body"] == "Which item?\n\n" + "\n".join(f"{n}. Item {n}" for n in range(1, 13))


def test_a_title_too_long_for_a_button_makes_a_list_so_the_tap_sends_it_whole() -> None:
    long_title = "Arrived damaged or torn"  # 23 characters: fits a row (24), not a button (20)
    choices = [QuickReply(id="reason:damaged", title=long_title), QuickReply(id="reason:size", title="Wrong size")]
    [row] = planned("Why are you returning it?", choices)
    assert len(long_title) > MAX_BUTTON_TITLE and row.body["interactive"]["type"] == "list"
    assert [r["title"] for r in row.body["interactive"]["action"]["sections"][0]["rows"]] == [long_title, "Wrong size"]


def test_titles_and_descriptions_past_whatsapps_limits_are_cut_safely() -> None:
    unchecked = QuickReply.model_construct(
        id="item:1", title="Heavyweight hoodie in forest green", description="x" * 90
    )
    [row] = planned("Which one?", [unchecked, *CONFIRM])
    [first, *_] = row.body["interactive"]["action"]["sections"][0]["rows"]
    assert first["title"] == "Heavyweight hoodie in f…" and len(first["title"]) == 24
    assert len(first["description"]) == 72 and first["description"].endswith("…")


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        ("Yes please", 20, "Yes please"),
        ("Return   the\nhoodie", 20, "Return the hoodie"),
        ("Crème brûlée sweater, cream", 12, "Crème brûlé…"),
        ("Cafe\u0301 au lait hoodie", 5, "Caf…"),  # the accent stays with its e: both go
        ("Family 👨\u200d👩\u200d👧 pack", 12, "Family…"),  # an emoji sequence is never split
        ("Thumbs 👍🏽 up", 9, "Thumbs…"),
    ],
)
def test_clip_never_splits_a_visible_character(text: str, limit: int, cut: str) -> None:
    assert clip(text, limit) == cut and len(cut) <= limit


def test_a_long_reply_goes_as_text_parts_then_an_interactive_last_part_within_1024_characters() -> None:
    sentence = "Our heavyweight hoodie is brushed inside and keeps its shape after many washes. "
    reply = "\n\n".join((sentence * n).strip() for n in (40, 30, 20))
    rows = planned(reply, CONFIRM)
    *texts, last = (r.body for r in rows)
    assert [b["type"] for b in texts] == ["text"] * len(texts) and last["type"] == "interactive"
    assert all(len(b["text"]["body"]) <= MAX_TEXT for b in texts)
    assert 0 < len(last["interactive"]["body"]["text"]) <= MAX_BODY
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    words = [*(b["text"]["body"] for b in texts), last["interactive"]["body"]["text"]]
    assert " ".join(words).split() == reply.split(), "no word lost or repeated"


def test_outside_the_window_choices_go_nowhere_the_template_or_nothing_goes_as_for_text() -> None:
    closed = timedelta(hours=25)
    [template] = planned("Shall I?", CONFIRM, last_inbound=closed, config={"reengagement_template": "we_are_back"})
    assert (template.kind, template.body["type"]) == (m.DeliveryKind.TEMPLATE, "template")
    [held] = planned("Shall I?", CONFIRM, last_inbound=closed)
    assert held.status == m.DeliveryStatus.NOT_SENT and held.body["type"] == "text"
    assert held.error is not None and held.error["code"] == "outside_service_window"


def test_a_reply_without_choices_is_plain_text_as_before() -> None:
    [row] = planned("Hello!", [])
    assert row.body["type"] == "text" and row.body["text"]["body"] == "Hello!"
    assert offer([], "en") is None


def test_every_language_has_a_list_button_that_fits() -> None:
    assert set(LIST_BUTTON) == set(LANGUAGES)
    assert all(0 < len(label) <= 20 for label in LIST_BUTTON.values())
