"""customer segments and content drafts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_drafts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_content_drafts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_drafts")),
    )
    with op.batch_alter_table("content_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_drafts_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_content_drafts_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_content_drafts_tenant_sku", ["tenant_id", "sku"], unique=False)

    op.create_table(
        "customer_segments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_customer_segments_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_segments")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_customer_segments_tenant_id_name")),
    )
    with op.batch_alter_table("customer_segments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_segments_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_segments_tenant_id"))

    op.drop_table("customer_segments")
    with op.batch_alter_table("content_drafts", schema=None) as batch_op:
        batch_op.drop_index("ix_content_drafts_tenant_sku")
        batch_op.drop_index(batch_op.f("ix_content_drafts_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_content_drafts_status"))

    op.drop_table("content_drafts")
