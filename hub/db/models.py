"""Declare every table: tenants, keys, operators, catalog, customers, orders, chat, deliveries, usage, audit, jobs,
and the console's threads."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from hub.db.event_status import EventStatus
from hub.db.roles import ApiKeyRole
from hub.knowledge.kinds import KnowledgeKind

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY; Postgres gets a real BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Money = Numeric(12, 2)
Json = JSON()


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCEL_REQUESTED = "cancel_requested"
    """The shopper asked to cancel; the shop has not confirmed it yet (an operator approves or denies)."""
    CANCELLED = "cancelled"
    RETURN_REQUESTED = "return_requested"
    RETURNED = "returned"
    REFUNDED = "refunded"


class ConversationStatus(StrEnum):
    BOT = "bot"
    HUMAN = "human"
    CLOSED = "closed"


class Channel(StrEnum):
    WEB = "web"
    WHATSAPP = "whatsapp"
    CONSOLE = "console"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Planned but not sent yet: the outbox a worker drains, recording the channel's message id."""
    SENDING = "sending"
    """Claimed by a worker, committed before its request goes out; the worker records the answer next. A worker
    that finds a row still `sending` knows its sender stopped in between, and never sends it again."""
    UNCONFIRMED = "unconfirmed"
    """The request went out but its answer was never recorded (the worker stopped, or the answer was lost): the
    customer may or may not have it. Never sent again; a status webhook naming it (`biz_opaque_callback_data`)
    moves it on to `sent`, `delivered` or `read`."""
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    """The channel refused the send or reported it undeliverable; `error` says why."""
    NOT_SENT = "not_sent"
    """Held back on purpose: outside the customer-service window with no template, or the customer opted out."""


class DeliveryKind(StrEnum):
    REPLY = "reply"
    """Free-form text: only inside the customer-service window, and never after an opt-out."""
    TEMPLATE = "template"
    """An approved template: the only message that may go out once the customer-service window has closed."""
    NOTICE = "notice"
    """The confirmation of an opt-out or opt-in: free-form, and sent although the customer just opted out."""


class ImageJobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SCORING = "scoring"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FALLBACK = "fallback"
    FAILED = "failed"
    CANCELLED = "cancelled"


class UsageOutcome(StrEnum):
    OK = "ok"
    INVALID_OUTPUT = "invalid_output"
    """The model answered but parsing, the schema or a business validator rejected it."""
    RETRYABLE_ERROR = "retryable_error"
    """429, 5xx, connection error, timeout, broken stream."""
    ERROR = "error"
    """A request the provider will never accept as sent (400/401/403/404/422)."""
    FALLBACK = "fallback"
    """The deterministic fallback answered; no model was billed."""


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model here is mapped to a Table; DeclarativeBase types it as any FromClause (a subquery, a join).
    __table__: ClassVar[Table]  # pyright: ignore[reportIncompatibleVariableOverride]  # narrowed, never reassigned


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())


