"""Shared fixtures: the bundled forms, the seed instances, and workbooks built by code."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pgserver
import pytest

from xltemplate.form import forms
from xltemplate.form.forms import load_form
from xltemplate.form.model import FormModel
from xltemplate.xlsx.writer import write_workbook

DATA = Path(__file__).parent / "data"


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _in_a_fresh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own folder (commands that default to ./xltemplate.db stay apart), and
    knows no form versions published by another test's database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(forms, "_REGISTERED", {})
    monkeypatch.setattr(forms, "RECHECK_SECONDS", 0.0)  # tests rewrite form files and load them at once


@pytest.fixture(scope="session")
def pg_url():
    """A real PostgreSQL server on loopback for the session (skipped, or failed in CI, without one)."""
    pgserver.require()
    with pgserver.server() as url:
        yield url


@pytest.fixture(scope="session")
def wuhai() -> FormModel:
    return load_form("wuhai-perf-target")


@pytest.fixture(scope="session")
def expense() -> FormModel:
    return load_form("expense-claim")


@pytest.fixture
def seed0() -> dict[str, Any]:
    return load_json("seed_000.json")


@pytest.fixture
def seed1() -> dict[str, Any]:
    return load_json("seed_001.json")


@pytest.fixture
def make_filled(tmp_path: Path) -> Callable[..., Path]:
    """Write ``model`` filled with ``data`` to a file in tmp_path."""

    def make(model: FormModel, data: Any, name: str = "filled.xlsx", **kw: Any) -> Path:
        path = tmp_path / name
        path.write_bytes(write_workbook(model, copy.deepcopy(data), **kw))
        return path

    return make


def poke(path: Path, model: FormModel, values: dict[str, Any], out: Path | None = None) -> Path:
    """Type values straight into cells with openpyxl, as a clerk pasting over validation would.

    ``values`` maps a field pointer to the raw cell value; the workbook is saved by openpyxl
    (inline strings, formulas without cached values), which the importer must read as well.
    """
    wb = openpyxl.load_workbook(path)
    for pointer, value in values.items():
        f = model.by_pointer[pointer]
        wb[f.sheet].cell(row=f.row + 1, column=f.col + 1).value = value
    out = out or path
    wb.save(out)
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, and a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'results.db'}"
    return new_database(request.getfixturevalue("pg_url"))


def new_database(server_url: str, prefix: str = "t") -> str:
    """The URL of a new, empty database on the PostgreSQL server of ``server_url``."""
    import uuid

    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def write_return(path: Path, model: FormModel, data: Any, *, submission_id: str = "", department: str = "",
                 code: str = "") -> Path:
    """A returned workbook as a department would send it (prefilled by distribute, then filled):
    the department named in the metadata is the one written on the cover."""
    extra = {"department": department, "department_code": code} if department else None
    if department:
        data = copy.deepcopy(data)
        data.setdefault("cover", {})["department"] = department
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(write_workbook(model, copy.deepcopy(data), submission_id=submission_id, extra_meta=extra))
    return path


CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browsers are never installed
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--lang=zh-CN"]


@pytest.fixture(scope="module")
def browser() -> Any:
    """The installed Chromium, driven by Playwright, for the tests of one module."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
        pytest.skip("no /usr/bin/chromium")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()
