"""product sentence vectors for search by meaning, in a table of their own

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A table beside products, not a column on it: on SQLite adding a column rebuilds products and drops the FTS
    # triggers, and writing a vector would fire them.
    op.create_table(
        "product_vectors",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_vectors_product_id_products"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_product_vectors_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product_vectors")),
    )
    op.create_index(op.f("ix_product_vectors_tenant_id"), "product_vectors", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_product_vectors_tenant_id"), table_name="product_vectors")
    op.drop_table("product_vectors")
