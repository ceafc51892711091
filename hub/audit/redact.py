"""Mask personal data in what the audit stores: emails, phone numbers and street addresses.

Free text is scanned (emails by pattern, phone numbers with Google's libphonenumber port, which knows every
country's numbering plan, street addresses and postcodes by pattern); structured values under keys that name
personal data (`email`, `phone`, `address`, …) are masked whole, which is what catches a tool's JSON output.
"""

from __future__ import annotations

import re
from typing import Any, cast

import phonenumbers

EMAIL = "[email]"
PHONE = "[phone]"
ADDRESS = "[address]"

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_STREET_RE = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][A-Za-z'.-]*\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Boulevard|Blvd|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Close|"
    r"Square|Sq|Crescent|Parkway|Pkwy|Highway|Hwy|Row|Mews|Gardens|Hill)\b\.?"
)
_POSTCODE_RE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b")
"""UK postcodes: the part of an address that most often travels alone."""
_PERSONAL_KEYS = re.compile(r"(^|_)(email|phone|mobile|address|street|postcode|zip|wa_id)($|_)", re.IGNORECASE)
_REGIONS = ("US", "GB")
"""Regions tried for numbers written without a country code; `+` numbers are read in any region."""


def redact_text(text: str) -> str:
    """Return `text` with emails, phone numbers and street addresses replaced by placeholders."""
    text = _EMAIL_RE.sub(EMAIL, text)
    spans: list[tuple[int, int]] = []
    for region in _REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            spans.append((match.start, match.end))
    for start, end in sorted(set(spans), reverse=True):
        if any(s < start < e or s < end < e for s, e in spans if (s, e) != (start, end) and e - s > end - start):
            continue  # inside a longer match: that one masks it
        text = text[:start] + PHONE + text[end:]
    text = _STREET_RE.sub(ADDRESS, text)
    return _POSTCODE_RE.sub(ADDRESS, text)


def redact(value: Any, *, key: str | None = None) -> Any:
    """Redact a JSON-like value: strings scanned, values under personal keys masked whole."""
    if key is not None and (found := _PERSONAL_KEYS.search(key)) and value not in (None, "", [], {}):
        word = found.group(2).lower()
        placeholder = EMAIL if word == "email" else PHONE if word in ("phone", "mobile", "wa_id") else ADDRESS
        return _mask_all(value, placeholder)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, key=str(k)) for k, v in cast("dict[Any, Any]", value).items()}  # JSON-like: any keys
    if isinstance(value, list):
        return [redact(v) for v in cast("list[Any]", value)]
    return value


def _mask_all(value: Any, placeholder: str) -> Any:
    if isinstance(value, dict):
        return {k: _mask_all(v, placeholder) for k, v in cast("dict[Any, Any]", value).items()}  # JSON-like: any keys
    if isinstance(value, list):
        return [_mask_all(v, placeholder) for v in cast("list[Any]", value)]
    return placeholder if value not in (None, "") else value
