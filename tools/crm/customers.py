"""Find customers, show one's profile, and keep notes and tags on them."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, Field, field_validator, model_validator
from slugify import slugify
from sqlalchemy import ColumnElement, func, or_

from hub.db import models as m
from hub.text import PHONE_ONLY
from tools.context import OPERATOR_ONLY, ToolContext, ToolError
from tools.crm.profile import (
    CustomerNote,
    CustomerProfile,
    CustomerRef,
    build_profile,
    customer_by_ref,
    notes_of,
    shop_of,
    tag_contains,
    today_in,
)
from tools.deps import operator, record
from tools.registry import tool


class CustomerCard(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    phone: str | None
    tags: list[str]


class FindCustomersInput(BaseModel):
    query: str = Field(
        min_length=1,
        max_length=200,
        description="Words from the customer's name, email address, phone number or one of their tags, "
        "e.g. `jane gmail`, `+1 555 001 3554` or `vip`. Every word must match.",
    )
    limit: int = Field(default=10, ge=1, le=50, description="How many customers to return, 1 to 50.")


class FindCustomersResult(BaseModel):
    customers: list[CustomerCard]
    total: int
    """How many customers match in all; more than `len(customers)` when the limit cut the list."""


def _matches_word(word: str) -> ColumnElement[bool]:
    w = word.lower()
    conditions = [
        func.lower(m.Customer.name).contains(w, autoescape=True),
        func.lower(m.Customer.email).contains(w, autoescape=True),
        tag_contains(w),
    ]
    digits = re.sub(r"\D", "", word)
    if len(digits) >= 4:
        conditions.append(m.Customer.phone.contains(digits, autoescape=True))
    return or_(*conditions)


def _card(c: m.Customer) -> CustomerCard:
    return CustomerCard(id=c.id, name=c.name, email=c.email, phone=c.phone, tags=list(c.tags or []))


@tool(audiences=OPERATOR_ONLY)
async def find_customers(ctx: ToolContext, args: FindCustomersInput) -> FindCustomersResult:
    """Find customers by name, email address, phone number or tag. Returns their ids for the other customer tools."""
    query = args.query.strip()
    # A phone number typed with spaces or dashes is one search term, compared on its digits.
    words = [re.sub(r"\D", "", query)] if PHONE_ONLY.fullmatch(query) else query.split()
    where = [_matches_word(w) for w in words if w]
    if not where:
        raise ToolError(f"search {args.query!r} has no name, email, phone number or tag to look for")
    rows = await ctx.data.customers.list(*where, order_by=[m.Customer.name, m.Customer.email], limit=args.limit)
    return FindCustomersResult(customers=[_card(c) for c in rows], total=await ctx.data.customers.count(*where))


@tool(audiences=OPERATOR_ONLY)
async def customer_profile(ctx: ToolContext, args: CustomerRef) -> CustomerProfile:
    """One customer's record: contact details, tags, notes, opt-ins, order count, lifetime value, last order, open
    issues and recent orders."""
    customer = await customer_by_ref(ctx, args.customer)
    _, config = await shop_of(ctx)
    profile, _ = await build_profile(ctx, customer, today=today_in(config), currency=config.currency)
    return profile


class AddNoteInput(CustomerRef):
    text: str = Field(
        min_length=1,
        max_length=1000,
        description="The note, as the operator wants it kept, e.g. `Prefers WhatsApp for order updates.`",
    )


class CustomerNotesResult(BaseModel):
    customer_id: uuid.UUID
    notes: list[CustomerNote]
    """Every note on the customer, oldest first, the new one last."""


@tool(audiences=OPERATOR_ONLY, sensitive=True)
async def add_note(ctx: ToolContext, args: AddNoteInput) -> CustomerNotesResult:
    """Add a note to a customer's record, signed by the operator."""
    customer = await customer_by_ref(ctx, args.customer, lock=True)
    op = await operator(ctx)
    by = f"operator:{op.email}" if op is not None else "operator"
    author = (op.name or op.email) if op is not None else "Operator"
    note = {"at": datetime.now(UTC).isoformat(), "author": author, "text": args.text.strip()}
    customer.notes = [*(customer.notes or []), note]  # a new list: JSON columns do not track in-place changes
    await record(ctx, "customer.note_added", str(customer.id), {"text": note["text"]}, by=by)
    await ctx.session.flush()
    return CustomerNotesResult(customer_id=customer.id, notes=notes_of(customer.notes))


def _normalise_tags(tags: list[str]) -> list[str]:
    out = []
    for tag in tags:
        clean = slugify(tag, max_length=32)
        if not clean:
            raise ValueError(f"tag {tag!r} has no letters or digits")
        if clean not in out:
            out.append(clean)
    return out


class TagCustomerInput(CustomerRef):
    add: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Tags to add, e.g. `vip` or `gift buyer` (stored lowercase with hyphens: `gift-buyer`).",
    )
    remove: list[str] = Field(default_factory=list, max_length=10, description="Tags to remove.")

    @field_validator("add", "remove")
    @classmethod
    def _clean(cls, tags: list[str]) -> list[str]:
        return _normalise_tags(tags)

    @model_validator(mode="after")
    def _something_to_do(self) -> TagCustomerInput:
        if not self.add and not self.remove:
            raise ValueError("give at least one tag to add or remove")
        if overlap := set(self.add) & set(self.remove):
            raise ValueError(f"tags {sorted(overlap)} are both added and removed")
        return self


class CustomerTagsResult(BaseModel):
    customer_id: uuid.UUID
    tags: list[str]
    added: list[str]
    """Tags that were not there before."""
    removed: list[str]
    """Tags that were there and are gone."""


@tool(audiences=OPERATOR_ONLY, sensitive=True)
async def tag_customer(ctx: ToolContext, args: TagCustomerInput) -> CustomerTagsResult:
    """Add or remove tags on a customer, e.g. `vip`."""
    customer = await customer_by_ref(ctx, args.customer, lock=True)
    before = list(customer.tags or [])
    removed = [t for t in args.remove if t in before]
    added = [t for t in args.add if t not in before]
    customer.tags = [t for t in before if t not in removed] + added
    if added or removed:
        await record(ctx, "customer.tagged", str(customer.id), {"added": added, "removed": removed})
        await ctx.session.flush()
    return CustomerTagsResult(customer_id=customer.id, tags=list(customer.tags), added=added, removed=removed)
