"""The storefront chat API: `POST /v1/chat` (and `/v1/chat/stream`) answers one shopper message for the key's tenant;
`POST /v1/chat/feedback` takes the shopper's thumbs up or down on one of the replies in their session.

Browsers call it from the shops' own sites, so it also owns who may: CORS limited to the origins the key's
tenant allows, and rate limits on the chat endpoints per shopper session, per client address and per key.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat_ui.chrome import WIDGET_TEXT, accepted, widget_language
from chat_ui.handoff_news import announce_handoff
from graphs.turns import HUMAN_ROLE, Speaker, TurnResult
from hub.constants import (
    CHAT_CLIENT_RATE_LIMIT_KEY,
    CHAT_RATE_LIMIT_KEY,
    CHAT_SESSION_LOCK,
    CHAT_SESSION_RATE_LIMIT_KEY,
)
from hub.db import models as m
from hub.feedback import RATINGS, assistant_message, rate
from hub.http.clients import ProxyNetwork, client_of, origin_of
from hub.http.deps import Authenticated, Resources, Session, Storefront, resources
from hub.http.errors import BODY_ERRORS, KEY_ERRORS, ApiError, error_body, error_responses
from hub.http.limits import MAX_JSON_BODY, NO_NUL
from hub.languages import Language
from hub.leases import Busy, held
from hub.quality import maybe_judge
from hub.settings import Settings
from hub.tenancy.config import TenantConfig
from tools.context import Audience

router = APIRouter(
    prefix="/v1",
    tags=["chat"],
    responses=error_responses(*KEY_ERRORS, (403, "The browser's origin is not one the key's shop allows.")),
    max_body_size=MAX_JSON_BODY,
)
_WORDS_PER_DELTA = 4


CORS_PATH_PREFIX = "/v1/chat"
"""Every route under this prefix is called by the widget from a shop's site."""
_CORS_METHODS = ("GET", "POST")
_CORS_REQUEST_HEADERS = ("Content-Type", "X-Hub-Key", "X-Request-ID")
_CORS_EXPOSED_HEADERS = "Retry-After, X-Request-ID"
_PREFLIGHT_MAX_AGE_S = 600
_CONFIRMED_ORIGIN = "cors_origin"
"""Request-state key: the origin the route admitted for the key's tenant."""
_REFUSED_ORIGIN = "cors_refused"
"""Request-state key: the route refused the origin for the key's tenant."""


# --- origins ------------------------------------------------------------------------------------------


def tenant_origins(settings: Mapping[str, Any] | None) -> frozenset[str]:
    """Return the browser origins a tenant's settings column allows (`allowed_origins`, normalised)."""
    found = (origin_of(str(url)) for url in (settings or {}).get("allowed_origins", []))
    return frozenset(origin for origin in found if origin)


class KnownOrigins:
    """Every origin some active tenant allows, read from the database now and then.

    A preflight cannot name its tenant, so it is checked against this set. An origin not in the set
    re-reads it (at most every `min_refresh_s`), so a site a shop has just allowed works within seconds;
    the set is re-read whenever it is older than `max_age_s`, so a removed site stops passing preflights.
    """

    def __init__(self, *, max_age_s: float = 60.0, min_refresh_s: float = 2.0) -> None:
        self._max_age_s = max_age_s
        self._min_refresh_s = min_refresh_s
        self._origins: frozenset[str] = frozenset()
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def contains(self, origin: str | None, sessions: async_sessionmaker[AsyncSession]) -> bool:
        if origin is None:
            return False
        loaded_at = self._loaded_at
        age = math.inf if loaded_at is None else time.monotonic() - loaded_at
        if age >= self._max_age_s or (origin not in self._origins and age >= self._min_refresh_s):
            await self._refresh(sessions, seen=loaded_at)
        return origin in self._origins

    async def _refresh(self, sessions: async_sessionmaker[AsyncSession], *, seen: float | None) -> None:
        async with self._lock:
            if self._loaded_at != seen:  # another request re-read it while this one waited
                return
            async with sessions() as session:
                rows = await session.execute(select(m.Tenant.settings).where(m.Tenant.active.is_(True)))
                self._origins = frozenset().union(*(tenant_origins(s) for s in rows.scalars()))
            self._loaded_at = time.monotonic()


