"""What the bureau knows of a file it received, and not what the file says of itself.

* ``events.department_code``: the department an audit line concerns, as a column (it was only
  inside ``detail`` for refused uploads): a department's page pages its refused uploads in SQL,
  and the audit log filters by department.
* ``submissions.received_seq``: a file's place among the files received with it (one import run,
  one bulk upload), which orders copies received together (``collect.current``).
* ``issued.signature``: the signature a template was issued with (``distribute`` signs with the
  installation's key by default).
* ``files.full_size``: the size of a file of which only the head is kept (a refused upload).
* ``link_usage``: uploads and bytes per department link and day (the quota).
* ``settings``: the installation's settings (its signing key, the portal's address).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("events", sa.Column("department_code", sa.String(100)))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("UPDATE events SET department_code = detail->>'department_code' "
                   "WHERE detail IS NOT NULL AND (detail->>'department_code') IS NOT NULL")
    else:
        op.execute("UPDATE events SET department_code = json_extract(detail, '$.department_code') "
                   "WHERE detail IS NOT NULL AND json_extract(detail, '$.department_code') IS NOT NULL")
    op.execute("UPDATE events SET department_code = (SELECT s.department_code FROM submissions s "
               "WHERE s.id = events.submission) WHERE department_code IS NULL AND submission IS NOT NULL")
    op.create_index("ix_events_department", "events", ["round_id", "department_code", "action", "id"])
    op.add_column("submissions", sa.Column("received_seq", sa.Integer))
    op.add_column("issued", sa.Column("signature", sa.String(64)))
    op.add_column("files", sa.Column("full_size", sa.BigInteger))
    op.create_table(
        "link_usage",
        sa.Column("link_id", sa.Integer, sa.ForeignKey("links.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("uploads", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_table("link_usage")
    op.drop_column("files", "full_size")
    op.drop_column("issued", "signature")
    op.drop_column("submissions", "received_seq")
    op.drop_index("ix_events_department", "events")
    op.drop_column("events", "department_code")
