"""Offer a reply's quick replies on WhatsApp: reply buttons, a list, or numbered lines, within Meta's limits.

Tapping a reply button or a list row sends its title back as the customer's message (the turn reads titles, see
`agents.engine.QuickReply`), so a title is only ever cut where it cannot fit: up to three choices whose titles fit a
button (20 characters) are buttons; otherwise up to ten are rows of a list (24 characters, the most a quick reply's
title may hold); more than ten are numbered lines of text, which the customer answers by typing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agents.replies import QuickReply
from hub.languages import Language

MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_LIST_BUTTON = 20
MAX_BODY = 1024
"""The most characters an interactive message's body holds (a text message holds 4096)."""
MAX_ID = 200
"""A list row's id holds 200 characters (a reply button's 256)."""
LIST_BUTTON: dict[Language, str] = {
    "en": "Choose",
    "es": "Elegir",
    "de": "Auswählen",
    "fr": "Choisir",
    "it": "Scegli",
    "pt": "Escolher",
}
"""What the button that opens a list says, in the reply's language."""
Shape = Literal["button", "list", "text"]
_ELLIPSIS = "…"
_JOINERS = frozenset({"\u200d", "\ufe0e", "\ufe0f"})
"""Zero-width joiner and variation selectors: they bind to the character before them."""


@dataclass(frozen=True)
class Offer:
    """How a reply's choices go out: `interactive` (buttons or a list) for its last part, or `lines` to append."""

    shape: Shape
    interactive: dict[str, Any] | None = None
    """The Cloud API `interactive` object without its body (`type`, `action`); None for text."""
    lines: str = ""
    """Numbered choices to add to the reply's text, for the `text` shape."""


def clip(text: str, limit: int) -> str:
    """Return `text` cut to at most `limit` characters, ending in an ellipsis when cut, never inside an emoji
    sequence or between a letter and its accents."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    end = limit - len(_ELLIPSIS)
    while 0 < end < len(text) and _binds(text[end - 1], text[end]):
        end -= 1
    return text[:end].rstrip() + _ELLIPSIS


def _binds(before: str, after: str) -> bool:
    """True when `after` belongs to the same visible character as `before`."""
    return (
        after in _JOINERS
        or before == "\u200d"
        or unicodedata.combining(after) > 0
        or "\U0001f3fb" <= after <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= after <= "\U000e007f"  # tag sequences (flags of regions)
    )


def offer(choices: Sequence[QuickReply], language: Language) -> Offer | None:
    """Choose how `choices` go out on WhatsApp; None when there are none."""
    if not choices:
        return None
    ids = [c.id for c in choices]
    titles = [" ".join(c.title.split()) for c in choices]
    tappable = len(set(ids)) == len(ids) and all(0 < len(i) <= MAX_ID for i in ids) and all(titles)
    if tappable and len(choices) <= MAX_BUTTONS and all(len(t) <= MAX_BUTTON_TITLE for t in titles):
        buttons = [{"type": "reply", "reply": {"id": c.id, "title": t}} for c, t in zip(choices, titles, strict=True)]
        return Offer("button", {"type": "button", "action": {"buttons": buttons}})
    if tappable and len(choices) <= MAX_ROWS:
        label = clip(LIST_BUTTON[language], MAX_LIST_BUTTON)
        rows = [_row(c) for c in choices]
        section = {"title": clip(label, MAX_ROW_TITLE), "rows": rows}
        return Offer("list", {"type": "list", "action": {"button": label, "sections": [section]}})
    numbered = (
        f"{n}. {title}" + (f" ({c.description.strip()})" if c.description and c.description.strip() else "")
        for n, (c, title) in enumerate(zip(choices, titles, strict=True), start=1)
    )
    return Offer("text", lines="\n".join(numbered))


def _row(choice: QuickReply) -> dict[str, str]:
    row = {"id": choice.id, "title": clip(choice.title, MAX_ROW_TITLE)}
    if choice.description and choice.description.strip():
        row["description"] = clip(choice.description, MAX_ROW_DESCRIPTION)
    return row