class ChatCorsMiddleware:
    """Answer CORS for the chat API: preflights for any origin some shop allows, requests per key's shop.

    A preflight carries no key, so it is answered for any origin that some active tenant allows; the
    request that follows is checked against its own key's tenant by `shopper_origin`, which refuses a
    foreign origin with 403 before any work is done. A response gets `Access-Control-Allow-Origin` when
    the route admitted the origin, or, for an error raised before the key was known (a 401), when some
    tenant allows the origin, so the widget can read why it failed; never for a refused origin.
    """

    def __init__(self, app: ASGIApp, known: KnownOrigins | None = None) -> None:
        self.app = app
        self.known = known or KnownOrigins()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path != CORS_PATH_PREFIX and not path.startswith(CORS_PATH_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            response = await self._preflight(scope, origin, headers)
            await response(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.add_vary_header("Origin")
                if state.get(_CONFIRMED_ORIGIN) == origin or (
                    not state.get(_REFUSED_ORIGIN) and await self._known(scope, origin)
                ):
                    out["Access-Control-Allow-Origin"] = origin
                    out["Access-Control-Expose-Headers"] = _CORS_EXPOSED_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _known(self, scope: Scope, origin: str) -> bool:
        return await self.known.contains(origin_of(origin), scope["app"].state.resources.sessions)

    async def _preflight(self, scope: Scope, origin: str, headers: Headers) -> Response:
        method = headers["access-control-request-method"].strip().upper()
        requested = {h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",")}
        extra = sorted(requested - {h.lower() for h in _CORS_REQUEST_HEADERS} - {""})
        if not await self._known(scope, origin):
            problem = f"origin {origin!r} is not allowed by any shop"
        elif method not in _CORS_METHODS:
            problem = f"method {method!r} is not allowed; the chat API takes {' and '.join(_CORS_METHODS)}"
        elif extra:
            problem = f"request headers {extra} are not allowed; the chat API takes {', '.join(_CORS_REQUEST_HEADERS)}"
        else:
            return Response(
                status_code=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": ", ".join(_CORS_METHODS),
                    "Access-Control-Allow-Headers": ", ".join(_CORS_REQUEST_HEADERS),
                    "Access-Control-Max-Age": str(_PREFLIGHT_MAX_AGE_S),
                    "Vary": "Origin",
                },
            )
        return JSONResponse(error_body("cors_refused", problem), status_code=403, headers={"Vary": "Origin"})


async def shopper_origin(request: Request, auth: Storefront, session: Session) -> Authenticated:
    """Admit a browser request whose origin the key's tenant allows (or the hub's own pages); 403 otherwise."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser's cross-origin call: nothing for CORS to protect
        return auth
    normal = origin_of(origin)
    if normal is None or normal != origin_of(str(request.base_url)):
        tenant = await session.get(m.Tenant, auth.caller.tenant_id)
        if normal not in tenant_origins(tenant.settings if tenant else None):
            setattr(request.state, _REFUSED_ORIGIN, True)
            raise ApiError(
                403,
                "origin_not_allowed",
                f"origin {origin!r} may not use this key; the shop can add it to its allowed_origins",
            )
    setattr(request.state, _CONFIRMED_ORIGIN, origin)
    return auth


ShopperOrigin = Annotated[Authenticated, Depends(shopper_origin)]


# --- rate limits --------------------------------------------------------------------------------------


SESSION_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
"""A widget session id, as the widget makes them (chat, ratings and the people's-replies poll all take one)."""


class ChatIn(BaseModel):
    # Shoppers' widgets of another version may send fields this one does not know: they are ignored (the body is
    # bounded, so they cost nothing), while a missing or misspelt `message` still gets a 422 naming it.
    model_config = ConfigDict(extra="ignore")

    session_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=SESSION_ID_PATTERN,
        description="The widget's session id; one conversation per session.",
    )
    message: str = Field(min_length=1, max_length=4000, pattern=NO_NUL, description="What the shopper wrote.")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # Spaces, line breaks and invisible format characters (a zero-width space) are no message either.
        if not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in value):
            raise ValueError("message has no text: only spaces or invisible characters")
        return value


