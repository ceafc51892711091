"""ratings of assistant replies: shoppers' thumbs and operators' ratings with corrections

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("correction", sa.Text(), nullable=True),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_reply_feedback_message_id_messages", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_reply_feedback_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reply_feedback"),
        sa.UniqueConstraint("message_id", "source", name="uq_reply_feedback_message_id_source"),
    )
    op.create_index("ix_reply_feedback_tenant_created", "reply_feedback", ["tenant_id", "created_at"])
    op.create_index("ix_reply_feedback_tenant_id", "reply_feedback", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("reply_feedback")
