"""The initial schema: experiments, runs, params, tags, chunked metrics, artifacts, lineage.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_FLOAT = sa.Float(precision=53)


def _run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("runs.run_id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False, unique=True),
        sa.Column("artifact_location", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "experiment_tags",
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("parent_run_id", sa.String(32), nullable=True),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
    )
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time"])
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])
    for name in ("params", "tags"):
        op.create_table(
            name,
            sa.Column("run_id", sa.String(32), _run_fk(), primary_key=True),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    op.create_table(
        "metric_chunks",
        sa.Column(
            "chunk_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
        ),
        sa.Column("run_id", sa.String(32), _run_fk(), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("steps", sa.LargeBinary, nullable=False),
        sa.Column("vals", sa.LargeBinary, nullable=False),
        sa.Column("timestamps", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_metric_chunks_run_key", "metric_chunks", ["run_id", "key", "chunk_id"])
    op.create_table(
        "metric_summaries",
        sa.Column("run_id", sa.String(32), _run_fk(), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("latest", _FLOAT, nullable=True),
        sa.Column("latest_step", sa.BigInteger, nullable=False),
        sa.Column("latest_timestamp", sa.BigInteger, nullable=False),
        sa.Column("min", _FLOAT, nullable=True),
        sa.Column("max", _FLOAT, nullable=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_metric_summaries_exp_key_latest",
        "metric_summaries",
        ["experiment_id", "key", "latest"],
    )
    op.create_table(
        "applied_batches",
        sa.Column("run_id", sa.String(32), _run_fk(), primary_key=True),
        sa.Column("batch_id", sa.String(128), primary_key=True),
    )
    op.create_table(
        "artifact_refs",
        sa.Column("run_id", sa.String(32), _run_fk(), primary_key=True),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("digest", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
    )
    op.create_table(
        "lineage_edges",
        sa.Column("source_id", sa.String(500), primary_key=True),
        sa.Column("source_kind", sa.String(16), primary_key=True),
        sa.Column("target_id", sa.String(500), primary_key=True),
        sa.Column("target_kind", sa.String(16), primary_key=True),
        sa.Column("relation", sa.String(64), primary_key=True),
    )
    op.create_index("ix_lineage_target", "lineage_edges", ["target_id"])


def downgrade() -> None:
    for name in (
        "lineage_edges",
        "artifact_refs",
        "applied_batches",
        "metric_summaries",
        "metric_chunks",
        "tags",
        "params",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(name)
