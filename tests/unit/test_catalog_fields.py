"""Reading a catalog's cells: HTML bodies, made-up SKUs and prices (option names: test_product_options.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.catalog import fields
from hub.catalog.fields import FieldError


def test_an_html_body_reads_as_text_without_scripts() -> None:
    html = "<h2>Soft&nbsp;tee</h2><script>alert(1)</script><p>Cotton &amp; linen.</p><ul><li>Cold wash</li></ul>"
    assert fields.html_text(html) == "Soft tee\nCotton & linen.\n- Cold wash"


def test_a_made_up_sku_is_stable_uppercase_and_at_most_64_characters() -> None:
    assert fields.make_sku("linen-shirt", ["M", "Bleu marine"]) == "LINEN-SHIRT-M-BLEU-MARINE"
    long_a = fields.make_sku("a-very-long-handle-" * 5, ["XL", "Navy"])
    long_b = fields.make_sku("a-very-long-handle-" * 5, ["XL", "Sand"])
    assert len(long_a) <= 64 and len(long_b) <= 64 and long_a != long_b
    assert long_a == fields.make_sku("a-very-long-handle-" * 5, ["XL", "Navy"])


@pytest.mark.parametrize(
    ("raw", "amount"),
    [("49.00", "49.00"), ("12,50", "12.50"), ("1,299.00", "1299.00"), ("1.299,00", "1299.00"), ("7", "7.00")],
)
def test_prices_read_as_shops_write_them(raw: str, amount: str) -> None:
    assert fields.price(raw) == Decimal(amount)


@pytest.mark.parametrize("raw", ["free", "-3", "NaN", ""])
def test_a_cell_that_is_not_a_price_is_refused(raw: str) -> None:
    with pytest.raises(FieldError):
        fields.price(raw)


def test_stock_is_never_negative_and_empty_is_zero() -> None:
    assert (fields.stock("-2"), fields.stock(""), fields.stock("7")) == (0, 0, 7)
