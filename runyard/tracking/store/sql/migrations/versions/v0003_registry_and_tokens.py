"""The model registry (models, versions, tags, aliases) and the server's API tokens.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
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
        "api_tokens",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("expires", sa.BigInteger, nullable=True),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_table(
        "registered_models",
        sa.Column("model_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("next_version", sa.Integer, nullable=False),
    )
    fk = sa.ForeignKey("registered_models.model_id", ondelete="CASCADE")
    op.create_table(
        "registered_model_tags",
        sa.Column("model_id", sa.Integer, fk, primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column(
            "model_id",
            sa.Integer,
            sa.ForeignKey("registered_models.model_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    for name, extra in (
        ("model_version_tags", [sa.Column("key", sa.String(250), primary_key=True),
                                sa.Column("value", sa.Text, nullable=False)]),
        ("model_aliases", [sa.Column("alias", sa.String(250), primary_key=True)]),
    ):  # fmt: skip
        version_col = (
            sa.Column("version", sa.Integer, primary_key=True)
            if name == "model_version_tags"
            else sa.Column("version", sa.Integer, nullable=False)
        )
        op.create_table(
            name,
            sa.Column("model_id", sa.Integer, primary_key=True),
            version_col,
            *extra,
            sa.ForeignKeyConstraint(
                ["model_id", "version"],
                ["model_versions.model_id", "model_versions.version"],
                ondelete="CASCADE",
            ),
        )


def downgrade() -> None:
    for name in (
        "model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
        "api_tokens",
    ):
        op.drop_table(name)
