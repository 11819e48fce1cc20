"""What one upload through a department's link costs the database: a budget of SQL statements,
counted at the driver for the whole request (the link check, the store's transaction, the page),
on SQLite and on the real PostgreSQL.

The budget (a decision, docs/performance.md): one read before anything is written (the link, with
the round, the department's templates and today's quota use), then one transaction: the current
copies of the return, one INSERT per table the return goes into (the file, the return, its errors,
the form's typed tables: three for the bundled form), the quota, the audit line, a replaced copy's
two UPDATEs; then the department's returns for the page, read once it has committed (out of the
write lock, which keeps every other writer waiting)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.testclient import TestClient
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.collect import links, rounds
from xltemplate.collect.distribute import distribute, read_roster
from xltemplate.collect.store import Store
from xltemplate.form.forms import load_form
from xltemplate.web.app import create_app

#: statements of an upload that is a new return / a corrected copy replacing one (the bundled form:
#: three typed tables), SQLite's BEGIN IMMEDIATE included
NEW_RETURN, CORRECTION = 12, 13


def test_an_upload_through_a_link_stays_within_its_statement_budget(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    model = load_form("wuhai-perf-target")
    roster = roster_file(tmp_path / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"]])
    issued = distribute(model, read_roster(roster), tmp_path / "下发", store=store, year=2021)
    token = links.regenerate(store, rounds.rounds(store)[0].id, "101", "test")
    store.dispose()
    seed = json.loads((Path(__file__).parent / "data" / "seed_000.json").read_text(encoding="utf-8"))

    def filled(n: int, project: str, wrong: bool = False) -> bytes:
        data = as_department(seed, "市信访局", "101", project)
        data["cover"]["preparer"] = f"填报人{n}"
        if wrong:
            data["project"]["function_code"] = "201030"
        return clerk_fills(tmp_path / "下发" / issued[0].file, model, data, tmp_path / "in" / f"{n}.xlsx").read_bytes()

    app = create_app(db_url, tmp_path / "data", run_jobs=False)
    seen: list[str] = []
    with TestClient(app) as client:
        engine = app.state.portal.store.engine
        sa.event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: seen.append(sql))

        def upload(data: bytes) -> list[str]:
            seen.clear()
            answer = client.post(f"/l/{token}/upload", files={"file": ("报表.xlsx", data)})
            assert answer.status_code == 200, answer.text
            return list(seen)

        upload(filled(0, "热身项目"))  # the first upload of a process builds its statements
        first = upload(filled(1, "项目甲", wrong=True))
        corrected = upload(filled(2, "项目甲"))
    stmts: dict[str, Any] = {"new": first, "correction": corrected}
    assert len(first) <= NEW_RETURN, "\n".join(first)
    assert len(corrected) <= CORRECTION, "\n".join(corrected)
    for name, run in stmts.items():
        writes = [i for i, sql in enumerate(run) if not sql.lstrip().upper().startswith(("SELECT", "BEGIN"))]
        # one read before the transaction (the link), one after it: the page's
        before = [sql for sql in run[:writes[0]] if sql.lstrip().upper().startswith("SELECT")]
        assert len(before) == 2 and "links" in before[0], (name, before)  # the link; the current copies
        after = run[writes[-1] + 1:]
        assert len(after) == 1 and "submissions" in after[0], (name, after)  # the page's returns
        # one statement per table written: no row-by-row inserts
        inserts = [sql.split("(")[0].split()[2] for sql in run if sql.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == len(set(inserts)), (name, inserts)