class TenantOwned:
    """Mixin for every row that belongs to one tenant; repositories filter on this column."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


class Tenant(Timestamped, Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    """Brand kit, prompt pins, budgets, AI switches, allowed origins (see hub.tenancy.settings)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApiKey(TenantOwned, Timestamped, Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    role: Mapped[ApiKeyRole] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    """Public lookup part of the key, shown in listings; the secret part is only hashed."""
    key_hash: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class Operator(TenantOwned, Timestamped, Base):
    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ChannelAccount(TenantOwned, Timestamped, Base):
    """A tenant's account on an external channel, e.g. its WhatsApp Business phone number."""

    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    channel: Mapped[Channel] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    """WhatsApp `metadata.phone_number_id`: how an inbound webhook finds its tenant."""
    config: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    """Verify token, app secret, access token."""


class Product(TenantOwned, Timestamped, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku"),
        Index("ix_products_tenant_category", "tenant_id", "category"),
        Index("ix_products_tenant_handle", "tenant_id", "handle", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100))
    price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    stock: Mapped[int] = mapped_column(Integer, default=0)
    attributes: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    """Sizes, colours, material, care: whatever the catalog knows."""
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    image_path: Mapped[str | None] = mapped_column(String(500), default=None)
    """Reference photo, relative to the media directory."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    """Shown to shoppers; False for a draft, an unpublished or an archived product (`status` says which)."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now(), onupdate=func.now())
    handle: Mapped[str | None] = mapped_column(String(255), default=None)
    """The shop platform's key for the product (Shopify's Handle, WooCommerce's parent SKU or ID): what a
    re-import matches on. None for products made in HUB."""
    compare_at_price: Mapped[Decimal | None] = mapped_column(Money, default=None)
    """The price before a sale, when the shop shows one (the lowest variant's)."""
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    """`active`, `draft` (not published) or `archived` (gone from the shop's last full export)."""


class ProductVector(TenantOwned, Base):
    """A product's sentence vector for search by meaning, kept beside the product so writing vectors never rewrites
    (or re-indexes) the products table."""

    __tablename__ = "product_vectors"

    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64))
    """sha256 of the text that was encoded (`hub.catalog.vectors.product_text`): a product whose text changed has a
    stale vector."""
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    """Little-endian float32 unit vector from `hub.knowledge.encoder`."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """When the vector was written: with the tenant's count of vectors, what tells a cached matrix it is stale."""


