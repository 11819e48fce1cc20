"""Review and send back: every return that passes the machine check is reviewed (审核), stage by
stage, by the 科室 its department is assigned to; warnings (提示) kept with each copy.

* ``reviews``: every decision (approved | returned), one per copy and stage: the unique
  ``(submission, stage)`` is what lets exactly one of two reviewers deciding at once record it.
* ``submissions.review`` / ``review_stage`` / ``grade``: where the copy's review stands, kept with
  it in the decision's transaction (pending | returned | approved; NULL for a copy with errors or
  that could not be read), and ``submissions.warnings``.
* ``rounds.stages``: the round's review stages (NULL: one stage, 审核).
* ``roster.office``: the 科室 a department is assigned to (归口科室).
* ``users.office`` / ``users.stages``: a reviewer's 科室 and the stages they hold.

A database of the previous release upgrades in place: every copy that passed the machine check
(通过 until now) becomes 待审核 at the first stage; nothing was approved without a review.  Their
warnings are not worked out again (the migration reads no file): copies received from now on
carry them.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("submissions", sa.Column("warnings", JSONType))
    op.add_column("submissions", sa.Column("review", sa.String(20)))
    op.add_column("submissions", sa.Column("review_stage", sa.Integer))
    op.add_column("submissions", sa.Column("grade", sa.String(20)))
    op.create_index("ix_submissions_review", "submissions", ["round_id", "review"])
    # 重新报送: "a copy that replaced one that was reviewed" is asked of every row a page lists
    op.create_index("ix_submissions_superseded_by", "submissions", ["superseded_by"])
    op.execute("UPDATE submissions SET review = 'pending', review_stage = 0 WHERE status = 'valid'")
    op.add_column("rounds", sa.Column("stages", JSONType))
    op.add_column("roster", sa.Column("office", sa.Text))
    op.add_column("users", sa.Column("office", sa.Text))
    op.add_column("users", sa.Column("stages", JSONType))
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("submission", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("round_id", sa.Integer),
        sa.Column("department_code", sa.String(100)),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("stage_name", sa.Text, nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("grade", sa.String(20)),
        sa.Column("reasons", JSONType),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("address", sa.Text),
        sa.UniqueConstraint("submission", "stage", name="ux_reviews_stage"),
    )
    op.create_index("ix_reviews_round", "reviews", ["round_id", "department_code"])


def downgrade() -> None:
    op.drop_index("ix_reviews_round", "reviews")
    op.drop_table("reviews")
    op.drop_column("users", "stages")
    op.drop_column("users", "office")
    op.drop_column("roster", "office")
    op.drop_column("rounds", "stages")
    op.drop_index("ix_submissions_superseded_by", "submissions")
    op.drop_index("ix_submissions_review", "submissions")
    op.drop_column("submissions", "grade")
    op.drop_column("submissions", "review_stage")
    op.drop_column("submissions", "review")
    op.drop_column("submissions", "warnings")
