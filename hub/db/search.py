"""Name the full-text index of products that lives beside the models: an FTS5 table on SQLite, a weighted tsvector
column on Postgres. Migration 0012 builds both; triggers (SQLite) and a generated column (Postgres) keep them in step
with every write, so no code that writes products knows about them."""

from __future__ import annotations

from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from sqlalchemy import Column, ColumnElement, Integer, MetaData, Table, Text, literal_column
from sqlalchemy.dialects.postgresql import TSVECTOR

SEARCH_CONFIG = "english"
"""The Postgres text search configuration the search vector was built with; a query must use the same one."""

FTS_WEIGHTS = {"title": 3.0, "kind": 2.5, "colour": 2.0, "detail": 1.5, "description": 1.0}
"""FTS5 columns in table order with the weight `bm25()` gives a match in each: title; category and product type;
colours; material, fit, tags and option values; description."""

TS_RANK_WEIGHTS = "{0.33, 0.5, 0.83, 1.0}"
"""`ts_rank_cd` weights of the D, C, B, A labels (description; detail; category, type and colours; title), in the
proportions of `FTS_WEIGHTS`."""

products_fts = Table(
    "products_fts",
    MetaData(),  # not the models' metadata: create_all and autogenerate must leave the virtual table alone
    Column("rowid", Integer, primary_key=True),
    Column("products_fts", Text),  # FTS5's hidden column named after the table: `MATCH` and `bm25()` take it
    *(Column(name, Text) for name in FTS_WEIGHTS),
)
"""The SQLite index, one row per product, keyed by the product's rowid."""

product_rowid: ColumnElement[int] = literal_column("products.rowid", Integer)
search_vector: ColumnElement[str] = literal_column("products.search_vector", TSVECTOR)
"""The Postgres index: a generated column the models do not declare, as SQLite has no such column."""

_UNDECLARED: dict[NameFilterType, tuple[str, ...]] = {
    "table": ("products_fts",),
    "column": ("search_vector",),
    "index": ("ix_products_search_vector",),
}
"""What migration 0012 made that the models do not declare; FTS5's shadow tables share its table's prefix."""


def include_name(name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames) -> bool:
    """Tell Alembic's comparisons to skip the search index and FTS5's shadow tables: the models do not declare them."""
    return not (name or "").startswith(_UNDECLARED.get(type_, ()))