_SLIDING_WINDOWS_LUA = """
-- KEYS: one sorted set per limit. ARGV: window (ms), this request's member, then each key's limit.
-- Counts the request in every window only when every window has room, so a refused request counts in none.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local hit, wait = 0, 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[i + 2]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local this_wait = tonumber(oldest[2]) + window - now
    if hit == 0 or this_wait > wait then
      hit, wait = i, this_wait
    end
  end
end
if hit > 0 then
  return {hit, wait}
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, window)
end
return {0, 0}
"""


class LimitScope(StrEnum):
    """What one chat rate limit counts messages of, most specific first."""

    SESSION = "session"
    CLIENT = "client"
    KEY = "key"


_SCOPE_PHRASES = {
    LimitScope.SESSION: "messages {per} in this chat session",
    LimitScope.CLIENT: "messages {per} from this address",
    LimitScope.KEY: "chat messages {per} with this shop's key",
}


@dataclass(frozen=True)
class RateLimited:
    """A refused chat message: `scope` is the full limit that holds it back longest, `requests` what it allows."""

    scope: LimitScope
    requests: int
    window_s: float
    retry_after_s: int
    """Whole seconds until every full window has room again."""

    @property
    def message(self) -> str:
        per = "a minute" if self.window_s == 60 else f"in {self.window_s:g} s"
        what = _SCOPE_PHRASES[self.scope].format(per=per)
        return f"more than {self.requests} {what}; retry in {self.retry_after_s} s"


@dataclass(frozen=True)
class ChatRateLimit:
    """Sliding-window limits on chat messages, in Redis: per shopper session, per client address, and per API key.

    The storefront key is public (every page of the shop carries it), so the per-key limit is only a ceiling
    over all of a shop's shoppers; the session and address limits keep one noisy visitor from spending it.
    Sessions and addresses are counted per shop. All windows are checked and counted in one Redis call, and a
    request refused by any limit counts in none, so a client that retries early does not push its wait out.
    """

    per_session: int
    per_client: int
    per_key: int
    window_s: float = 60.0
    trusted_proxies: tuple[ProxyNetwork, ...] = ()
    """Peers whose `X-Forwarded-For` names the client; any other peer is the client."""

    def client_of(self, request: Request) -> str:
        """Return the address `request` is limited by (see `client_address`)."""
        return client_of(request, self.trusted_proxies)

    async def acquire(
        self, redis: aioredis.Redis, *, tenant_id: uuid.UUID, session_id: str, client: str, key_prefix: str
    ) -> RateLimited | None:
        """Count one message in every window; return None when it may go ahead, else the limit that refused it."""
        windows = {
            LimitScope.SESSION: (f"{CHAT_SESSION_RATE_LIMIT_KEY}:{tenant_id}:{session_id}", self.per_session),
            LimitScope.CLIENT: (f"{CHAT_CLIENT_RATE_LIMIT_KEY}:{tenant_id}:{client}", self.per_client),
            LimitScope.KEY: (f"{CHAT_RATE_LIMIT_KEY}:{key_prefix}", self.per_key),
        }
        script = redis.register_script(_SLIDING_WINDOWS_LUA)
        hit, wait_ms = await script(
            keys=[key for key, _ in windows.values()],
            args=[math.ceil(self.window_s * 1000), uuid.uuid4().hex, *(limit for _, limit in windows.values())],
        )
        if not int(hit):
            return None
        scope = list(windows)[int(hit) - 1]
        return RateLimited(
            scope=scope,
            requests=windows[scope][1],
            window_s=self.window_s,
            retry_after_s=max(1, math.ceil(int(wait_ms) / 1000)),
        )


