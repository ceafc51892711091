"""Validate a tenant's settings column: brand kit, prompt pins, budgets, AI switches, origins."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from hub.db.models import OrderStatus
from hub.languages import DEFAULT_LANGUAGE, LANGUAGES, Language

_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$")


def _amount_text(value: object) -> object:
    if isinstance(value, str) and not _AMOUNT.match(value):
        raise ValueError("an amount is a number, or a string of digits like '0.15'")
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount_text),
    Field(ge=0),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _AMOUNT.pattern}]}),
]
"""A non-negative amount of money: a JSON number, or a string of digits (exact, the way it is stored)."""

Origin = Annotated[str, Field(max_length=300, pattern=r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/?$")]
"""A site as a browser names it in `Origin`: `https://shop.example[:port]`, its host in ASCII (punycode for an
international name), nothing after it."""


class BrandKit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    primary_colour: str = Field(default="#1F2937", pattern=r"^#[0-9A-Fa-f]{6}$")
    accent_colour: str = Field(default="#F59E0B", pattern=r"^#[0-9A-Fa-f]{6}$")
    logo_path: str | None = None
    """Logo image, relative to the media directory."""
    tone: str = Field(default="friendly and concise", description="How the brand writes, for prompts.")
    voice_examples: list[str] = Field(default_factory=list)
    photo_palette: list[Annotated[str, Field(pattern=_HEX.pattern)]] = Field(
        default_factory=lambda: ["#FFFFFF", "#F4F4F5"],
        min_length=1,
        description="Background colours product photos may use, each as #RRGGBB; the first is the studio default.",
    )
    photo_lora: str | None = None
    """A LoRA for on-brand generated photos (a folder relative to the media directory), or None."""

    @field_validator("photo_palette")
    @classmethod
    def _upper_case(cls, value: list[str]) -> list[str]:
        return [colour.upper() for colour in value]


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daily_soft: Amount | None = None
    daily_hard: Amount | None = None
    monthly_soft: Amount | None = None
    monthly_hard: Amount | None = None


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Amount
    output: Amount


_BEFORE_FULFILMENT = [OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.PROCESSING]


class OrderPolicy(BaseModel):
    """What shoppers may ask the assistant to do with their orders: returns, cancellations, address changes.

    The assistant only records a request; an operator approves or denies it, and the shop's own system (told by a
    webhook event) refunds or cancels."""

    model_config = ConfigDict(extra="forbid")

    return_window_days: int = Field(default=30, ge=0, le=365)
    """Days after delivery in which an item can be returned."""
    final_sale_tags: list[str] = Field(default_factory=lambda: ["final-sale", "final sale", "no-returns"])
    """A product with one of these tags (case-insensitive) cannot be returned."""
    final_sale_categories: list[str] = Field(default_factory=list)
    """Categories that cannot be returned (case-insensitive), e.g. `Underwear`."""
    ask_condition: StrictBool = True
    """Ask whether the items are unworn, unwashed and have their tags before recording a return."""
    cancellable_statuses: list[OrderStatus] = Field(default_factory=lambda: list(_BEFORE_FULFILMENT))
    """Order statuses in which a cancellation can be requested: before fulfilment."""
    address_change_statuses: list[OrderStatus] = Field(default_factory=lambda: list(_BEFORE_FULFILMENT))
    """Order statuses in which the delivery address can still change."""


class TenantConfig(BaseModel):
    """What lives in `tenants.settings`; unknown keys are rejected so typos do not pass silently, and a switch must be
    JSON's `true` or `false` (`"redact_pii": 0` is refused, as the schema says, not read as false)."""

    model_config = ConfigDict(extra="forbid")

    brand: BrandKit = Field(default_factory=BrandKit)
    prompt_pins: dict[str, str] = Field(default_factory=dict)
    """use case → exact prompt version; the runtime never resolves "latest"."""
    budgets: Budgets = Field(default_factory=Budgets)
    ai_enabled: dict[str, StrictBool] = Field(default_factory=dict)
    """feature → switch; a missing feature is on."""
    allowed_origins: list[Origin] = Field(default_factory=list)
    """Storefront origins allowed to call the chat API from a browser."""
    price_overrides: dict[str, ModelPrice] = Field(default_factory=dict)
    """model → negotiated or self-hosted price, replacing the list price for this tenant."""
    retention_days: int | None = Field(default=None, ge=1)
    """Days traces and conversation messages are kept; the scheduled purge deletes older ones (usage rows stay).
    None keeps them forever."""
    redact_pii: StrictBool = False
    """Mask emails, phone numbers and street addresses in stored traces (the messages themselves are kept)."""
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    timezone: str = "UTC"
    languages: list[Language] = Field(default_factory=lambda: list(LANGUAGES), min_length=1)
    """The languages the shop answers in: a shopper writing in one of them is answered in it, anyone else in
    `default_language`. All that HUB speaks unless the shop narrows it."""
    default_language: Language = DEFAULT_LANGUAGE
    """What the shop answers in when a message does not say its language, or says one the shop does not speak."""
    orders: OrderPolicy = Field(default_factory=OrderPolicy)
    """Returns, cancellations and address changes shoppers may request."""
    webhook_url: Annotated[str, Field(max_length=500, pattern=r"^https?://\S+$")] | None = None
    """Where the shop receives events (`return.requested`, `order.cancel_requested`, …), signed with the shop's
    webhook secret; None keeps events in the outbox unsent."""
    webhook_secret_version: int = Field(default=1, ge=1)
    """Which of the shop's webhook secrets signs its events (`hub.shop_events.delivery.webhook_secret`); rotating the
    secret counts it up, and the secret itself is never stored."""

    @field_validator("languages")
    @classmethod
    def _distinct(cls, value: list[Language]) -> list[Language]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _default_is_spoken(self) -> TenantConfig:
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} is not one of languages {self.languages}")
        return self

    def to_column(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
