"""Collection rounds: rounds, rosters, issued templates, form versions, the audit log; and on
submissions the round, the identity of the return (``return_key``), withdrawal and notes.

Existing submissions keep the identity they had: form and submission id
(``return_key = 'f<form>|sid|<submission id>'``). Should a database hold two current copies of
one submission (two importers raced before this revision made that impossible), the later saved
one stays current and the other is marked superseded, so the unique index can be built.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
CURRENT = "is_current AND return_key IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("form_id", sa.String(200), nullable=False),
        sa.Column("form_version", sa.String(50), nullable=False),
        sa.Column("year", sa.Integer),
        sa.Column("deadline", sa.Date),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("roster_kind", sa.String(20), nullable=False),
        sa.Column("roster_columns", JSONType),
        sa.Column("carried_from", sa.Integer, sa.ForeignKey("rounds.id")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column("closed_at", sa.DateTime),
    )
    op.create_table(
        "roster",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("round_id", sa.Integer, sa.ForeignKey("rounds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("contact", sa.Text),
        sa.Column("project", sa.Text),
        sa.Column("columns", JSONType),
    )
    op.create_index("ix_roster_round", "roster", ["round_id", "code"])
    op.create_table(
        "issued",
        sa.Column("submission_id", sa.String(200), primary_key=True),
        sa.Column("round_id", sa.Integer, sa.ForeignKey("rounds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("roster_id", sa.Integer, sa.ForeignKey("roster.id", ondelete="CASCADE")),
        sa.Column("department_code", sa.String(100), nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("project", sa.Text),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime, nullable=False),
        sa.Column("carried_from", sa.Integer),
        sa.Column("data", JSONType),
    )
    op.create_index("ix_issued_round_id", "issued", ["round_id"])
    op.create_table(
        "form_versions",
        sa.Column("form_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(50), primary_key=True),
        sa.Column("hash", sa.String(32), primary_key=True),
        sa.Column("schema", JSONType, nullable=False),
        sa.Column("layout", JSONType),
        sa.Column("published_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.Text),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("round_id", sa.Integer),
        sa.Column("submission", sa.Integer),
        sa.Column("detail", JSONType),
        sa.Column("address", sa.Text),
    )
    op.create_index("ix_events_submission", "events", ["submission"])
    op.create_index("ix_events_round", "events", ["round_id", "at"])

    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("round_id", sa.Integer))
        batch.add_column(sa.Column("return_key", sa.Text))
        batch.add_column(sa.Column("key_text", sa.Text))
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime))
        batch.add_column(sa.Column("withdrawn_by", sa.Text))
        batch.add_column(sa.Column("withdraw_reason", sa.Text))
        batch.add_column(sa.Column("notes", JSONType))
    conn = op.get_bind()
    conn.execute(sa.text(
        "UPDATE submissions SET return_key = 'f' || form_id || '|sid|' || submission_id "
        "WHERE submission_id IS NOT NULL AND submission_id <> '' AND form_id IS NOT NULL"))
    _one_current_per_return(conn)
    op.create_index("ix_submissions_round_id", "submissions", ["round_id"])
    op.create_index("ix_submissions_return", "submissions", ["return_key"])
    op.create_index("ux_submissions_current_return", "submissions", ["return_key"], unique=True,
                    sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))


def _one_current_per_return(conn: sa.Connection) -> None:
    doubled = conn.execute(sa.text(
        "SELECT return_key FROM submissions WHERE is_current AND return_key IS NOT NULL "
        "GROUP BY return_key HAVING COUNT(*) > 1")).scalars().all()
    for key in doubled:
        rows = conn.execute(sa.text(
            "SELECT id, saved_at, received_at FROM submissions WHERE return_key = :k AND is_current"),
            {"k": key}).all()
        newest = max(rows, key=lambda r: (r.saved_at or r.received_at, r.received_at, r.id))
        for r in rows:
            if r.id != newest.id:
                conn.execute(sa.text("UPDATE submissions SET is_current = :f, superseded_by = :n WHERE id = :i"),
                             {"f": False, "n": newest.id, "i": r.id})