class ProductVariant(TenantOwned, Timestamped, Base):
    """One purchasable version of a product (a size, a colour): its own SKU, price, compare-at price and stock.

    A product with variants keeps the lowest price and the summed stock on its own row, so lists and search read
    one row per product; a question about one size or colour reads its variant.
    """

    __tablename__ = "product_variants"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku"),
        Index("ix_product_variants_product", "product_id", "position"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("products.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    """Option name → value as the shop names them, e.g. {"Size": "M", "Color": "Navy"}."""
    price: Mapped[Decimal] = mapped_column(Money)
    compare_at_price: Mapped[Decimal | None] = mapped_column(Money, default=None)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    grams: Mapped[int | None] = mapped_column(Integer, default=None)
    position: Mapped[int] = mapped_column(Integer, default=0)
    """The shop's order of the variants (1 first)."""
    attributes: Mapped[dict[str, Any]] = mapped_column(Json, default=dict, server_default="{}")
    """What the shop platform knows the variant by: `shopify_variant_id`, `shopify_inventory_item_id` (how an
    inventory webhook finds it)."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now(), onupdate=func.now())


# A SKU a shopper types is matched case-insensitively when no SKU matches it exactly: by these, not by a scan.
Index("ix_products_tenant_sku_upper", Product.tenant_id, func.upper(Product.sku))
Index("ix_product_variants_tenant_sku_upper", ProductVariant.tenant_id, func.upper(ProductVariant.sku))


class ShopPlatform(StrEnum):
    SHOPIFY = "shopify"


class ShopConnection(TenantOwned, Timestamped, Base):
    """A tenant's link to the platform its shop runs on: the webhook secret its pushes are signed with."""

    __tablename__ = "shop_connections"
    __table_args__ = (UniqueConstraint("tenant_id", "platform"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    platform: Mapped[ShopPlatform] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    """`webhook_secret`, stored encrypted (`hub.encryption`)."""


class Customer(TenantOwned, Timestamped, Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("tenant_id", "email"), Index("ix_customers_tenant_phone", "tenant_id", "phone"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    name: Mapped[str] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    notes: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    whatsapp_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)


class Order(TenantOwned, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_orders_tenant_placed", "tenant_id", "placed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    number: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    status: Mapped[OrderStatus] = mapped_column(String(32), index=True)
    items: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    """[{sku, title, quantity, unit_price, size?, colour?}] as sold, prices as strings."""
    subtotal: Mapped[Decimal] = mapped_column(Money)
    shipping: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    shipping_address: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    carrier: Mapped[str | None] = mapped_column(String(64), default=None)
    tracking_number: Mapped[str | None] = mapped_column(String(64), default=None)
    eta: Mapped[date | None] = mapped_column(Date, default=None)
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    """When the carrier delivered it: the return window counts from here (`updated_at` stands in where an import
    did not say)."""


class RequestKind(StrEnum):
    """What a shopper asked the shop to do with an order."""

    RETURN = "return"
    CANCELLATION = "cancellation"
    ADDRESS_CHANGE = "address_change"


class RequestStatus(StrEnum):
    DRAFT = "draft"
    """Proposed to the shopper, not confirmed yet: nobody acts on it, and only a later message of the same
    conversation can confirm it."""
    REQUESTED = "requested"
    """Confirmed by the shopper: waits in the operators' queue."""
    APPROVED = "approved"
    DENIED = "denied"


class OrderRequest(TenantOwned, Timestamped, Base):
    """A return, cancellation or address change a shopper asked for on one of their orders, and the operator's
    decision on it. A request is confirmed once (`draft` → `requested`); the database keeps one open request per
    order and kind, so asking twice never makes two."""

    __tablename__ = "order_requests"
    __table_args__ = (
        UniqueConstraint("tenant_id", "reference"),
        Index("ix_order_requests_tenant_kind_status", "tenant_id", "kind", "status", "created_at"),
        Index(
            "uq_order_requests_open",
            "tenant_id",
            "order_id",
            "kind",
            unique=True,
            postgresql_where=text("status = 'requested'"),
            sqlite_where=text("status = 'requested'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    reference: Mapped[str] = mapped_column(String(32))
    """What the shopper and the operator quote: `RMA-7KQ2M4XD` for a return, `CXL-…`, `ADR-…`."""
    kind: Mapped[RequestKind] = mapped_column(String(16))
    status: Mapped[RequestStatus] = mapped_column(String(16), default=RequestStatus.DRAFT)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    order_number: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"))
    items: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    """For a return: [{sku, title, quantity}] being sent back."""
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    """For a return: a `ReturnReason` value."""
    details: Mapped[str | None] = mapped_column(String(500), default=None)
    """The shopper's own words about why."""
    address: Mapped[dict[str, Any] | None] = mapped_column(Json, default=None)
    """For an address change: the new address, normalised."""
    previous_status: Mapped[str | None] = mapped_column(String(32), default=None)
    """The order's status before the request changed it; a denied cancellation puts it back."""
    channel: Mapped[str] = mapped_column(String(16))
    conversation_ref: Mapped[str | None] = mapped_column(String(128), default=None)
    """The conversation it was asked in (its key on the channel): only that conversation can confirm a draft."""
    proposed_in: Mapped[str | None] = mapped_column(String(32), default=None)
    """The trace of the turn that proposed the draft: a confirmation must come in a later turn."""
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    """The operator's note with the decision."""
    decided_by: Mapped[str | None] = mapped_column(String(200), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now(), onupdate=func.now())


class OutboxEvent(TenantOwned, Base):
    """Something the shop's own systems must hear about (`return.requested`, `order.cancel_requested`, …), written
    in the same transaction as the change it reports and delivered afterwards to the shop's webhook, signed."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_status_due", "status", "next_attempt_at"),
        Index("ix_outbox_events_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[EventStatus] = mapped_column(String(16), default=EventStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class PolicyDocument(TenantOwned, Timestamped, Base):
    """One of the shop's policy or help pages as `hub knowledge add` read it; the agent quotes its passages."""

    __tablename__ = "policy_documents"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    slug: Mapped[str] = mapped_column(String(100))
    """Made from the file name: adding a file of the same name again replaces this document."""
    topic: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    """The readable text of the whole file, headings included."""
    kind: Mapped[KnowledgeKind] = mapped_column(String(16), default=KnowledgeKind.POLICY, server_default="policy")
    source: Mapped[str] = mapped_column(String(255), default="", server_default="")
    """The file name it was added from."""
    content_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """sha256 of the file's bytes: the same file added again changes nothing."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now(), onupdate=func.now())


class KnowledgePassage(TenantOwned, Base):
    """A passage of about 100–200 words of a policy or help page, under its heading, with its sentence vector."""

    __tablename__ = "knowledge_passages"
    __table_args__ = (Index("ix_knowledge_passages_document", "document_id", "ordinal"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("policy_documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    """Its place in the document, from 0."""
    heading: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """Little-endian float32 unit vector from `hub.knowledge.encoder`; None until encoded (rows a migration moved)."""


class Conversation(TenantOwned, Timestamped, Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("tenant_id", "channel", "external_ref"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    channel: Mapped[Channel] = mapped_column(String(16))
    external_ref: Mapped[str] = mapped_column(String(128))
    """Widget session id, WhatsApp number or console thread id."""
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[ConversationStatus] = mapped_column(String(16), default=ConversationStatus.BOT)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now(), onupdate=func.now())
    last_inbound_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    """When the customer last wrote, by the channel's clock: it opens WhatsApp's 24-hour customer-service window."""
    opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    """When the customer opted out (STOP) on this channel; only the confirmation goes out until they write START."""
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    """The language the shopper last wrote in, as far as a message told (`hub.languages`); None until one did."""


class Message(TenantOwned, Timestamped, Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    conversation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    """customer, assistant, human_agent or system."""
    content: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(128), default=None)
    intent: Mapped[str | None] = mapped_column(String(32), default=None)
    engine: Mapped[str | None] = mapped_column(String(16), default=None)
    prompt_version: Mapped[str | None] = mapped_column(String(64), default=None)
    trace_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    meta: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class MessageDelivery(TenantOwned, Timestamped, Base):
    """One send of a stored message to an external channel: a part of a long reply, or the template sent instead.

    Rows are planned as `pending` in the transaction that stores the message (an outbox), so a crash before the
    send loses nothing; a worker sends them in order and the channel's status webhooks move them forward.
    """

    __tablename__ = "message_deliveries"
    __table_args__ = (Index("ix_message_deliveries_conversation_status", "conversation_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    message_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer, default=1)
    """1-based part number within the message; parts go out in this order."""
    kind: Mapped[DeliveryKind] = mapped_column(String(16))
    body: Mapped[dict[str, Any]] = mapped_column(Json)
    """The channel API request body, exactly as it is (or was) sent."""
    status: Mapped[DeliveryStatus] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    external_id: Mapped[str | None] = mapped_column(String(128), default=None, unique=True)
    """The channel's id for the sent message (WhatsApp `wamid`): how status webhooks find this row."""
    error: Mapped[dict[str, Any] | None] = mapped_column(Json, default=None)
    """Why it failed or was held back: `{code, title, details?}`."""
    history: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    """[{status, at}] for every status it was given, in arrival order (channels may report out of order)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Sends that ended without an answer from the channel (retries exhausted, network errors)."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now(), onupdate=func.now())


class FeedbackSource(StrEnum):
    """Who rated a reply: the shopper it was sent to, or an operator reviewing it in the console."""

    SHOPPER = "shopper"
    OPERATOR = "operator"


class TurnJudgement(TenantOwned, Timestamped, Base):
    """A judge's grade of one production reply, sampled in the background (`HUB_EVAL_SAMPLE_PERCENT`): how replies
    fare between eval runs, per use case and language (the console's `/quality`)."""

    __tablename__ = "turn_judgements"
    __table_args__ = (
        UniqueConstraint("message_id"),
        Index("ix_turn_judgements_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    message_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("messages.id", ondelete="CASCADE"))
    use_case: Mapped[str] = mapped_column(String(64))
    prompt_version: Mapped[str | None] = mapped_column(String(64), default=None)
    """`use_case@version` the reply's turn sent to a model; None when the deterministic engine answered."""
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    engine: Mapped[str | None] = mapped_column(String(16), default=None)
    score: Mapped[float] = mapped_column(Float)
    grounded: Mapped[bool] = mapped_column(Boolean)
    issues: Mapped[list[str]] = mapped_column(Json, default=list)


class ReplyFeedback(TenantOwned, Timestamped, Base):
    """A rating of one assistant message: thumbs up (+1) or down (-1), and for an operator what it should have said.

    A message has at most one rating per source: a shopper rates it once (a second tap changes nothing), an
    operator's new rating replaces the last one. Low-rated and corrected replies are the candidates for new golden
    cases (`hub eval candidates`).
    """

    __tablename__ = "reply_feedback"
    __table_args__ = (
        UniqueConstraint("message_id", "source"),
        Index("ix_reply_feedback_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    message_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("messages.id", ondelete="CASCADE"))
    source: Mapped[FeedbackSource] = mapped_column(String(16))
    rating: Mapped[int] = mapped_column(SmallInteger)
    """+1 helpful, -1 not helpful."""
    correction: Mapped[str | None] = mapped_column(Text, default=None)
    """What the reply should have said (an operator's): the reference answer of a golden case adopted from it."""
    comment: Mapped[str | None] = mapped_column(String(1000), default=None)
    by: Mapped[str] = mapped_column(String(200))
    """`customer:<channel>` (a shopper; the message names the conversation) or `operator:<email>`."""


class UsageRecord(Base):
    """One row per model attempt (retries, re-asks and fallbacks included) or image job."""

    __tablename__ = "usage"
    __table_args__ = (Index("ix_usage_tenant_ts", "tenant_id", "ts"), Index("ix_usage_ts", "ts"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenants.id", ondelete="CASCADE"))
    feature: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    prompt_id: Mapped[str | None] = mapped_column(String(128), default=None)
    prompt_version: Mapped[str | None] = mapped_column(String(32), default=None)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 8), default=Decimal(0))
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    trace_id: Mapped[str | None] = mapped_column(String(32), default=None)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    """1 for the first try of a request; counts every transport retry, re-ask and model switch."""
    outcome: Mapped[UsageOutcome] = mapped_column(String(32))
    price_version: Mapped[str | None] = mapped_column(String(32), default=None)
    """Which price table priced this row."""
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    """Why the attempt failed: HTTP status, exception type or the validation errors, shortened."""
    replay_of: Mapped[str | None] = mapped_column(String(36), default=None)
    """The message id a `hub replay` re-ran; null for live traffic. Replays are billed like any call."""


class UsageDaily(Base):
    """Per day × tenant × feature × provider × model aggregates of the usage ledger."""

    __tablename__ = "usage_daily"
    __table_args__ = (UniqueConstraint("day", "tenant_id", "feature", "provider", "model"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenants.id", ondelete="CASCADE"))
    feature: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    calls: Mapped[int] = mapped_column(Integer)
    """Distinct request ids: what callers asked for."""
    attempts: Mapped[int] = mapped_column(Integer)
    """Ledger rows: every attempt, re-ask and fallback."""
    successes: Mapped[int] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer)
    """Rows with attempt > 1."""
    fallbacks: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    estimated_rows: Mapped[int] = mapped_column(Integer)
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 8))
    latency_p50_ms: Mapped[int] = mapped_column(Integer)
    latency_p95_ms: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditEvent(Base):
    """An append-only record of who did what; tenant_id is null only for platform-wide events."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_ts", "tenant_id", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), default=None
    )
    actor: Mapped[str] = mapped_column(String(200))
    """`cli`, `operator:<email>`, `key:<prefix>`, `system`."""
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(200), default=None)
    trace_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class TraceSpan(Base):
    """One span of a turn's trace, shaped like an OpenTelemetry span and stored with the turn's transaction.

    A trace is the tree of spans sharing `trace_id`: the turn at the root, then gateway calls, their
    attempts, tool calls, validation and fallback. `attributes` hold what explains the answer (prompt
    id@version and sha256, rendered messages, raw output, validation errors, tool inputs and outputs),
    redacted when the tenant asks for it.
    """

    __tablename__ = "trace_spans"
    __table_args__ = (
        Index("ix_trace_spans_tenant_start", "tenant_id", "start_ts"),
        UniqueConstraint("trace_id", "span_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenants.id", ondelete="CASCADE"))
    trace_id: Mapped[str] = mapped_column(String(32), index=True)
    span_id: Mapped[str] = mapped_column(String(16))
    parent_span_id: Mapped[str | None] = mapped_column(String(16), default=None)
    name: Mapped[str] = mapped_column(String(128))
    """e.g. `chat.turn`, `gateway.call customer_reply`, `model.attempt`, `tool order_status`."""
    kind: Mapped[str] = mapped_column(String(16))
    """turn, replay, gateway, attempt, tool, validate, fallback."""
    start_ts: Mapped[datetime] = mapped_column(UtcDateTime)
    end_ts: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(8), default="ok")
    """ok or error (OpenTelemetry's status codes)."""
    attributes: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    events: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    """[{name, ts, attributes}]: the gateway's rungs (retry, re-ask, next model, fallback) in order."""


class KillSwitch(Base):
    """An emergency stop, present while it is on: one tenant's feature (or all of them), or one model for everyone.

    The database row is the truth; each flip is published on Redis so every process reloads within a second,
    and each process also polls, so a missed message costs seconds, not correctness.
    """

    __tablename__ = "kill_switches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    """`tenant:<id>:<feature or *>` or `model:<name>`: one row per switch."""
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), default=None
    )
    feature: Mapped[str | None] = mapped_column(String(64), default=None)
    """A gateway feature (`customer_reply`, `seo_copy`, `photography`, …) or `*` for every feature."""
    model: Mapped[str | None] = mapped_column(String(128), default=None)
    reason: Mapped[str] = mapped_column(String(500))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ImageJob(TenantOwned, Timestamped, Base):
    __tablename__ = "image_jobs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    sku: Mapped[str] = mapped_column(String(64))
    brief: Mapped[dict[str, Any]] = mapped_column(Json)
    state: Mapped[ImageJobState] = mapped_column(String(16), default=ImageJobState.QUEUED, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    history: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    """[{state, at}] for every transition."""
    result: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now(), onupdate=func.now())


class ProcessedWebhookEvent(Base):
    """The idempotency ledger: a redelivered webhook event hits the unique key and is dropped."""

    __tablename__ = "processed_webhook_events"
    __table_args__ = (UniqueConstraint("source", "event_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), default=None
    )
    source: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(200))
    """e.g. a WhatsApp message id, or `<status id>:<status>`."""
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())


class ContentKind(StrEnum):
    SEO_COPY = "seo_copy"
    """A `hub.prompting.outputs.SeoProductCopy` for one product page."""


class ContentDraftStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    """Written to the product; only an approved draft gets here."""


class CustomerSegment(TenantOwned, Timestamped, Base):
    """A saved audience: the operator's words, the structured filter parsed from them, and its size at save."""

    __tablename__ = "customer_segments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    """The natural-language description the rule was parsed from, e.g. `VIPs who have not ordered in 60 days`."""
    rule: Mapped[dict[str, Any]] = mapped_column(Json)
    """A `tools.crm.SegmentRule`, as JSON."""
    member_count: Mapped[int] = mapped_column(Integer)
    """Members when the segment was saved; the rule is re-evaluated whenever the segment is used."""
    created_by: Mapped[str] = mapped_column(String(200), default="")


class ContentDraft(TenantOwned, Timestamped, Base):
    """Generated copy waiting for an operator: draft → approved or rejected; approved → published."""

    __tablename__ = "content_drafts"
    __table_args__ = (Index("ix_content_drafts_tenant_sku", "tenant_id", "sku"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    sku: Mapped[str] = mapped_column(String(64))
    kind: Mapped[ContentKind] = mapped_column(String(32), default=ContentKind.SEO_COPY)
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    """The generated content, e.g. a SeoProductCopy as JSON."""
    status: Mapped[ContentDraftStatus] = mapped_column(String(16), default=ContentDraftStatus.DRAFT, index=True)
    generation: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    """How the payload was made: engine, model, prompt_ref, request_id, trace_id."""
    created_by: Mapped[str] = mapped_column(String(200))
    decided_by: Mapped[str | None] = mapped_column(String(200), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    decision_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class EvalRun(Base):
    """One run of a use case's eval suite: which prompt version, model and tenant settings, and its scores.

    Kept for history ("did Tuesday's change make answers worse?") and for `hub prompts pin`, which needs a
    passing run of the version for the tenant being pinned.
    """

    __tablename__ = "eval_runs"
    __table_args__ = (Index("ix_eval_runs_use_case_version", "use_case", "prompt_version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_uuid)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime)
    use_case: Mapped[str] = mapped_column(String(64))
    prompt_version: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    """`deterministic` (no model), `sim` (the CI model) or `llm` (a configured model)."""
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), default=None, index=True
    )
    """Whose pins and models the run used; null for the defaults."""
    fixture: Mapped[str] = mapped_column(String(32), default="demo")
    golden_sha256: Mapped[str] = mapped_column(String(64))
    cases: Mapped[int] = mapped_column(Integer)
    """How many cases of the golden set this run ran."""
    golden_cases: Mapped[int | None] = mapped_column(Integer, default=None)
    """How many cases the golden set had: a run of fewer (`--limit`) is partial and no evidence for a pin. Null on
    runs from before it was recorded, which are not evidence either."""
    metrics: Mapped[dict[str, Any]] = mapped_column(Json)
    per_case: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    passed: Mapped[bool] = mapped_column(Boolean)
    verdict: Mapped[list[str]] = mapped_column(Json, default=list)
    """Why it passed or failed the gate against its baseline."""
    report_dir: Mapped[str | None] = mapped_column(String(500), default=None)


# --- the operator console's thread store ---------------------------------------------------------------
# Chainlit's SQLAlchemy data layer issues its own SQL against these names and camelCase columns, so they are
# plain tables (no ORM classes) on the same metadata: one migration history, one database, and `hub` can
# still purge or export them. A Chainlit user is one operator: its identifier is the operator's id, which
# is unique across tenants where an email is not.

_ConsoleJson = JSON().with_variant(JSONB(), "postgresql")
_ConsoleTags = JSON().with_variant(ARRAY(Text()), "postgresql")


def _thread_fk() -> ForeignKey:
    return ForeignKey("threads.id", ondelete="CASCADE")


console_users = Table(
    "users",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("identifier", Text, nullable=False, unique=True),
    Column("metadata", _ConsoleJson, nullable=False),
    Column("createdAt", Text),
)

console_threads = Table(
    "threads",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("createdAt", Text),
    Column("name", Text),
    Column("userId", Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True),
    Column("userIdentifier", Text),
    Column("tags", _ConsoleTags),
    Column("metadata", _ConsoleJson),
)

console_steps = Table(
    "steps",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("threadId", Uuid, _thread_fk(), nullable=False, index=True),
    Column("parentId", Uuid),
    Column("streaming", Boolean, nullable=False),
    Column("waitForAnswer", Boolean),
    Column("isError", Boolean),
    Column("metadata", _ConsoleJson),
    Column("tags", _ConsoleTags),
    Column("input", Text),
    Column("output", Text),
    Column("createdAt", Text),
    Column("command", Text),
    Column("start", Text),
    Column("end", Text),
    Column("generation", _ConsoleJson),
    Column("showInput", Text),
    Column("language", Text),
    Column("indent", Integer),
    Column("defaultOpen", Boolean),
    Column("autoCollapse", Boolean),
)

console_elements = Table(
    "elements",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("threadId", Uuid, _thread_fk(), index=True),
    Column("type", Text),
    Column("url", Text),
    Column("chainlitKey", Text),
    Column("name", Text, nullable=False),
    Column("display", Text),
    Column("objectKey", Text),
    Column("size", Text),
    Column("page", Integer),
    Column("language", Text),
    Column("forId", Uuid),
    Column("mime", Text),
    Column("props", _ConsoleJson),
)

console_feedbacks = Table(
    "feedbacks",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("forId", Uuid, nullable=False),
    Column("threadId", Uuid, _thread_fk(), nullable=False),
    Column("value", Integer, nullable=False),
    Column("comment", Text),
)

CONSOLE_TABLES = (console_users, console_threads, console_steps, console_elements, console_feedbacks)
