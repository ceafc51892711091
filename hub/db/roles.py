"""Name what an API key may reach, importable without SQLAlchemy (the CLI's `--role` choices)."""

from enum import StrEnum


class ApiKeyRole(StrEnum):
    STOREFRONT = "storefront"
    OPERATOR = "operator"
    ADMIN = "admin"
