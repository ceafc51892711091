"""A shop's size and colour options are recognised whatever language it names them in."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.product_options import OptionKind, option_kind, option_value
from tools.engagement import StockLevel, VariantInfo, matching_variants


@pytest.mark.parametrize("name", ["Size", "taille", "Größe", "GROESSE", "Talla", "Taglia", "Tamanho", "Maat"])
def test_size_option_names_in_other_languages(name: str) -> None:
    assert option_kind(name) is OptionKind.SIZE


@pytest.mark.parametrize("name", ["Color", "Colour", "Couleur", "Farbe", "Färg", "Colore", "Cor", "Kleur"])
def test_colour_option_names_in_other_languages(name: str) -> None:
    assert option_kind(name) is OptionKind.COLOUR


def test_other_options_are_neither() -> None:
    assert option_kind("Material") is None and option_kind("Style") is None
    assert option_value({"Material": "Wool", "Größe": "M"}, OptionKind.SIZE) == "M"


def _variant(sku: str, **options: str) -> VariantInfo:
    return VariantInfo(
        sku=sku, options=options, price=Decimal("1"), stock=1, stock_level=StockLevel.IN_STOCK, in_stock=True
    )


def test_size_and_colour_match_the_right_option_case_insensitively() -> None:
    variants = [
        _variant("A", Größe="M", Farbe="Heather Grey"),
        _variant("B", Größe="L", Farbe="Navy"),
        _variant("C", Größe="M", Farbe="Navy"),
    ]
    assert [v.sku for v in matching_variants(variants, size="m", colour="NAVY")] == ["C"]
    assert [v.sku for v in matching_variants(variants, size="M", colour="gray")] == ["A"]
    assert matching_variants(variants, size="XL") == []
