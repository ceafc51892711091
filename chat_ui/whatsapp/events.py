"""Read WhatsApp Cloud API webhook bodies into typed events, grouped per customer, dropping what is malformed.

Meta's shape is read with pydantic models that ignore the fields Meta adds and are strict on the types of the
fields read here. A part that fails its model is dropped at the smallest level that holds it (a contact, a
message, a status, a change, an entry) and the rest of the body is read; `Webhook.report` logs and counts what
was dropped. The JSON is parsed by pydantic-core, which refuses a body nested deeper than 200 levels with a
ValueError where the standard library would exhaust the stack.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar, cast

import pydantic_core
import structlog
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from chat_ui.whatsapp.constants import WEBHOOK_SOURCE
from hub.metrics import observe_webhook_malformed

log = structlog.get_logger(__name__)


class InboundKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    BUTTON = "button"
    """An interactive `button_reply`, or a template's quick-reply `button`."""
    LIST = "list"
    LOCATION = "location"
    REACTION = "reaction"
    UNSUPPORTED = "unsupported"
    """Voice notes, videos, documents, stickers, contacts, orders and whatever Meta adds next."""


StatusName = Literal["sent", "delivered", "read", "failed"]
_STATUSES: frozenset[str] = frozenset({"sent", "delivered", "read", "failed"})
_UNSUPPORTED_NAMES = {
    "audio": "voice messages",
    "voice": "voice messages",
    "video": "videos",
    "document": "documents",
    "sticker": "stickers",
    "contacts": "contact cards",
    "order": "orders sent from the catalog",
}
Part = Literal["body", "entry", "change", "contact", "message", "status"]
"""What a malformed piece of a webhook body was: the unit that is dropped."""


class InboundMessage(BaseModel):
    """One message a customer sent, as much of it as a turn needs."""

    event: Literal["message"] = "message"
    id: str
    """WhatsApp's message id (`wamid…`): the idempotency key."""
    wa_id: str
    """The sender's WhatsApp number, digits only."""
    timestamp: datetime
    """When the customer sent it, by WhatsApp's clock: it opens the 24-hour customer-service window."""
    type: str
    """WhatsApp's message type as sent, e.g. `interactive` or `audio`."""
    kind: InboundKind
    text: str | None
    """What the conversation graph reads; None when there is nothing to answer with the graph."""
    meta: dict[str, Any] = {}
    """Kept on the stored message: media id, reply id, location, what a reaction reacted to."""
    profile_name: str | None = None

    @property
    def unsupported_name(self) -> str:
        """Say in words what the customer sent that we cannot read."""
        return _UNSUPPORTED_NAMES.get(self.type, f"{self.type} messages")


class StatusUpdate(BaseModel):
    """WhatsApp's report on a message we sent."""

    event: Literal["status"] = "status"
    id: str
    """The `wamid` the Graph API returned when we sent the message."""
    status: StatusName
    recipient_id: str
    timestamp: datetime
    errors: list[dict[str, Any]] = []
    callback_data: str | None = None
    """`biz_opaque_callback_data` as we sent it: the delivery's id, which finds a send whose answer was lost."""


Event = Annotated[InboundMessage | StatusUpdate, Field(discriminator="event")]


class EventBatch(BaseModel):
    """The job payload: one webhook's events about one customer of one tenant, in the order WhatsApp sent them."""

    tenant_id: uuid.UUID
    phone_number_id: str
    wa_id: str
    events: list[Event]


# --- Meta's shape ----------------------------------------------------------------------------------------


def _no_nul(value: str) -> str:
    """Drop NUL characters: no database text column holds them, and a person never typed one."""
    return value.replace("\x00", "") if "\x00" in value else value


def _no_nul_in_id(value: str) -> str:
    if "\x00" in value:
        raise ValueError("an id holds no NUL character")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
"""Free text as the customer or Meta wrote it."""
Id = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_no_nul_in_id)]
"""A wamid, a phone number or WhatsApp user id: what keys rows (`external_id`, `external_ref`: 128 characters)."""
Name = Annotated[str, StringConstraints(max_length=64), AfterValidator(_no_nul)]
"""A short word of Meta's vocabulary: a message type, a status."""
Timestamp = Annotated[int, Field(ge=0, le=253_402_300_799)]
"""Seconds since the epoch, as Meta writes them (a string of digits), up to the year 9999."""


class _Meta(BaseModel):
    """A piece of Meta's payload: fields we do not read are ignored, whatever Meta adds."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(_Meta):
    entry: list[Any]


class Entry(_Meta):
    changes: list[Any]


class Change(_Meta):
    field: Any = "messages"
    """Only `messages` is read; other subscriptions (account updates, templates) are not this channel's."""
    value: Any = None


class Metadata(_Meta):
    phone_number_id: Id


class Value(_Meta):
    """A `messages` change: the number it is for, and its contacts, messages and statuses, each read on its own."""

    metadata: Metadata
    contacts: list[Any] = []
    messages: list[Any] = []
    statuses: list[Any] = []


