"""Reaching the departments: e-mail notices and reminders, and stamped scans bound to their data.

* ``submissions.check_code``: the 校验码 of each copy's data (``collect.checkcode``), computed for
  every copy stored before.
* ``roster.emails``: the department's e-mail addresses (a list; the roster's 邮箱 / email column).
* ``rounds.reach``: which notices a round sends and its reminder plan (None: the defaults).
* ``users.email``: where a reviewer's daily digest goes.
* ``jobs.run_after``: a job retried later (a message the mail server did not take) waits until then.
* ``messages``: every notice and reminder, queued, sent (with the server's answer) or given up.
* ``mail_claims``: one reminder per department, round, kind and day, whatever processes run at once
  (its primary key is the claim).
* ``scans``: the stamped paper copies, each with the 校验码 of the version of the data it signs.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    from xltemplate.collect.checkcode import code_of

    op.add_column("submissions", sa.Column("check_code", sa.String(9)))
    bind = op.get_bind()
    s = sa.table("submissions", sa.column("id", sa.Integer), sa.column("data", JSONType),
                 sa.column("check_code", sa.String(9)))
    last = 0
    while True:  # a thousand copies at a time: a large database is not read into memory at once
        rows = bind.execute(sa.select(s.c.id, s.c.data).where(s.c.id > last, s.c.data.is_not(None))
                            .order_by(s.c.id).limit(1000)).all()
        if not rows:
            break
        bind.execute(s.update().where(s.c.id == sa.bindparam("b_id")).values(check_code=sa.bindparam("b_code")),
                     [{"b_id": r.id, "b_code": code_of(r.data)} for r in rows])
        last = rows[-1].id
    op.add_column("roster", sa.Column("emails", JSONType))
    op.add_column("rounds", sa.Column("reach", JSONType))
    op.add_column("users", sa.Column("email", sa.Text))
    op.add_column("jobs", sa.Column("run_after", sa.DateTime))
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("round_id", sa.Integer),
        sa.Column("department_code", sa.String(100)),
        sa.Column("submission", sa.Integer),
        sa.Column("user_name", sa.String(200)),
        sa.Column("recipients", JSONType, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("answer", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("next_at", sa.DateTime),
        sa.Column("job_id", sa.Integer),
    )
    op.create_index("ix_messages_department", "messages", ["round_id", "department_code", "id"])
    op.create_table(
        "mail_claims",
        sa.Column("kind", sa.String(30), primary_key=True),
        sa.Column("round_id", sa.Integer, primary_key=True),
        sa.Column("department_code", sa.String(210), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("message_id", sa.Integer),
        sa.Column("claimed_at", sa.DateTime, nullable=False),
        sa.Column("claimed_by", sa.Text),
    )
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("round_id", sa.Integer, nullable=False),
        sa.Column("department_code", sa.String(100), nullable=False),
        sa.Column("submission", sa.Integer, nullable=False),
        sa.Column("return_key", sa.Text),
        sa.Column("attachment", sa.String(50), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("file_id", sa.Integer, nullable=False),
        sa.Column("preview_id", sa.Integer),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("pages", sa.Integer),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("uploaded_at", sa.DateTime, nullable=False),
        sa.Column("uploaded_by", sa.Text),
        sa.Column("address", sa.Text),
    )
    op.create_index("ix_scans_return", "scans", ["return_key", "id"])
    op.create_index("ix_scans_department", "scans", ["round_id", "department_code", "id"])


def downgrade() -> None:
    op.drop_index("ix_scans_department", "scans")
    op.drop_index("ix_scans_return", "scans")
    op.drop_table("scans")
    op.drop_table("mail_claims")
    op.drop_index("ix_messages_department", "messages")
    op.drop_table("messages")
    op.drop_column("jobs", "run_after")
    op.drop_column("users", "email")
    op.drop_column("rounds", "reach")
    op.drop_column("roster", "emails")
    op.drop_column("submissions", "check_code")
