"""Price a model attempt in Decimal from the versioned price table and tenant overrides."""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from hub.tenancy.config import ModelPrice

PRICES_FILE = Path(__file__).with_name("prices.toml")
PER_TOKEN = Decimal(1_000_000)
UNPRICED = "unpriced"


@dataclass(frozen=True, slots=True)
class Price:
    version: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / PER_TOKEN


@dataclass(frozen=True, slots=True)
class PriceList:
    id: str
    effective_from: date
    models: dict[str, ModelPrice]


class PriceTable:
    """Price lists by effective date; a row is priced by the list in force when it happened."""

    def __init__(self, versions: list[PriceList]) -> None:
        self._versions = sorted(versions, key=lambda v: v.effective_from)
        self._starts = [v.effective_from for v in self._versions]

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceTable:
        raw = tomllib.loads(path.read_text())
        versions = [
            PriceList(
                id=v["id"],
                effective_from=v["effective_from"],
                models={name: ModelPrice(input=p["input"], output=p["output"]) for name, p in v["models"].items()},
            )
            for v in raw["versions"]
        ]
        return cls(versions)

    def price(self, model: str, at: datetime, overrides: dict[str, ModelPrice] | None = None) -> Price:
        """Return the tenant's override for the model, else the list price in force, else zero."""
        if overrides and model in overrides:
            o = overrides[model]
            return Price("tenant-override", o.input, o.output)
        index = bisect_right(self._starts, at.date()) - 1
        if index >= 0:
            version = self._versions[index]
            if model in version.models:
                p = version.models[model]
                return Price(version.id, p.input, p.output)
        return Price(UNPRICED, Decimal(0), Decimal(0))
