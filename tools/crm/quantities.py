"""Read numbers and spans of time as operators and models write them: `twelve`, `1,200`, `5k`, `3 months`."""

from __future__ import annotations

from decimal import Decimal

_NUMBER_WORDS = {
    w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())
} | {"a": 1, "an": 1, "once": 1, "twice": 2}
NUM = r"\d[\d,]*(?:\.\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
"""A number, as regex alternatives: digits (`1,200`, `2.5`) or a word from `zero` to `twelve`."""
UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
"""Days in a unit of time; a month counts as 30 days and a year as 365."""


def read_number(text: str, thousands: bool = False) -> Decimal:
    """Return the value of a number as written (`twelve`, `1,200`, `twice`), times 1000 when `thousands` (`5k`)."""
    value = Decimal(_NUMBER_WORDS[text]) if text in _NUMBER_WORDS else Decimal(text.replace(",", ""))
    return value * 1000 if thousands else value
