"""products searchable on the database's own full-text index: FTS5 on SQLite, a weighted tsvector on Postgres

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SEARCH_CONFIG = "english"
"""Postgres text search configuration: `english` stems plurals and -ing forms ("dresses" finds "dress"), which a
shopper's words need; `simple` would only lower-case. One configuration for every tenant until tenants say their
language."""

_FIELDS = ("title", "kind", "colour", "detail", "description")
"""The FTS5 columns, in the order `bm25()` weights them: title, category and type, colours, material, fit, tags and
option values, description."""


def _sqlite_fields(row: str) -> str:
    """SQL for the five FTS5 columns of one products row (`new`, `old` or a table alias)."""

    def attr(path: str) -> str:
        return f"coalesce(json_extract({row}.attributes, '$.{path}'), '')"

    def joined(source: str) -> str:
        """The string values of a JSON list, space-separated; `source` names them `v`."""
        return f"coalesce((SELECT group_concat(v.value, ' ') FROM {source}), '')"

    options = f"json_each({row}.attributes, '$.options') AS o, json_each(o.value) AS v"
    return ", ".join(
        (
            f"{row}.title",
            f"{row}.category || ' ' || {attr('product_type')}",
            joined(f"json_each({row}.attributes, '$.colours') AS v"),
            f"{attr('material')} || ' ' || {attr('fit')} || ' ' || {joined(f'json_each({row}.tags) AS v')} || ' ' || "
            f"{joined(options)}",
            f"{row}.description",
        )
    )


def search_vector_sql(config: str) -> str:
    """The weighted tsvector of a products row under a text search configuration: title A, category, type and
    colours B, material, fit, tags and option values C, description D."""
    c = f"'{config}'::regconfig"
    return (
        f"setweight(to_tsvector({c}, coalesce(title, '')), 'A') || "
        f"setweight(to_tsvector({c}, coalesce(category, '') || ' ' || "
        f"replace(coalesce(attributes->>'product_type', ''), '_', ' ')), 'B') || "
        f"setweight(to_tsvector({c}, coalesce(attributes->'colours', '[]'::json)), 'B') || "
        f"setweight(to_tsvector({c}, coalesce(attributes->>'material', '') || ' ' || coalesce(attributes->>'fit', ''))"
        f" || to_tsvector({c}, tags) || to_tsvector({c}, coalesce(attributes->'options', '{{}}'::json)), 'C') || "
        f"setweight(to_tsvector({c}, coalesce(description, '')), 'D')"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE products ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({search_vector_sql(SEARCH_CONFIG)}) STORED"
        )
        op.execute("CREATE INDEX ix_products_search_vector ON products USING gin (search_vector)")
        return
    columns = ", ".join(_FIELDS)
    # Keyed by the products rowid (kept by VACUUM, as products has indexes), so a trigger finds its row without a
    # scan. A write to stock or price alone leaves the index untouched.
    op.execute(
        f"CREATE VIRTUAL TABLE products_fts USING fts5({columns}, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    insert = f"INSERT INTO products_fts (rowid, {columns}) SELECT new.rowid, {_sqlite_fields('new')};"
    delete = "DELETE FROM products_fts WHERE rowid = old.rowid;"
    op.execute(f"CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN {delete} END")
    op.execute(
        "CREATE TRIGGER products_fts_update AFTER UPDATE OF title, category, description, attributes, tags "
        f"ON products BEGIN {delete} {insert} END"
    )
    op.execute(f"INSERT INTO products_fts (rowid, {columns}) SELECT p.rowid, {_sqlite_fields('p')} FROM products AS p")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_products_search_vector")
        op.execute("ALTER TABLE products DROP COLUMN search_vector")
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER products_fts_{trigger}")
    op.execute("DROP TABLE products_fts")