def rate_limit(settings: Settings) -> ChatRateLimit:
    """Return the chat limits `HUB_CHAT_RATE_LIMIT_*` and `HUB_TRUSTED_PROXIES` set (`app.state.chat_rate_limit`)."""
    return ChatRateLimit(
        per_session=settings.chat_rate_limit_per_session_per_minute,
        per_client=settings.chat_rate_limit_per_client_per_minute,
        per_key=settings.chat_rate_limit_per_minute,
        window_s=60.0,
        trusted_proxies=tuple(settings.trusted_proxies),
    )


async def shopper_within_limits(request: Request, body: ChatIn, auth: ShopperOrigin) -> Authenticated:
    """Admit a chat message under its session's, client's and key's rate limits; 429 with Retry-After otherwise.

    It takes the parsed body, the same one the route gets, because the session limit needs its `session_id`;
    a body that does not validate is refused with 422 before anything is counted.
    """
    return await _within_limits(request, body.session_id, auth)


async def _within_limits(request: Request, session_id: str, auth: Authenticated) -> Authenticated:
    limit: ChatRateLimit = request.app.state.chat_rate_limit
    refused = await limit.acquire(
        request.app.state.resources.redis,
        tenant_id=auth.caller.tenant_id,
        session_id=session_id,
        client=limit.client_of(request),
        key_prefix=auth.caller.key_prefix,
    )
    if refused is not None:
        raise ApiError(429, "rate_limited", refused.message, headers={"Retry-After": str(refused.retry_after_s)})
    return auth


Shopper = Annotated[Authenticated, Depends(shopper_within_limits)]


class FeedbackIn(BaseModel):
    """A shopper's thumb on one of the assistant's replies in their widget session."""

    model_config = ConfigDict(extra="ignore")

    session_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=SESSION_ID_PATTERN,
        description="The widget's session id: the reply must be in this session's conversation.",
    )
    message_id: uuid.UUID = Field(description="The reply's `message_id`, as `POST /v1/chat` returned it.")
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=1000, pattern=NO_NUL, description="What the shopper adds.")


async def rater_within_limits(request: Request, body: FeedbackIn, auth: ShopperOrigin) -> Authenticated:
    """Count a rating like a chat message, in its session's, client's and key's windows."""
    return await _within_limits(request, body.session_id, auth)


Rater = Annotated[Authenticated, Depends(rater_within_limits)]


# --- routes -------------------------------------------------------------------------------------------


ChatOut = TurnResult


async def _answer(body: ChatIn, auth: Authenticated, session: AsyncSession, request: Request) -> ChatOut:
    tenant = await session.get(m.Tenant, auth.caller.tenant_id)
    assert tenant is not None  # the key lookup joined on an active tenant
    await session.commit()  # end the key and tenant reads: the turn may wait on a model, holding nothing
    res = resources(request)
    settings = res.settings
    try:
        # one message of a session at a time, each seeing the one before: a double tap on "Yes" confirms once
        async with held(
            res.redis,
            f"{CHAT_SESSION_LOCK}:{tenant.id}:{body.session_id}",
            lease_s=settings.chat_lock_lease_s,
            wait_s=settings.chat_lock_s,
        ):
            result = await request.app.state.conversations.turn(
                session=session,
                tenant=tenant,
                speaker=Speaker(audience=Audience.CUSTOMER, channel=m.Channel.WEB, external_ref=body.session_id),
                text=body.message.strip() or body.message,
                request_id=request.state.request_id,
            )
            await session.commit()
    except Busy as e:
        raise ApiError(
            409,
            "session_busy",
            f"the previous message in this session is still being answered after {settings.chat_lock_s:g} s; "
            "send this one again when it is",
            headers={"Retry-After": "5"},
        ) from e
    await announce_handoff(session, res.jobs, tenant.id, result)
    await maybe_judge(res.jobs, settings, tenant.id, result.message_id)
    return result