class Profile(_Meta):
    name: Text | None = None


class Contact(_Meta):
    wa_id: Id
    profile: Profile | None = None


class Context(_Meta):
    id: Id | None = None


class TextBody(_Meta):
    body: Text | None = None


class Media(_Meta):
    id: Id | None = None
    mime_type: Text | None = None
    caption: Text | None = None


class Choice(_Meta):
    id: Text | None = None
    title: Text | None = None


class Interactive(_Meta):
    type: Name | None = None
    button_reply: Choice | None = None
    list_reply: Choice | None = None


class Button(_Meta):
    text: Text | None = None
    payload: Text | None = None


class Location(_Meta):
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    name: Text | None = None
    address: Text | None = None


class Reaction(_Meta):
    message_id: Id | None = None
    emoji: Text | None = None


class Message(_Meta):
    """One `messages[]` item; the body under its type's key (`text`, `image`, …) is read for its type."""

    id: Id
    sender: Id = Field(alias="from")
    timestamp: Timestamp | None = None
    type: Name = "unknown"
    context: Context | None = None
    text: TextBody | None = None
    image: Media | None = None
    audio: Media | None = None
    video: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    interactive: Interactive | None = None
    button: Button | None = None
    location: Location | None = None
    reaction: Reaction | None = None


class ErrorData(_Meta):
    details: Text | None = None


class SendError(_Meta):
    code: int | None = None
    title: Text | None = None
    message: Text | None = None
    error_data: ErrorData | None = None


class Status(_Meta):
    """One `statuses[]` item."""

    id: Id
    status: Name
    recipient_id: Id
    timestamp: Timestamp | None = None
    errors: list[SendError] = []
    biz_opaque_callback_data: Text | None = None


@dataclass(frozen=True, slots=True)
class Dropped:
    """A malformed part of a body, left out."""

    part: Part
    where: str
    """Its place in the body, e.g. `entry[0].changes[1].messages[2]`."""
    reason: str
    """The first thing wrong with it, without its value."""


@dataclass(frozen=True, slots=True)
class ChangeRead:
    """The well-formed part of one `messages` change."""

    phone_number_id: str
    contacts: list[Contact]
    messages: list[Message]
    statuses: list[Status]


@dataclass(frozen=True, slots=True)
class Webhook:
    """What a webhook body holds that can be read, and what was dropped from it."""

    changes: list[ChangeRead]
    dropped: list[Dropped]

    def report(self) -> None:
        """Log and count each dropped part; once per body received (the worker reads the same body again)."""
        for dropped in self.dropped:
            _report(dropped)


class MalformedBody(ValueError):
    """The body is not JSON (UTF-8), or nests deeper than the parser follows."""

    def report(self) -> None:
        """Log and count the body as dropped."""
        _report(Dropped("body", "", str(self)))


def _report(dropped: Dropped) -> None:
    observe_webhook_malformed(WEBHOOK_SOURCE, dropped.part)
    log.warning("whatsapp_webhook_malformed", part=dropped.part, where=dropped.where, reason=dropped.reason)


M = TypeVar("M", bound=_Meta)


def read_webhook(body: bytes | str) -> Webhook:
    """Parse and validate a webhook body; raise MalformedBody when it is not JSON at all."""
    try:
        payload = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise MalformedBody(str(exc)) from exc
    changes: list[ChangeRead] = []
    dropped: list[Dropped] = []

    def valid(model: type[M], data: Any, part: Part, where: str) -> M | None:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            dropped.append(Dropped(part, where, _reason(exc)))
            return None

    if (envelope := valid(Envelope, payload, "body", "")) is None:
        return Webhook(changes, dropped)
    for i, raw_entry in enumerate(envelope.entry):
        if (entry := valid(Entry, raw_entry, "entry", f"entry[{i}]")) is None:
            continue
        for j, raw_change in enumerate(entry.changes):
            where = f"entry[{i}].changes[{j}]"
            change = valid(Change, raw_change, "change", where)
            if change is None or change.field != "messages":
                continue
            if (value := valid(Value, change.value, "change", f"{where}.value")) is None:
                continue
            changes.append(
                ChangeRead(
                    phone_number_id=value.metadata.phone_number_id,
                    contacts=_items(valid, Contact, value.contacts, "contact", f"{where}.value.contacts"),
                    messages=_items(valid, Message, value.messages, "message", f"{where}.value.messages"),
                    statuses=_items(valid, Status, value.statuses, "status", f"{where}.value.statuses"),
                )
            )
    return Webhook(changes, dropped)


def _items(
    valid: Callable[[type[M], Any, Part, str], M | None], model: type[M], items: list[Any], part: Part, where: str
) -> list[M]:
    return [item for k, raw in enumerate(items) if (item := valid(model, raw, part, f"{where}[{k}]")) is not None]


