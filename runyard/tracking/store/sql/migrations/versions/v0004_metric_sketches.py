"""Chart sketches of metric chunks: min and max per block of 64 points, for downsampled reads.

Chunks written before this revision have no sketch; readers compute theirs on the fly.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_sketches",
        sa.Column(
            "chunk_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("metric_chunks.chunk_id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index(
        "ix_metric_sketches_run_key", "metric_sketches", ["run_id", "key", "chunk_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_metric_sketches_run_key", table_name="metric_sketches")
    op.drop_table("metric_sketches")
