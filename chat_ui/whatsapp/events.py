"""Read WhatsApp Cloud API webhook payloads into typed events, grouped per customer; count them cheaply for the webhook."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import structlog
from pydantic import BaseModel, Field

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


Event = Annotated[InboundMessage | StatusUpdate, Field(discriminator="event")]


class EventBatch(BaseModel):
    """The job payload: one webhook's events about one customer of one tenant, in the order WhatsApp sent them."""

    tenant_id: uuid.UUID
    phone_number_id: str
    wa_id: str
    events: list[Event]


def batches(payload: Any, tenants: Mapping[str, uuid.UUID]) -> list[EventBatch]:
    """Group the payload's events by (phone number, customer), for the phone numbers in `tenants` only.

    `tenants` maps the phone_number_ids the caller verified to their tenant; changes for any other number
    are dropped, so a body signed with one tenant's secret can never speak for another tenant.
    """
    grouped: dict[tuple[str, str], EventBatch] = {}
    for value in _changes(payload):
        phone_number_id = str((value.get("metadata") or {}).get("phone_number_id", ""))
        tenant_id = tenants.get(phone_number_id)
        if tenant_id is None:
            log.warning("whatsapp_change_dropped", phone_number_id=phone_number_id, reason="unverified phone number")
            continue
        profiles = {
            str(c.get("wa_id")): (c.get("profile") or {}).get("name")
            for c in _dicts(value.get("contacts"))
            if c.get("wa_id")
        }
        events: list[InboundMessage | StatusUpdate] = []
        for raw in _dicts(value.get("messages")):
            if (message := parse_message(raw, profiles)) is not None:
                events.append(message)
        for raw in _dicts(value.get("statuses")):
            if (status := parse_status(raw)) is not None:
                events.append(status)
        for event in events:
            wa_id = event.wa_id if isinstance(event, InboundMessage) else event.recipient_id
            key = (phone_number_id, wa_id)
            if key not in grouped:
                grouped[key] = EventBatch(tenant_id=tenant_id, phone_number_id=phone_number_id, wa_id=wa_id, events=[])
            grouped[key].events.append(event)
    return list(grouped.values())


def count_events(payload: Any, tenants: Mapping[str, object]) -> int:
    """How many events `batches(payload, tenants)` would read, without building them: the webhook's answer."""
    count = 0
    for value in _changes(payload):
        if str((value.get("metadata") or {}).get("phone_number_id", "")) in tenants:
            count += sum(1 for raw in _dicts(value.get("messages")) if _is_message(raw))
            count += sum(1 for raw in _dicts(value.get("statuses")) if _is_status(raw))
    return count


def _is_message(raw: dict[str, Any]) -> bool:
    return bool(raw.get("id")) and bool(raw.get("from"))


def _is_status(raw: dict[str, Any]) -> bool:
    return raw.get("status") in _STATUSES and bool(raw.get("id")) and bool(raw.get("recipient_id"))


def parse_message(raw: dict[str, Any], profiles: Mapping[str, str | None] | None = None) -> InboundMessage | None:
    """Read one `messages[]` entry; None (logged) when it lacks an id or a sender."""
    message_id, wa_id = raw.get("id"), raw.get("from")
    if not _is_message(raw):
        log.warning("whatsapp_message_skipped", reason="no id or sender", keys=sorted(raw))
        return None
    kind_of = str(raw.get("type", "unknown"))
    body = raw.get(kind_of) if isinstance(raw.get(kind_of), dict) else {}
    kind, text, meta = _read(kind_of, body)
    if context := raw.get("context"):
        meta["in_reply_to"] = context.get("id")
    return InboundMessage(
        id=str(message_id),
        wa_id=str(wa_id),
        timestamp=_timestamp(raw.get("timestamp")),
        type=kind_of,
        kind=kind,
        text=text,
        meta=meta,
        profile_name=(profiles or {}).get(str(wa_id)),
    )


def parse_status(raw: dict[str, Any]) -> StatusUpdate | None:
    """Read one `statuses[]` entry; None for statuses we do not track (e.g. `deleted`) or malformed ones."""
    status, message_id, recipient = raw.get("status"), raw.get("id"), raw.get("recipient_id")
    if not _is_status(raw):
        log.info("whatsapp_status_skipped", status=status, has_id=bool(message_id))
        return None
    return StatusUpdate(
        id=str(message_id),
        status=status,
        recipient_id=str(recipient),
        timestamp=_timestamp(raw.get("timestamp")),
        errors=list(_dicts(raw.get("errors"))),
    )


def _read(kind_of: str, body: dict[str, Any]) -> tuple[InboundKind, str | None, dict[str, Any]]:
    match kind_of:
        case "text":
            return InboundKind.TEXT, _text(body.get("body")), {}
        case "image":
            meta = {"media_id": body.get("id"), "mime_type": body.get("mime_type")}
            return InboundKind.IMAGE, _text(body.get("caption")), meta
        case "interactive":
            choice_type = body.get("type")
            choice = body.get(choice_type) if choice_type in ("button_reply", "list_reply") else None
            if not isinstance(choice, dict):
                return InboundKind.UNSUPPORTED, None, {"interactive_type": choice_type}
            kind = InboundKind.BUTTON if choice_type == "button_reply" else InboundKind.LIST
            return kind, _text(choice.get("title")), {"reply_id": choice.get("id")}
        case "button":
            return InboundKind.BUTTON, _text(body.get("text")), {"payload": body.get("payload")}
        case "location":
            lat, lon = body.get("latitude"), body.get("longitude")
            if lat is None or lon is None:
                return InboundKind.UNSUPPORTED, None, {}
            place = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
            text = f"my location: {lat},{lon}" + (f" {place}" if place else "")
            return InboundKind.LOCATION, text, {"latitude": lat, "longitude": lon, "place": place or None}
        case "reaction":
            return InboundKind.REACTION, None, {"emoji": body.get("emoji") or "", "reacted_to": body.get("message_id")}
        case _:
            return InboundKind.UNSUPPORTED, None, {"media_id": body.get("id")} if body.get("id") else {}


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _changes(payload: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(payload, dict):
        return
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            if change.get("field", "messages") == "messages" and isinstance(change.get("value"), dict):
                yield change["value"]


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))