_TURN_ERRORS = error_responses(
    *BODY_ERRORS,
    (
        429,
        "Too many messages in this session, from this address or with this key, or too many invalid keys from this "
        "address; wait Retry-After s.",
    ),
    (409, "The session's previous message is still being answered (longer than HUB_CHAT_LOCK_S); send it again."),
)


@router.post("/chat", responses=_TURN_ERRORS)
async def chat(body: ChatIn, auth: Shopper, session: Session, request: Request) -> ChatOut:
    """Answer one shopper message; the conversation is kept per (tenant, session id)."""
    return await _answer(body, auth, session, request)


class FeedbackOut(BaseModel):
    message_id: uuid.UUID
    rating: Literal["up", "down"]
    """The rating stored: the shopper's first one, when they rated this reply before."""
    recorded: bool
    """False when this reply was rated before in this session: the first rating stands."""


@router.post(
    "/chat/feedback",
    responses=error_responses(
        *BODY_ERRORS,
        (404, "No reply with this id in this session's conversation."),
        (429, "Too many messages or ratings in this session, from this address or with this key; wait Retry-After s."),
    ),
)
async def chat_feedback(body: FeedbackIn, auth: Rater, session: Session) -> FeedbackOut:
    """Rate one of the assistant's replies in this widget session, thumbs up or down; once per reply."""
    conversation = await auth.data.conversations.by_key(m.Channel.WEB, body.session_id)
    message = (
        await assistant_message(session, auth.caller.tenant_id, body.message_id, conversation_id=conversation.id)
        if conversation is not None
        else None
    )
    if message is None:
        raise ApiError(404, "no_such_reply", f"No reply {body.message_id} in this chat session")
    row, recorded = await rate(
        session,
        message,
        source=m.FeedbackSource.SHOPPER,
        rating=RATINGS[body.rating],
        by=f"customer:{m.Channel.WEB.value}",
        comment=body.comment.strip() if body.comment and body.comment.strip() else None,
    )
    await session.commit()
    return FeedbackOut(message_id=message.id, rating="up" if row.rating > 0 else "down", recorded=recorded)


def _event(name: str, data: object) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode()


@router.post(
    "/chat/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **_TURN_ERRORS},
)
async def chat_stream(body: ChatIn, auth: Shopper, session: Session, request: Request) -> StreamingResponse:
    """Answer as server-sent events: `meta`, then `delta` pieces of the reply, then `done` with the choices to
    offer under it (`quick_replies`: tapping one sends its title as the next message).

    The reply is validated whole before its first piece is sent: a shopper never sees model text
    that the validators would have rejected.
    """
    out = await _answer(body, auth, session, request)

    async def events() -> AsyncIterator[bytes]:
        yield _event("meta", out.model_dump(mode="json", exclude={"reply"}))
        words = out.reply.split(" ")
        for start in range(0, len(words), _WORDS_PER_DELTA):
            piece = " ".join(words[start : start + _WORDS_PER_DELTA])
            yield _event("delta", {"text": piece if start == 0 else " " + piece})
        choices = [q.model_dump(mode="json", exclude_none=True) for q in out.quick_replies]
        yield _event("done", {"message_id": str(out.message_id), "quick_replies": choices})

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


class WidgetConfig(BaseModel):
    """What the storefront widget shows of the shop: its name and brand colours."""

    shop_name: str
    primary_colour: str
    accent_colour: str


@router.get("/chat/config")
async def widget_config(auth: ShopperOrigin, session: Session) -> WidgetConfig:
    """Return the key's shop name and brand colours for the chat widget."""
    tenant = await session.get(m.Tenant, auth.caller.tenant_id)
    assert tenant is not None  # the key lookup joined on an active tenant
    brand = TenantConfig.model_validate(tenant.settings or {}).brand
    return WidgetConfig(shop_name=tenant.name, primary_colour=brand.primary_colour, accent_colour=brand.accent_colour)


