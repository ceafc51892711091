"""What the deterministic engine carries between turns (`Pending`) and what one of its turns produced (`EngineTurn`),
apart from the engine itself, so the flows it delegates to (`agents.flows`) share them without importing it."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from agents.actions import Action
from agents.replies import QuickReply
from hub.languages import Language
from hub.order_requests import ReturnReason
from hub.prompting.outputs import Intent
from tools import engagement as eng


class Pending(BaseModel):
    """What the engine asked for and is waiting on; kept in the conversation state between turns."""

    intent: Intent | None = None
    order_number: str | None = None
    contact: str | None = None
    action: Action | None = None
    """A return, cancellation, address change or request status being walked through (`agents.flows`)."""
    step: str | None = None
    """The flow's open question: `identify`, `items`, `reason`, `condition`, `address` or `confirm`; `done` once the
    request is made (a yes again repeats its reference)."""
    items: list[str] | None = None
    """SKUs chosen to return."""
    choices: list[list[str]] | None = None
    """The items offered to choose from, as [sku, title]."""
    reason: ReturnReason | None = None
    details: str | None = None
    condition_ok: bool | None = None
    address: dict[str, str] | None = None
    confirmed_with: str | None = None
    """The message that confirmed the request (step `done`): the same again is a double tap, answered with it."""
    country: str | None = None
    """The order's delivery country: a typed address without one is read as being there."""


@dataclass
class EngineTurn:
    reply: str
    intent: Intent
    pending: Pending
    language: Language = "en"
    """The language `reply` is written in."""
    tools: list[str] = field(default_factory=list)
    args: list[dict[str, object]] = field(default_factory=list)
    """Each tool call's arguments, in the order of `tools`."""
    outputs: list[BaseModel] = field(default_factory=list)
    products: list[eng.ProductCard] = field(default_factory=list)
    handoff: eng.HandoffResult | None = None
    quick_replies: list[QuickReply] = field(default_factory=list)
