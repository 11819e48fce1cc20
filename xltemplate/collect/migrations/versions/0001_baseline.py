"""Baseline: the tables of the release before migrations (submissions and their errors).

A database made by that release is stamped with this revision and upgraded from here; a new
database gets these tables created first.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("saved_at", sa.DateTime),
        sa.Column("form_id", sa.String(200)),
        sa.Column("form_version", sa.String(50)),
        sa.Column("submission_id", sa.String(200)),
        sa.Column("department", sa.Text),
        sa.Column("department_code", sa.String(100)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        sa.Column("superseded_by", sa.Integer, sa.ForeignKey("submissions.id")),
        sa.Column("data", JSONType),
        sa.Column("errors", JSONType),
    )
    op.create_index("ix_submissions_lookup", "submissions", ["submission_id", "form_id", "is_current"])
    op.create_index("ix_submissions_form", "submissions", ["form_id", "status", "is_current"])
    op.create_table(
        "submission_errors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("submission", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False),
        *(sa.Column(name, sa.Text) for name in ("sheet", "cell", "pointer", "label", "value", "message", "code")),
    )
    op.create_index("ix_submission_errors_submission", "submission_errors", ["submission"])
