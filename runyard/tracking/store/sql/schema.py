"""The tables of the SQL tracking store, as SQLAlchemy Core objects.

This module describes the schema at the newest migration; the migrations in
``migrations/versions`` create it. A change here needs a new migration.

Metric series are stored in chunks: one ``metric_chunks`` row per (run, key, logged batch)
holding packed little-endian arrays (see :mod:`runyard.tracking.store.sql.codec`), and one
``metric_summaries`` row per (run, key) that search and sort read through its index on
``(experiment_id, key, latest)``. Summary floats hold NULL where the value is NaN.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(250), nullable=False, unique=True),
    sa.Column("artifact_location", sa.Text, nullable=False),
    sa.Column("lifecycle_stage", sa.String(16), nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
)

experiment_tags = sa.Table(
    "experiment_tags",
    metadata,
    sa.Column(
        "experiment_id",
        sa.Integer,
        sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
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
    sa.Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    sa.Index("ix_runs_parent_run_id", "parent_run_id"),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

metric_chunks = sa.Table(
    "metric_chunks",
    metadata,
    sa.Column("chunk_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("steps", sa.LargeBinary, nullable=False),
    sa.Column("vals", sa.LargeBinary, nullable=False),
    sa.Column("timestamps", sa.LargeBinary, nullable=False),
    sa.Index("ix_metric_chunks_run_key", "run_id", "key", "chunk_id"),
)

metric_sketches = sa.Table(
    "metric_sketches",
    metadata,
    sa.Column(
        "chunk_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("metric_chunks.chunk_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Index("ix_metric_sketches_run_key", "run_id", "key", "chunk_id"),
)
"""Chart sketches of chunks (see :mod:`runyard.tracking.store.sql.sketch`), kept apart from
the chunks so that reading them never walks the chunks' large blobs."""

metric_summaries = sa.Table(
    "metric_summaries",
    metadata,
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("experiment_id", sa.Integer, nullable=False),
    sa.Column("latest", sa.Float(precision=53), nullable=True),
    sa.Column("latest_step", sa.BigInteger, nullable=False),
    sa.Column("latest_timestamp", sa.BigInteger, nullable=False),
    sa.Column("min", sa.Float(precision=53), nullable=True),
    sa.Column("max", sa.Float(precision=53), nullable=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Index("ix_metric_summaries_exp_key_latest", "experiment_id", "key", "latest"),
)

applied_batches = sa.Table(
    "applied_batches",
    metadata,
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("batch_id", sa.String(128), primary_key=True),
)

artifact_refs = sa.Table(
    "artifact_refs",
    metadata,
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("path", sa.String(1000), primary_key=True),
    sa.Column("digest", sa.String(200), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("uri", sa.Text, nullable=False),
)

lineage_edges = sa.Table(
    "lineage_edges",
    metadata,
    sa.Column("source_id", sa.String(500), primary_key=True),
    sa.Column("source_kind", sa.String(16), primary_key=True),
    sa.Column("target_id", sa.String(500), primary_key=True),
    sa.Column("target_kind", sa.String(16), primary_key=True),
    sa.Column("relation", sa.String(64), primary_key=True),
    sa.Index("ix_lineage_target", "target_id"),
)

cache_entries = sa.Table(
    "cache_entries",
    metadata,
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)
