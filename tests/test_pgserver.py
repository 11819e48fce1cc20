"""The throw-away PostgreSQL test server (tests/pgserver.py) works end to end."""

from __future__ import annotations

from collections.abc import Iterator

import pgserver
import pytest
import sqlalchemy as sa


@pytest.fixture(scope="session")
def _pg_url() -> Iterator[str]:
    pgserver.require()
    with pgserver.server() as url:
        yield url


@pytest.fixture
def engine(_pg_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(_pg_url)
    try:
        yield eng
    finally:
        eng.dispose()


def test_url_shape(_pg_url: str) -> None:
    url = sa.make_url(_pg_url)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.username, url.database) == ("127.0.0.1", "postgres", "xltemplate")
    assert url.port and url.port != 5432


def test_version_and_encoding(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(sa.text("select version()")).scalar_one().startswith("PostgreSQL ")
        assert conn.execute(sa.text("show server_encoding")).scalar_one() == "UTF8"
        assert conn.execute(sa.text("select current_database()")).scalar_one() == "xltemplate"


def test_jsonb_roundtrip_chinese(engine: sa.Engine) -> None:
    from sqlalchemy.dialects.postgresql import JSONB

    md = sa.MetaData()
    t = sa.Table(
        "pg_smoke",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("doc", JSONB, nullable=False),
    )
    name = "乌海市绩效目标申报表"
    doc = {"单位": "乌海市财政局", "金额": 12345.67, "项目": ["一", "二"], "备注": None}
    with engine.begin() as conn:
        md.drop_all(conn)
        md.create_all(conn)
        conn.execute(t.insert(), [{"id": 1, "name": name, "doc": doc}])
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(t.c.name, t.c.doc)).one()
            assert row.name == name
            assert row.doc == doc
            # Queried inside the server, not just round-tripped by the driver.
            unit = conn.execute(sa.select(t.c.doc["单位"].astext).where(t.c.id == 1)).scalar_one()
            assert unit == "乌海市财政局"
            assert conn.execute(sa.select(sa.func.char_length(t.c.name))).scalar_one() == len(name)
    finally:
        with engine.begin() as conn:
            md.drop_all(conn)
