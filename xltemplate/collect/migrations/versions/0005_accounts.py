"""Accounts that cannot be raced or listed, and answers that survive a reload.

* ``login_throttle``: failed logins counted per (account name typed, address) and per address,
  each row claimed by one conditional statement before a password is checked
  (:mod:`xltemplate.collect.accounts`).  ``users.failed_logins`` and ``users.locked_until`` are
  no longer used (kept, so that an older release can still open the database).
* ``sessions.flash``: what the page after a redirect shows once (a new link, a new API token, a
  round waiting for confirmation), kept with the session it belongs to.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(10), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("address", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_at", sa.DateTime, nullable=False),
        sa.Column("locked_until", sa.DateTime),
    )
    op.add_column("sessions", sa.Column("flash", JSONType))


def downgrade() -> None:
    op.drop_column("sessions", "flash")
    op.drop_table("login_throttle")
