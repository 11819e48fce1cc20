"""The department an audit line concerns, as a column (it was only inside ``detail`` for refused
uploads): a department's page pages its refused uploads in SQL, and the audit log filters by
department.

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
                   "WHERE detail IS NOT NULL AND detail ? 'department_code'")
    else:
        op.execute("UPDATE events SET department_code = json_extract(detail, '$.department_code') "
                   "WHERE detail IS NOT NULL AND json_extract(detail, '$.department_code') IS NOT NULL")
    op.execute("UPDATE events SET department_code = (SELECT s.department_code FROM submissions s "
               "WHERE s.id = events.submission) WHERE department_code IS NULL AND submission IS NOT NULL")
    op.create_index("ix_events_department", "events", ["round_id", "department_code", "action", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_department", "events")
    op.drop_column("events", "department_code")
