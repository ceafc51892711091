"""Validate a tenant's settings column: brand kit, prompt pins, budgets, AI switches, origins."""

from __future__ import annotations

import re
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


class BrandKit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    primary_colour: str = Field(default="#1F2937", pattern=r"^#[0-9A-Fa-f]{6}$")
    accent_colour: str = Field(default="#F59E0B", pattern=r"^#[0-9A-Fa-f]{6}$")
    logo_path: str | None = None
    """Logo image, relative to the media directory."""
    tone: str = Field(default="friendly and concise", description="How the brand writes, for prompts.")
    voice_examples: list[str] = Field(default_factory=list)
    photo_palette: list[str] = Field(
        default_factory=lambda: ["#FFFFFF", "#F4F4F5"],
        description="Background colours product photos may use; the first is the studio default.",
    )
    photo_lora: str | None = None
    """A LoRA for on-brand generated photos (a folder relative to the media directory), or None."""

    @field_validator("photo_palette")
    @classmethod
    def _hex_colours(cls, value: list[str]) -> list[str]:
        if not value or any(not _HEX.match(colour) for colour in value):
            raise ValueError("photo_palette needs at least one colour, each as #RRGGBB")
        return [colour.upper() for colour in value]


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daily_soft: Decimal | None = Field(default=None, ge=0)
    daily_hard: Decimal | None = Field(default=None, ge=0)
    monthly_soft: Decimal | None = Field(default=None, ge=0)
    monthly_hard: Decimal | None = Field(default=None, ge=0)


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)


class TenantConfig(BaseModel):
    """What lives in `tenants.settings`; unknown keys are rejected so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")

    brand: BrandKit = Field(default_factory=BrandKit)
    prompt_pins: dict[str, str] = Field(default_factory=dict)
    """use case → exact prompt version; the runtime never resolves "latest"."""
    budgets: Budgets = Field(default_factory=Budgets)
    ai_enabled: dict[str, bool] = Field(default_factory=dict)
    """feature → switch; a missing feature is on."""
    allowed_origins: list[HttpUrl] = Field(default_factory=list)
    """Storefront origins allowed to call the chat API from a browser."""
    price_overrides: dict[str, ModelPrice] = Field(default_factory=dict)
    """model → negotiated or self-hosted price, replacing the list price for this tenant."""
    retention_days: int | None = Field(default=None, ge=1)
    """Days traces and conversation messages are kept; the scheduled purge deletes older ones (usage rows stay).
    None keeps them forever."""
    redact_pii: bool = False
    """Mask emails, phone numbers and street addresses in stored traces (the messages themselves are kept)."""
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    timezone: str = "UTC"

    def to_column(self) -> dict:
        return self.model_dump(mode="json")
