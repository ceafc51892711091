"""returns, cancellations and address changes shoppers ask for; the outbox of events for the shop's webhook

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_OPEN = sa.text("status = 'requested'")


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "order_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("order_number", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("details", sa.String(length=500), nullable=True),
        sa.Column("address", sa.JSON(), nullable=True),
        sa.Column("previous_status", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("conversation_ref", sa.String(length=128), nullable=True),
        sa.Column("proposed_in", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_order_requests_customer_id_customers", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name="fk_order_requests_order_id_orders", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_order_requests_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_order_requests"),
        sa.UniqueConstraint("tenant_id", "reference", name="uq_order_requests_tenant_id_reference"),
    )
    op.create_index("ix_order_requests_order_id", "order_requests", ["order_id"])
    op.create_index("ix_order_requests_tenant_id", "order_requests", ["tenant_id"])
    op.create_index(
        "ix_order_requests_tenant_kind_status", "order_requests", ["tenant_id", "kind", "status", "created_at"]
    )
    op.create_index(
        "uq_order_requests_open",
        "order_requests",
        ["tenant_id", "order_id", "kind"],
        unique=True,
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_outbox_events_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_events"),
    )
    op.create_index("ix_outbox_events_status_due", "outbox_events", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_events_tenant_created", "outbox_events", ["tenant_id", "created_at"])
    op.create_index("ix_outbox_events_tenant_id", "outbox_events", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("outbox_events")
    op.drop_table("order_requests")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("delivered_at")
