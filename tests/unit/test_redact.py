"""PII redaction for stored traces: what a shop that asks for it will not find in its audit trail."""

from __future__ import annotations

import pytest

from hub.audit.redact import redact, redact_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+shop@example.co.uk today", "write to [email] today"),
        ("call +44 20 7946 0958 after 5", "call [phone] after 5"),
        ("my cell is (415) 555-2671", "my cell is [phone]"),
        ("ship to 221B Baker Street, London NW1 6XE", "ship to [address], London [address]"),
        ("deliver at 1600 Pennsylvania Ave please", "deliver at [address] please"),
    ],
)
def test_free_text_loses_emails_phones_and_addresses(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Order A-10001 ships on 2026-11-30",
        "The hoodie (SKU-1043) is $80.00, 12 in stock",
        "Refunds take 5-7 business days",
    ],
)
def test_order_numbers_prices_skus_and_dates_are_kept(text: str) -> None:
    assert redact_text(text) == text


def test_structured_values_under_personal_keys_are_masked_whole() -> None:
    tool_output = {
        "order": {"number": "A-10001", "status": "shipped"},
        "customer": {"name": "Jane", "email": "jane@x.example", "phone": "+14155552671"},
        "shipping_address": {"line1": "1 Main St", "city": "Springfield"},
        "notes": ["reach me at jane@x.example"],
    }
    assert redact(tool_output) == {
        "order": {"number": "A-10001", "status": "shipped"},
        "customer": {"name": "Jane", "email": "[email]", "phone": "[phone]"},
        "shipping_address": {"line1": "[address]", "city": "[address]"},
        "notes": ["reach me at [email]"],
    }
