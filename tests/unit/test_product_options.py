"""A shop's size and colour options are recognised whatever language it names them in."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.product_options import OptionKind, option_kind, option_value
from tools.engagement import StockLevel, VariantInfo, matching_variants


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        *(
            (n, OptionKind.SIZE)
            for n in ["Size", "taille", "TAILLE", "Größe", "GROESSE", "Talla", "Taglia", "Tamanho", "Maat", "Shoe size"]
        ),
        *((n, OptionKind.COLOUR) for n in ["Color", "Colour", "Couleur", "Farbe", "Färg", "Colore", "Cor", "Kleur"]),
        *((n, OptionKind.MATERIAL) for n in ["Material", "Matière", "Stoff"]),
        *((n, None) for n in ["Style", "Fit", "Length"]),
    ],
)
def test_option_names_in_the_shops_languages_are_read_as_size_colour_or_material(
    name: str, kind: OptionKind | None
) -> None:
    assert option_kind(name) is kind


def test_a_variants_size_is_found_whatever_its_option_is_called() -> None:
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