def _reason(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "value"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {first['msg']}{more}"


# --- events --------------------------------------------------------------------------------------------


def batches(webhook: Webhook, tenants: Mapping[str, uuid.UUID]) -> list[EventBatch]:
    """Group the webhook's events by (phone number, customer), for the phone numbers in `tenants` only.

    `tenants` maps the phone_number_ids the caller verified to their tenant; changes for any other number
    are dropped, so a body signed with one tenant's secret can never speak for another tenant.
    """
    grouped: dict[tuple[str, str], EventBatch] = {}
    for change in webhook.changes:
        phone_number_id = change.phone_number_id
        tenant_id = tenants.get(phone_number_id)
        if tenant_id is None:
            log.warning("whatsapp_change_dropped", phone_number_id=phone_number_id, reason="unverified phone number")
            continue
        profiles = {c.wa_id: c.profile.name if c.profile else None for c in change.contacts}
        events: list[InboundMessage | StatusUpdate] = [inbound(message, profiles) for message in change.messages]
        events += _status_updates(change.statuses)
        for event in events:
            wa_id = event.wa_id if isinstance(event, InboundMessage) else event.recipient_id
            key = (phone_number_id, wa_id)
            if key not in grouped:
                grouped[key] = EventBatch(tenant_id=tenant_id, phone_number_id=phone_number_id, wa_id=wa_id, events=[])
            grouped[key].events.append(event)
    return list(grouped.values())


def count_events(webhook: Webhook, tenants: Mapping[str, object]) -> int:
    """How many events `batches(webhook, tenants)` would read, without building them: the webhook's answer."""
    return sum(
        len(change.messages) + sum(1 for s in change.statuses if s.status in _STATUSES)
        for change in webhook.changes
        if change.phone_number_id in tenants
    )


def inbound(message: Message, profiles: Mapping[str, str | None] | None = None) -> InboundMessage:
    """Read one validated `messages[]` item as the event a turn handles."""
    kind, text, meta = _read(message)
    if message.context is not None:
        meta["in_reply_to"] = message.context.id
    return InboundMessage(
        id=message.id,
        wa_id=message.sender,
        timestamp=_timestamp(message.timestamp),
        type=message.type,
        kind=kind,
        text=text,
        meta=meta,
        profile_name=(profiles or {}).get(message.sender),
    )


def _status_updates(statuses: list[Status]) -> Iterator[StatusUpdate]:
    for status in statuses:
        if status.status not in _STATUSES:
            log.info("whatsapp_status_skipped", status=status.status, has_id=True)  # e.g. `deleted`: not tracked
            continue
        yield StatusUpdate(
            id=status.id,
            status=cast(StatusName, status.status),
            recipient_id=status.recipient_id,
            timestamp=_timestamp(status.timestamp),
            errors=[e.model_dump(exclude_none=True) for e in status.errors],
            callback_data=status.biz_opaque_callback_data,
        )


def _read(message: Message) -> tuple[InboundKind, str | None, dict[str, Any]]:
    match message.type:
        case "text":
            return InboundKind.TEXT, _text((message.text or TextBody()).body), {}
        case "image":
            image = message.image or Media()
            return InboundKind.IMAGE, _text(image.caption), {"media_id": image.id, "mime_type": image.mime_type}
        case "interactive":
            interactive = message.interactive or Interactive()
            choice = {"button_reply": interactive.button_reply, "list_reply": interactive.list_reply}.get(
                interactive.type or ""
            )
            if choice is None:
                return InboundKind.UNSUPPORTED, None, {"interactive_type": interactive.type}
            kind = InboundKind.BUTTON if interactive.type == "button_reply" else InboundKind.LIST
            return kind, _text(choice.title), {"reply_id": choice.id}
        case "button":
            button = message.button or Button()
            return InboundKind.BUTTON, _text(button.text), {"payload": button.payload}
        case "location":
            location = message.location or Location()
            lat, lon = location.latitude, location.longitude
            if lat is None or lon is None:
                return InboundKind.UNSUPPORTED, None, {}
            place = ", ".join(p for p in (location.name, location.address) if p)
            text = f"my location: {lat},{lon}" + (f" {place}" if place else "")
            return InboundKind.LOCATION, text, {"latitude": lat, "longitude": lon, "place": place or None}
        case "reaction":
            reaction = message.reaction or Reaction()
            return InboundKind.REACTION, None, {"emoji": reaction.emoji or "", "reacted_to": reaction.message_id}
        case "audio" | "video" | "document" | "sticker":
            media: Media | None = getattr(message, message.type)
            return InboundKind.UNSUPPORTED, None, {"media_id": media.id} if media and media.id else {}
        case _:
            return InboundKind.UNSUPPORTED, None, {}


def _text(value: str | None) -> str | None:
    text = value.strip() if value is not None else ""
    return text or None


def _timestamp(value: int | None) -> datetime:
    return datetime.fromtimestamp(value, UTC) if value is not None else datetime.now(UTC)
