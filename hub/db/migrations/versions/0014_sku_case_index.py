"""indexes for matching a SKU case-insensitively, so a shopper's "moon-ring-8" needs no scan of the catalog

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TABLES = {"products": "ix_products_tenant_sku_upper", "product_variants": "ix_product_variants_tenant_sku_upper"}


def upgrade() -> None:
    for table, name in _TABLES.items():
        op.create_index(name, table, ["tenant_id", sa.text("upper(sku)")], unique=False)


def downgrade() -> None:
    for table, name in _TABLES.items():
        op.drop_index(name, table_name=table)
