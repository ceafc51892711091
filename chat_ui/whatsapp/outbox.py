"""Plan, send and track WhatsApp deliveries: the 24-hour window, templates, opt-outs, long-text splits, statuses.

A stored message is planned into `message_deliveries` rows (`pending`) in the transaction that stores it; a
worker holding the conversation's lock sends the pending rows in order. Each send is claimed first: the row is
committed as `sending` before its request goes out, and the answer is committed at once after. So a worker
that finds a row still `sending` (under the lock, which its sender no longer holds) knows that sender stopped
between the claim and the answer, perhaps after the Graph API accepted the message, and the Cloud API takes no
idempotency key: the row is marked `unconfirmed` (logged and counted), never sent again. A send whose answer is
lost on the wire (read timeout, dropped connection) is `unconfirmed` the same way, not retried. No part is ever
sent twice; the one window left is a worker stopping between the claim and the Graph API accepting the request,
where a part that was never sent is `unconfirmed` too. Every request carries the row's id as
`biz_opaque_callback_data`, which Meta echoes in its status webhooks, so an `unconfirmed` send that did go out
is found and moved on by its first status (`chat_ui.whatsapp.statuses`); one that stays `unconfirmed` was
most likely lost.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

import structlog
from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from agents.replies import QuickReply
from chat_ui.whatsapp.choices import MAX_BODY, offer
from chat_ui.whatsapp.constants import WEBHOOK_SOURCE
from chat_ui.whatsapp.events import StatusUpdate
from chat_ui.whatsapp.graph_api import GraphApi, GraphApiError
from hub.db import models as m
from hub.languages import Language
from hub.metrics import observe_delivery_unconfirmed

log = structlog.get_logger(__name__)

SERVICE_WINDOW = timedelta(hours=24)
"""WhatsApp allows free-form messages only this long after the customer's last message."""
MAX_TEXT = 4096
"""WhatsApp's limit for one text message body, in characters."""
TEMPLATE_KEY = "reengagement_template"
"""Channel account config: the approved template sent when the window has closed (name, or {name, language})."""
DEFAULT_TEMPLATE_LANGUAGE = "en_US"
CALLBACK_KEY = "biz_opaque_callback_data"
"""Sent with every message (the delivery's id); Meta echoes it in the message's status webhooks."""
_PROGRESS = {
    m.DeliveryStatus.PENDING: 0,
    m.DeliveryStatus.SENDING: 0,
    m.DeliveryStatus.UNCONFIRMED: 0,
    m.DeliveryStatus.SENT: 1,
    m.DeliveryStatus.DELIVERED: 2,
    m.DeliveryStatus.READ: 3,
}
_LEVELS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\n[ \t]*\n\s*"), "\n\n"),  # paragraphs
    (re.compile(r"\n"), "\n"),  # lines
    (re.compile(r"(?<=[.!?…])\s+"), " "),  # sentences
    (re.compile(r"\s+"), " "),  # words
]


class Outgoing(Protocol):
    """A stored message to carry to the customer: a `Message` row, or what the caller knows of one it just added."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def content(self) -> str: ...


class Sender(Protocol):
    """The WhatsApp number that sends: a `ChannelAccount` row, or the worker's in-memory copy of one."""

    @property
    def external_id(self) -> str: ...

    @property
    def config(self) -> Mapping[str, Any]: ...


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut `text` into messages of at most `limit` characters, at paragraph, then line, sentence, word breaks."""
    text = text.strip()
    if not text:
        return []
    return [text] if len(text) <= limit else _pack(text, limit, 0)


def _pack(text: str, limit: int, level: int) -> list[str]:
    if level == len(_LEVELS):
        return [text[i : i + limit] for i in range(0, len(text), limit)]
    pattern, glue = _LEVELS[level]
    chunks: list[str] = []
    current = ""
    for piece in (p.strip() for p in pattern.split(text)):
        if not piece:
            continue
        if len(piece) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.extend(_pack(piece, limit, level + 1))
        elif not current:
            current = piece
        elif len(current) + len(glue) + len(piece) <= limit:
            current = f"{current}{glue}{piece}"
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def window_open(conversation: m.Conversation, now: datetime) -> bool:
    """True while free-form messages may go out: within 24 hours of the customer's last message."""
    last = conversation.last_inbound_at
    return last is not None and now - last < SERVICE_WINDOW


def text_body(to: str, text: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": text},
    }


