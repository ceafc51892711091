"""a shop's policy and help pages as added documents (kind, source file, content hash) and their passages

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policy_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="policy", nullable=False))
        batch_op.add_column(sa.Column("source", sa.String(length=255), server_default="", nullable=False))
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), server_default="", nullable=False))
    passages = op.create_table(
        "knowledge_passages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("heading", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["policy_documents.id"],
            name=op.f("fk_knowledge_passages_document_id_policy_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_knowledge_passages_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_passages")),
    )
    with op.batch_alter_table("knowledge_passages", schema=None) as batch_op:
        batch_op.create_index("ix_knowledge_passages_document", ["document_id", "ordinal"], unique=False)
        batch_op.create_index(batch_op.f("ix_knowledge_passages_tenant_id"), ["tenant_id"], unique=False)
    # Policies written before documents had passages get one passage per paragraph, without a vector: retrieval
    # encodes a passage that has none when it loads the tenant's index.
    docs = sa.table(
        "policy_documents", sa.column("id", sa.Uuid()), sa.column("tenant_id", sa.Uuid()), sa.column("title"),
        sa.column("body"),
    )  # fmt: skip
    rows = [
        {"id": uuid.uuid4(), "document_id": d.id, "tenant_id": d.tenant_id, "ordinal": i, "heading": d.title[:300],
         "text": " ".join(p.split()), "embedding": None}
        for d in op.get_bind().execute(sa.select(docs))
        for i, p in enumerate(p for p in re.split(r"\n\s*\n", d.body) if p.strip())
    ]  # fmt: skip
    if rows:
        op.bulk_insert(passages, rows)


def downgrade() -> None:
    op.drop_table("knowledge_passages")
    with op.batch_alter_table("policy_documents", schema=None) as batch_op:
        batch_op.drop_column("content_hash")
        batch_op.drop_column("source")
        batch_op.drop_column("kind")
