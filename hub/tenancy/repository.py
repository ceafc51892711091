"""Reach tenant-owned rows only through repositories bound to one tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, FromClause, Row, Select, and_, case, delete, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, QueryableAttribute

from hub.db import models as m
from hub.db.upsert import upsert_insert
from hub.text import order_number_spellings


class _TenantRow(Protocol):
    """A mapped model that `m.TenantOwned` gives a tenant, with an id of its own."""

    id: Mapped[uuid.UUID]
    tenant_id: Mapped[uuid.UUID]

    def __init__(self, **kw: Any) -> None: ...


ModelT = TypeVar("ModelT", bound=_TenantRow)

JoinOn = tuple[FromClause, ColumnElement[bool]]
"""A table to join and the condition to join it on."""


class MissingTenantError(TypeError):
    """Raised when a repository is built without a tenant id."""


class TenantRepository(Generic[ModelT]):
    """Queries that always carry `tenant_id = :tenant`; no method takes a tenant argument."""

    model: type[ModelT]

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        if not isinstance(tenant_id, uuid.UUID):  # pyright: ignore[reportUnnecessaryIsInstance]  # for untyped callers
            raise MissingTenantError(f"{type(self).__name__} needs a tenant id, got {tenant_id!r}")
        self.session = session
        self.tenant_id = tenant_id

    def _scoped(self, *where: ColumnElement[bool]):
        return select(self.model).where(self.model.tenant_id == self.tenant_id, *where)

    async def get(self, row_id: uuid.UUID) -> ModelT | None:
        return (await self.session.execute(self._scoped(self.model.id == row_id))).scalar_one_or_none()

    async def one_where(self, *where: ColumnElement[bool]) -> ModelT | None:
        return (await self.session.execute(self._scoped(*where))).scalar_one_or_none()

    async def list(
        self,
        *where: ColumnElement[bool],
        order_by: Sequence[Any] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ModelT]:
        stmt = self._scoped(*where).order_by(*order_by).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def rows(
        self,
        columns: Sequence[ColumnElement[Any] | QueryableAttribute[Any] | type[ModelT]],
        *where: ColumnElement[bool],
        order_by: Sequence[Any] = (),
        limit: int | None = None,
        join: JoinOn | None = None,
    ) -> Sequence[Row[*tuple[Any, ...]]]:
        """Return some columns of this tenant's rows that meet `where`, optionally joined to one more table (a search
        index) that `order_by` may read: cheaper than whole rows when a caller ranks or narrows many and keeps a
        few."""
        stmt = select(*columns).select_from(self.model).where(self.model.tenant_id == self.tenant_id, *where)
        stmt = stmt.order_by(*order_by)
        if join is not None:
            stmt = stmt.join(*join)
        return (await self.session.execute(stmt.limit(limit))).all()

    async def exist_each(self, conditions: Sequence[ColumnElement[bool]]) -> list[bool]:
        """Tell for each condition whether any of this tenant's rows meets it, in one query."""
        if not conditions:
            return []
        found = (exists().where(self.model.tenant_id == self.tenant_id, c) for c in conditions)
        return [bool(x) for x in (await self.session.execute(select(*found))).one()]

    async def count(self, *where: ColumnElement[bool]) -> int:
        stmt = select(func.count()).select_from(self.model).where(self.model.tenant_id == self.tenant_id, *where)
        return (await self.session.execute(stmt)).scalar_one()

    def add(self, **values: Any) -> ModelT:
        """Stage a new row for this tenant; a `tenant_id` in values is refused."""
        if "tenant_id" in values:
            raise ValueError("tenant_id comes from the repository, not from the caller")
        row = self.model(tenant_id=self.tenant_id, **values)
        self.session.add(row)
        return row


class Products(TenantRepository[m.Product]):
    model = m.Product

    async def by_sku(self, sku: str) -> m.Product | None:
        return await self.one_where(m.Product.sku == sku)

    async def by_variant_sku(self, sku: str) -> m.Product | None:
        """Return the product one of whose variants has this SKU."""
        variant = await ProductVariants(self.session, self.tenant_id).by_sku(sku)
        return None if variant is None else await self.get(variant.product_id)

    async def by_any_sku(self, sku: str) -> m.Product | None:
        """Return the product with this SKU, or else the one with a variant of this SKU."""
        return await self.by_sku(sku) or await self.by_variant_sku(sku)

    @staticmethod
    def _matching(text: str | None, category: str | None) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [m.Product.active.is_(True)]
        if category:
            where.append(func.lower(m.Product.category) == category.lower())
        for word in (text or "").replace("\x00", "").split():
            # Autoescaped: a shopper's `%` or `_` is a character to find, not a wildcard.
            title, description = func.lower(m.Product.title), func.lower(m.Product.description)
            where.append(
                title.contains(word.lower(), autoescape=True) | description.contains(word.lower(), autoescape=True)
            )
        return where

    async def search(
        self, text: str | None = None, *, category: str | None = None, limit: int = 20, offset: int = 0
    ) -> list[m.Product]:
        """Return active products whose title or description holds every word of `text`."""
        where = self._matching(text, category)
        return await self.list(*where, order_by=[m.Product.title], limit=limit, offset=offset)

    async def count_matching(self, text: str | None = None, *, category: str | None = None) -> int:
        return await self.count(*self._matching(text, category))