class WidgetText(BaseModel):
    """The widget's own words (buttons, labels, stock lines, error notes) in the shopper's language."""

    language: Language
    """The shop's language closest to what the browser asked for; the shop's default when none matches."""
    text: dict[str, str]
    """Each of the widget's texts by name; `{shop}`, `{count}`, `{seconds}` and `{label}` are filled in by it."""


@router.get("/chat/text", responses=error_responses(422))
async def widget_text(
    auth: ShopperOrigin,
    session: Session,
    request: Request,
    lang: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[A-Za-z0-9_,; .=-]*$",
            description="The browser's languages, most wanted first, comma-separated (`navigator.languages`); "
            "without it, the request's Accept-Language.",
        ),
    ] = None,
) -> WidgetText:
    """Return the widget's words in the first of the shopper's languages that the shop speaks."""
    tenant = await session.get(m.Tenant, auth.caller.tenant_id)
    assert tenant is not None  # the key lookup joined on an active tenant
    config = TenantConfig.model_validate(tenant.settings or {})
    asked = lang.split(",") if lang else accepted(request.headers.get("accept-language"))
    language = widget_language(asked, languages=config.languages, default=config.default_language)
    return WidgetText(language=language, text=WIDGET_TEXT[language])


@router.get(
    "/chat/products/{sku}/image",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/png": {}}},
        **error_responses((404, "No such product, or it has no photo."), 422),
    },
)
async def product_image(
    auth: ShopperOrigin,
    res: Annotated[Resources, Depends(resources)],
    sku: Annotated[str, Path(max_length=64, pattern=NO_NUL)],
) -> FileResponse:
    """Return the photo of one of the key's shop's products, for the product cards in a chat reply."""
    product = await auth.data.products.by_sku(sku)
    if product is None or not product.active or not product.image_path:
        raise ApiError(404, "no_product_image", f"No photo for SKU {sku!r}")
    tenant_media = (res.settings.media_dir / str(auth.caller.tenant_id)).resolve()
    path = (res.settings.media_dir / product.image_path).resolve()
    if not path.is_relative_to(tenant_media) or not path.is_file():
        raise ApiError(404, "no_product_image", f"No photo for SKU {sku!r}")
    return FileResponse(path, headers={"Cache-Control": "private, max-age=3600", "Vary": "Origin, X-Hub-Key"})


class ChatMessage(BaseModel):
    id: uuid.UUID
    role: str
    """`human` for a person's reply from the console; `assistant` for the bot's."""
    content: str
    created_at: datetime


class ChatMessages(BaseModel):
    """What the widget polls for while a person handles the conversation."""

    handled_by: Literal["bot", "human"]
    messages: list[ChatMessage]
    """Replies from people, oldest first, after `after`."""


MESSAGES_SHOWN = 50


@router.get("/chat/messages", responses=error_responses(422))
async def chat_messages(
    auth: ShopperOrigin,
    session: Session,
    session_id: Annotated[str, Query(min_length=1, max_length=128, pattern=SESSION_ID_PATTERN)],
    after: Annotated[uuid.UUID | None, Query(description="Only replies stored after this message (its id).")] = None,
) -> ChatMessages:
    """Return people's replies in the key's shop's conversation for this widget session, and who handles it."""
    conversation = await auth.data.conversations.by_key(m.Channel.WEB, session_id)
    if conversation is None:
        return ChatMessages(handled_by="bot", messages=[])
    query = select(m.Message).where(
        m.Message.tenant_id == auth.caller.tenant_id,
        m.Message.conversation_id == conversation.id,
        m.Message.role == HUMAN_ROLE,
    )
    if after is not None:
        cursor = await session.get(m.Message, after)
        if cursor is not None and cursor.conversation_id == conversation.id:
            query = query.where(m.Message.created_at > cursor.created_at)
    rows = (await session.execute(query.order_by(m.Message.created_at).limit(MESSAGES_SHOWN))).scalars()
    return ChatMessages(
        handled_by="human" if conversation.status == m.ConversationStatus.HUMAN else "bot",
        messages=[ChatMessage(id=r.id, role=r.role, content=r.content, created_at=r.created_at) for r in rows],
    )
