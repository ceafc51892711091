"""trace spans, kill switches, replay marks on usage rows

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trace_spans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_trace_spans_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_spans")),
        sa.UniqueConstraint("trace_id", "span_id", name=op.f("uq_trace_spans_trace_id_span_id")),
    )
    with op.batch_alter_table("trace_spans", schema=None) as batch_op:
        batch_op.create_index("ix_trace_spans_tenant_start", ["tenant_id", "start_ts"], unique=False)
        batch_op.create_index(batch_op.f("ix_trace_spans_trace_id"), ["trace_id"], unique=False)

    op.create_table(
        "kill_switches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("feature", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_kill_switches_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kill_switches")),
        sa.UniqueConstraint("key", name=op.f("uq_kill_switches_key")),
    )

    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replay_of", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.drop_column("replay_of")
    op.drop_table("kill_switches")
    with op.batch_alter_table("trace_spans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trace_spans_trace_id"))
        batch_op.drop_index("ix_trace_spans_tenant_start")
    op.drop_table("trace_spans")