def interactive_body(to: str, text: str, interactive: dict[str, Any]) -> dict[str, Any]:
    """An interactive message (reply buttons or a list): `interactive` is the Cloud API object less its body."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "interactive",
        "interactive": {**interactive, "body": {"text": text}},
    }


def template_body(to: str, template: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(template, dict):
        name, language = str(template["name"]), str(template.get("language") or DEFAULT_TEMPLATE_LANGUAGE)
    else:
        name, language = template, DEFAULT_TEMPLATE_LANGUAGE
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {"name": name, "language": {"code": language}},
    }


def plan(
    session: AsyncSession,
    *,
    conversation: m.Conversation,
    message: m.Message | Outgoing,
    account_config: Mapping[str, Any],
    kind: m.DeliveryKind = m.DeliveryKind.REPLY,
    now: datetime,
    choices: Sequence[QuickReply] = (),
    language: Language = "en",
) -> list[m.MessageDelivery]:
    """Add the pending deliveries that carry `message` to the customer; the caller commits with the message.

    Inside the window the text goes out, split as needed; with `choices` (quick replies, labelled in `language`)
    its last part is an interactive message of reply buttons or a list (`chat_ui.whatsapp.choices`), cut to an
    interactive body's 1024 characters, or more than ten choices are numbered lines at the end of the text. Like
    any free-form message, an interactive one goes only inside the window. Outside it only the tenant's approved
    template may go (a reply, never a notice); with none configured the delivery is recorded as not sent.
    """
    to = conversation.external_ref
    rows: list[m.MessageDelivery] = []

    def add(
        seq: int,
        row_kind: m.DeliveryKind,
        body: dict[str, Any],
        status: m.DeliveryStatus = m.DeliveryStatus.PENDING,
        error: dict[str, Any] | None = None,
    ) -> None:
        row_id = uuid.uuid4()
        row = m.MessageDelivery(
            id=row_id,
            tenant_id=conversation.tenant_id,
            message_id=message.id,
            conversation_id=conversation.id,
            seq=seq,
            kind=row_kind,
            created_at=now,
            body={**body, CALLBACK_KEY: str(row_id)},
            status=status,
            error=error,
            history=[{"status": status, "at": now.isoformat()}],
            attempts=0,
        )
        session.add(row)
        rows.append(row)

    if window_open(conversation, now):
        chosen = offer(choices, language)
        content = message.content
        if chosen is not None and chosen.interactive is None:
            content = f"{content.rstrip()}\n\n{chosen.lines}"
        parts = split_text(content)
        interactive = chosen.interactive if chosen is not None and parts else None
        if interactive is not None:  # only the last part carries the choices, in an interactive body's length
            parts = [*parts[:-1], *split_text(parts[-1], MAX_BODY)]
        for seq, part in enumerate(parts, start=1):
            if interactive is not None and seq == len(parts):
                add(seq, kind, interactive_body(to, part, interactive))
            else:
                add(seq, kind, text_body(to, part))
    elif kind == m.DeliveryKind.REPLY and (template := account_config.get(TEMPLATE_KEY)):
        add(1, m.DeliveryKind.TEMPLATE, template_body(to, template))
    else:
        add(
            1,
            kind,
            text_body(to, message.content[:MAX_TEXT]),
            status=m.DeliveryStatus.NOT_SENT,
            error=_window_closed(kind),
        )
    return rows


def _window_closed(kind: m.DeliveryKind) -> dict[str, Any]:
    details = (
        f"no approved template configured (channel account config `{TEMPLATE_KEY}`)"
        if kind == m.DeliveryKind.REPLY
        else "confirmations are free-form text, which the window no longer allows"
    )
    return {
        "code": "outside_service_window",
        "title": "the customer's last message is more than 24 hours old",
        "details": details,
    }


def _held_back(row: m.MessageDelivery, conversation: m.Conversation, now: datetime) -> dict[str, Any] | None:
    """Why a pending row must not go out now, if it must not."""
    if conversation.opted_out_at is not None and row.kind != m.DeliveryKind.NOTICE:
        return {"code": "opted_out", "title": "the customer opted out of WhatsApp messages"}
    if row.kind != m.DeliveryKind.TEMPLATE and not window_open(conversation, now):
        return _window_closed(row.kind)
    return None


async def deliver_pending(
    session: AsyncSession,
    api: GraphApi,
    *,
    account: m.ChannelAccount | Sender,
    conversation: m.Conversation,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    pending: Sequence[m.MessageDelivery] | None = None,
) -> int:
    """Send the conversation's pending deliveries in order, claiming each before its send and committing each
    outcome; return how many went out.

    Call only while holding the conversation's lock. A send still failing after the client's retries goes back to
    pending and its error is raised, so the job is retried later; a refused send is recorded as failed; a send
    whose answer never came, and a row a stopped worker left `sending`, are recorded as unconfirmed, not sent.
    `pending`: the rows, when the caller knows them (it just planned them and no older one waits): not read again.
    """
    rows = pending
    if rows is None:
        rows = (
            (
                await session.execute(
                    select(m.MessageDelivery)
                    .where(
                        m.MessageDelivery.conversation_id == conversation.id,
                        m.MessageDelivery.status.in_((m.DeliveryStatus.PENDING, m.DeliveryStatus.SENDING)),
                    )
                    .order_by(m.MessageDelivery.created_at, m.MessageDelivery.seq)
                )
            )
            .scalars()
            .all()
        )
    sent = 0
    token = str(account.config.get("access_token") or "")
    for row in rows:
        now = clock()
        if row.status == m.DeliveryStatus.SENDING:
            await _unconfirmed(session, row, now, "the worker sending it stopped before it recorded the answer")
            continue
        if (reason := _held_back(row, conversation, now)) is not None:
            _set(row, m.DeliveryStatus.NOT_SENT, now, error=reason)
            await session.commit()
            continue
        row.attempts += 1
        _set(row, m.DeliveryStatus.SENDING, now)
        await session.commit()  # the claim: from here on, a stop leaves the row `sending`, and it is never resent
        try:
            wamid = await api.send(phone_number_id=account.external_id, access_token=token, body=row.body)
        except GraphApiError as exc:
            if exc.maybe_sent:
                await _unconfirmed(session, row, clock(), str(exc))
                continue
            if exc.retryable:
                await _settle(session, row, m.DeliveryStatus.PENDING, clock())
                raise
            log.warning("whatsapp_send_refused", delivery_id=str(row.id), status=exc.status, code=exc.code)
            await _settle(session, row, m.DeliveryStatus.FAILED, clock(), error=exc.as_error())
            continue
        await _settle(session, row, m.DeliveryStatus.SENT, clock(), external_id=wamid)
        sent += 1
    return sent


async def _settle(
    session: AsyncSession, row: m.MessageDelivery, status: m.DeliveryStatus, at: datetime, **values: Any
) -> bool:
    """Record what became of a send this worker claimed, and commit; False when a status webhook was first.

    Only a row still `sending` is written: the status ledger may have confirmed the send from Meta's status
    webhook (its `biz_opaque_callback_data`) while the answer was on its way, and that must not be undone.
    """
    history = [*row.history, {"status": status, "at": at.isoformat()}]
    changes = {"status": status, "history": history, **values}
    result = await session.execute(
        update(m.MessageDelivery)
        .where(m.MessageDelivery.id == row.id, m.MessageDelivery.status == m.DeliveryStatus.SENDING)
        .values(changes)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    if not cast("CursorResult[Any]", result).rowcount:  # an UPDATE's result is a CursorResult
        session.expire(row)
        return False
    for name, value in changes.items():
        set_committed_value(row, name, value)
    return True


async def _unconfirmed(session: AsyncSession, row: m.MessageDelivery, at: datetime, reason: str) -> None:
    """Mark a send whose outcome is unknown as `unconfirmed`: logged and counted, never sent again."""
    error = {
        "code": "unconfirmed",
        "title": "the send may or may not have reached the customer, and is not sent again",
        "details": reason,
    }
    if await _settle(session, row, m.DeliveryStatus.UNCONFIRMED, at, error=error):
        observe_delivery_unconfirmed(WEBHOOK_SOURCE)
        log.warning(
            "whatsapp_delivery_unconfirmed",
            delivery_id=str(row.id),
            message_id=str(row.message_id),
            conversation_id=str(row.conversation_id),
            reason=reason,
        )


def apply_status(row: m.MessageDelivery, report: StatusUpdate) -> None:
    """Move a delivery forward on WhatsApp's report; reports may arrive out of order, so it never moves back.

    `failed` always sticks, with WhatsApp's error code and title. A report on a send whose answer was never
    recorded (`sending`, `unconfirmed`) confirms it went out: it takes the report's wamid.
    """
    status = m.DeliveryStatus(report.status)
    if row.status in (m.DeliveryStatus.SENDING, m.DeliveryStatus.UNCONFIRMED):
        row.external_id = report.id
        row.error = None
    row.history = [*row.history, {"status": status, "at": report.timestamp.isoformat()}]
    if status == m.DeliveryStatus.FAILED:
        row.status = status
        row.error = _status_error(report.errors)
    elif row.status in _PROGRESS and _PROGRESS[status] > _PROGRESS[m.DeliveryStatus(row.status)]:
        row.status = status


def _status_error(errors: list[dict[str, Any]]) -> dict[str, Any]:
    if not errors:
        return {"code": None, "title": "WhatsApp reported the message as failed without a reason"}
    first = errors[0]
    error: dict[str, Any] = {"code": first.get("code"), "title": first.get("title") or first.get("message") or ""}
    if details := (first.get("error_data") or {}).get("details"):
        error["details"] = details
    return error


def _set(
    row: m.MessageDelivery, status: m.DeliveryStatus, at: datetime, *, error: dict[str, Any] | None = None
) -> None:
    row.status = status
    row.history = [*row.history, {"status": status, "at": at.isoformat()}]
    if error is not None:
        row.error = error