class ProductVariants(TenantRepository[m.ProductVariant]):
    """Each size or colour of a product, with its own SKU, price and stock."""

    model = m.ProductVariant

    async def by_sku(self, sku: str) -> m.ProductVariant | None:
        return await self.one_where(m.ProductVariant.sku == sku)

    async def of_product(self, product_id: uuid.UUID) -> list[m.ProductVariant]:
        """The product's variants in the shop's order."""
        return await self.list(
            m.ProductVariant.product_id == product_id, order_by=[m.ProductVariant.position, m.ProductVariant.sku]
        )

    async def price_ranges(self, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[Decimal, Decimal]]:
        """Lowest and highest variant price of each product that has variants, in one query."""
        if not product_ids:
            return {}
        v = m.ProductVariant
        stmt = (
            select(v.product_id, func.min(v.price), func.max(v.price))
            .where(v.tenant_id == self.tenant_id, v.product_id.in_(product_ids))
            .group_by(v.product_id)
        )
        return {row[0]: (row[1], row[2]) for row in (await self.session.execute(stmt)).all()}


class Customers(TenantRepository[m.Customer]):
    model = m.Customer

    async def by_email(self, email: str) -> m.Customer | None:
        return await self.one_where(func.lower(m.Customer.email) == email.strip().lower())


class Orders(TenantRepository[m.Order]):
    model = m.Order

    async def by_number(self, number: str) -> m.Order | None:
        return await self.one_where(m.Order.number == number.strip().upper())

    async def find(self, number: str) -> m.Order | None:
        """The order a person's spelling of its number names: `#a10001` and `A 10001` find `A-10001`, `1001` finds
        an imported Shopify `#1001` (`hub.text.order_number_spellings`, the likeliest spelling first)."""
        spellings = order_number_spellings(number)
        found = {o.number: o for o in await self.list(m.Order.number.in_(spellings))}
        return next((found[n] for n in spellings if n in found), None)


class Policies(TenantRepository[m.PolicyDocument]):
    """The shop's policy and help pages (`hub knowledge`), each with its passages."""

    model = m.PolicyDocument

    async def by_slug(self, slug: str) -> m.PolicyDocument | None:
        return await self.one_where(m.PolicyDocument.slug == slug)

    async def fingerprint(self) -> list[tuple[uuid.UUID, str, datetime]]:
        """Each document's id, content hash and last change: what the retrieval index is rebuilt on."""
        stmt = (
            select(m.PolicyDocument.id, m.PolicyDocument.content_hash, m.PolicyDocument.updated_at)
            .where(m.PolicyDocument.tenant_id == self.tenant_id)
            .order_by(m.PolicyDocument.id)
        )
        return [(i, h, u) for i, h, u in (await self.session.execute(stmt)).all()]

    async def passages(self) -> list[tuple[m.KnowledgePassage, m.PolicyDocument]]:
        """Every passage of every document, with its document, in document and passage order."""
        stmt = (
            select(m.KnowledgePassage, m.PolicyDocument)
            .join(m.PolicyDocument, m.PolicyDocument.id == m.KnowledgePassage.document_id)
            .where(m.KnowledgePassage.tenant_id == self.tenant_id, m.PolicyDocument.tenant_id == self.tenant_id)
            .order_by(m.PolicyDocument.slug, m.KnowledgePassage.ordinal)
        )
        return [(p, d) for p, d in (await self.session.execute(stmt)).all()]

    async def passage_counts(self) -> dict[uuid.UUID, int]:
        stmt = (
            select(m.KnowledgePassage.document_id, func.count())
            .where(m.KnowledgePassage.tenant_id == self.tenant_id)
            .group_by(m.KnowledgePassage.document_id)
        )
        return {d: n for d, n in (await self.session.execute(stmt)).all()}

    async def replace_passages(self, document: m.PolicyDocument, rows: Sequence[dict[str, Any]]) -> None:
        """Delete the document's passages and insert `rows` (ordinal, heading, text, embedding) in their place."""
        await self.session.execute(
            delete(m.KnowledgePassage).where(
                m.KnowledgePassage.tenant_id == self.tenant_id, m.KnowledgePassage.document_id == document.id
            )
        )
        if rows:
            await self.session.execute(
                insert(m.KnowledgePassage),
                [{**r, "id": uuid.uuid4(), "tenant_id": self.tenant_id, "document_id": document.id} for r in rows],
            )

    async def remove(self, document: m.PolicyDocument) -> None:
        """Delete a document and its passages."""
        await self.replace_passages(document, [])
        await self.session.delete(document)


