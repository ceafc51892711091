"""a shop kept in sync: its platform connection (webhook secret) and the platform's ids of each variant

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", sa.JSON(), server_default="{}", nullable=False))
    op.create_table(
        "shop_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_shop_connections_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_connections")),
        sa.UniqueConstraint("tenant_id", "platform", name=op.f("uq_shop_connections_tenant_id_platform")),
    )
    with op.batch_alter_table("shop_connections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_connections_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_table("shop_connections")
    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.drop_column("attributes")
