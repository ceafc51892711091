"""Name the formats a usage report renders to, importable without the report's database and chart code."""

from enum import StrEnum


class ReportFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    HTML = "html"