class ProductVectors:
    """The sentence vectors of a tenant's products (`hub.catalog.vectors` writes them), read for search by meaning.

    Keyed by product rather than an id of its own, so it is not a `TenantRepository`; every query still carries
    the tenant."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        if not isinstance(tenant_id, uuid.UUID):  # pyright: ignore[reportUnnecessaryIsInstance]  # for untyped callers
            raise MissingTenantError(f"{type(self).__name__} needs a tenant id, got {tenant_id!r}")
        self.session = session
        self.tenant_id = tenant_id

    async def version(self) -> tuple[int, datetime | None]:
        """How many vectors the tenant has and when the last was written: one indexed aggregate, read per search to
        tell whether a cached matrix is still current."""
        v = m.ProductVector
        stmt = select(func.count(), func.max(v.updated_at)).where(v.tenant_id == self.tenant_id)
        count, latest = (await self.session.execute(stmt)).one()
        return count, latest

    async def all(self) -> list[tuple[uuid.UUID, bytes]]:
        """Every (product id, vector) of the tenant, in product id order."""
        v = m.ProductVector
        stmt = select(v.product_id, v.vector).where(v.tenant_id == self.tenant_id).order_by(v.product_id)
        return [(i, b) for i, b in (await self.session.execute(stmt)).all()]


class Conversations(TenantRepository[m.Conversation]):
    """Every channel's conversations, each found by its key: (channel, external ref) is unique within a tenant.

    The external ref is the conversation's name on its channel (widget session id, WhatsApp number, console
    thread), so one shopper on two channels has two conversations.
    """

    model = m.Conversation

    def keyed(self, channel: m.Channel, external_ref: str) -> ColumnElement[bool]:
        """The condition that picks this tenant's (channel, external ref) conversation, for a query that joins it
        to other reads."""
        return and_(
            m.Conversation.tenant_id == self.tenant_id,
            m.Conversation.channel == channel,
            m.Conversation.external_ref == external_ref,
        )

    def _by_key(self, channel: m.Channel, external_ref: str) -> Select[m.Conversation]:
        return self._scoped(m.Conversation.channel == channel, m.Conversation.external_ref == external_ref)

    async def by_key(self, channel: m.Channel, external_ref: str) -> m.Conversation | None:
        """The (channel, external ref) conversation; None before its first message is stored."""
        return (await self.session.execute(self._by_key(channel, external_ref))).scalar_one_or_none()

    async def open(
        self,
        channel: m.Channel,
        external_ref: str,
        *,
        customer_id: uuid.UUID | None = None,
        conversation_id: uuid.UUID | None = None,
    ) -> m.Conversation:
        """Create the (channel, external ref) conversation in the session's transaction, or read the one that
        exists: concurrent first messages agree on one row (the unique key decides). The caller commits.

        `conversation_id` is the new row's id (a turn that already wrote it on its messages); a conversation that
        exists keeps its own.
        """
        key = {"tenant_id": self.tenant_id, "channel": channel, "external_ref": external_ref}
        created = await self.session.execute(
            upsert_insert(self.session, m.Conversation)
            .values(id=conversation_id or uuid.uuid4(), customer_id=customer_id, status=m.ConversationStatus.BOT, **key)
            .on_conflict_do_nothing(index_elements=list(key))
            .returning(m.Conversation)
        )
        conversation = created.scalar_one_or_none()
        if conversation is None:
            conversation = (await self.session.execute(self._by_key(channel, external_ref))).scalar_one()
        return conversation


class Messages(TenantRepository[m.Message]):
    model = m.Message


class ImageJobs(TenantRepository[m.ImageJob]):
    model = m.ImageJob


class ApiKeys(TenantRepository[m.ApiKey]):
    model = m.ApiKey


class Operators(TenantRepository[m.Operator]):
    model = m.Operator


class TenantData:
    """Every repository of one tenant over one session: `TenantData(session, tenant_id).orders`.

    Each repository is built on first use: a tool that reads products never builds the customer activity query.
    """

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    @cached_property
    def products(self) -> Products:
        return Products(self.session, self.tenant_id)

    @cached_property
    def product_vectors(self) -> ProductVectors:
        return ProductVectors(self.session, self.tenant_id)

    @cached_property
    def variants(self) -> ProductVariants:
        return ProductVariants(self.session, self.tenant_id)

    @cached_property
    def customers(self) -> Customers:
        return Customers(self.session, self.tenant_id)

    @cached_property
    def orders(self) -> Orders:
        return Orders(self.session, self.tenant_id)

    @cached_property
    def policies(self) -> Policies:
        return Policies(self.session, self.tenant_id)

    @cached_property
    def conversations(self) -> Conversations:
        return Conversations(self.session, self.tenant_id)

    @cached_property
    def messages(self) -> Messages:
        return Messages(self.session, self.tenant_id)

    @cached_property
    def image_jobs(self) -> ImageJobs:
        return ImageJobs(self.session, self.tenant_id)

    @cached_property
    def api_keys(self) -> ApiKeys:
        return ApiKeys(self.session, self.tenant_id)

    @cached_property
    def operators(self) -> Operators:
        return Operators(self.session, self.tenant_id)

    @cached_property
    def segments(self) -> Segments:
        return Segments(self.session, self.tenant_id)

    @cached_property
    def content_drafts(self) -> ContentDrafts:
        return ContentDrafts(self.session, self.tenant_id)

    @cached_property
    def customer_activity(self) -> CustomerActivity:
        return CustomerActivity(self.session, self.tenant_id)


class Segments(TenantRepository[m.CustomerSegment]):
    model = m.CustomerSegment

    async def by_name(self, name: str) -> m.CustomerSegment | None:
        return await self.one_where(func.lower(m.CustomerSegment.name) == name.strip().lower())


class ContentDrafts(TenantRepository[m.ContentDraft]):
    model = m.ContentDraft


LIFETIME_VALUE_EXCLUDES = frozenset(
    {m.OrderStatus.PENDING_PAYMENT, m.OrderStatus.CANCELLED, m.OrderStatus.RETURNED, m.OrderStatus.REFUNDED}
)
"""Orders whose money the shop does not keep: unpaid, cancelled, returned (refund due) and refunded."""


class CustomerActivity:
    """Customers of one tenant joined with their order count, lifetime value and last order, computed in SQL.

    Build filters from the columns (`activity.lifetime_value >= 500`) and pass them to `count` or `list`;
    both tables are always filtered on this tenant.
    """

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        if not isinstance(tenant_id, uuid.UUID):  # pyright: ignore[reportUnnecessaryIsInstance]  # for untyped callers
            raise MissingTenantError(f"{type(self).__name__} needs a tenant id, got {tenant_id!r}")
        self.session = session
        self.tenant_id = tenant_id
        kept = case((m.Order.status.in_([s.value for s in LIFETIME_VALUE_EXCLUDES]), 0), else_=m.Order.total)
        stats = (
            select(
                m.Order.customer_id.label("customer_id"),
                func.count().label("order_count"),
                func.sum(kept).label("lifetime_value"),
                func.max(m.Order.placed_at).label("last_order_at"),
            )
            .where(m.Order.tenant_id == tenant_id)
            .group_by(m.Order.customer_id)
            .subquery("order_stats")
        )
        self._stats = stats
        self.order_count: ColumnElement[int] = func.coalesce(stats.c.order_count, 0)
        """Every order placed, whatever its status."""
        # Rounded in SQL so SQLite's float sums compare and return exactly like Postgres numerics.
        self.lifetime_value: ColumnElement[Decimal] = func.round(
            func.coalesce(stats.c.lifetime_value, 0), 2, type_=m.Money
        )
        """Sum of order totals, excluding LIFETIME_VALUE_EXCLUDES."""
        self.last_order_at: ColumnElement[datetime | None] = stats.c.last_order_at
        """When the latest order of any status was placed; NULL for a customer who never ordered."""

    def _select(self, *columns: Any):
        return (
            select(*columns)
            .select_from(m.Customer)
            .outerjoin(self._stats, self._stats.c.customer_id == m.Customer.id)
            .where(m.Customer.tenant_id == self.tenant_id)
        )

    async def count(self, *where: ColumnElement[bool]) -> int:
        return (await self.session.execute(self._select(func.count()).where(*where))).scalar_one()

    async def list(
        self, *where: ColumnElement[bool], order_by: Sequence[Any] = (), limit: int | None = None
    ) -> list[tuple[m.Customer, int, Decimal, datetime | None]]:
        """Return (customer, order count, lifetime value, last order time) rows."""
        stmt = self._select(m.Customer, self.order_count, self.lifetime_value, self.last_order_at)
        stmt = stmt.where(*where).order_by(*order_by)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [tuple(row) for row in (await self.session.execute(stmt)).all()]
