"""Formula injection: every CSV we write (the 汇总 and its sheets, distribute's manifest.csv), opened in
LibreOffice as a user opens it, holds no formula, whatever roster lines and departments typed; the
list of links keeps such text as text too."""

from __future__ import annotations

import copy
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import libreoffice
import openpyxl
from test_rounds import clerk_fills

from xltemplate.collect import batch
from xltemplate.collect.distribute import distribute
from xltemplate.collect.injection import csv_text, risky, writer
from xltemplate.collect.packages import links_workbook
from xltemplate.collect.report import write_report
from xltemplate.collect.store import Store
from xltemplate.form.model import FormModel

LINK = '=HYPERLINK("http://example.invalid/","点这里")'
HOSTILE = [LINK, "+86 139 0000 0000", "-无-", "@SUM(1+1)", "=1+1", "\t=2+2", "\r=3+3", "-2+3"]


def test_what_is_risky_and_how_a_csv_says_it() -> None:
    assert [risky(v) for v in ("=1", "+1", "-1", "@x", "\tx", "\rx", "a=1", "１", "")] == [True] * 6 + [False] * 3
    assert csv_text("=1+1") == "'=1+1" and csv_text("市信访局") == "市信访局"
    out = io.StringIO()
    writer(out).writerows([["\t=1+1", "\r=1+1", "-1", -1, 2.5, None]])
    assert out.getvalue() == "'\t=1+1,\"'\r=1+1\",'-1,-1,2.5,\r\n"  # text neutralised, numbers kept


def _cells(book: Path) -> list[Any]:
    wb = openpyxl.load_workbook(book)
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def test_every_csv_we_write_opens_in_libreoffice_without_a_formula(tmp_path: Path, wuhai: FormModel,
                                                                    seed0: dict[str, Any]) -> None:
    libreoffice.require()
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        roster = [{"code": "101", "name": "市信访局", "contact": LINK, "项目名称": "=1+1"},
                  {"code": "102", "name": "市财政局", "contact": "+86 139 0000 0000", "项目名称": "-无-"}]
        issued = distribute(wuhai, roster, tmp_path / "out", store=store, round_name="第一轮", year=2021)
        data = copy.deepcopy(seed0)
        data["cover"] |= {"department": "市信访局", "budget_code": "101"}
        del data["cover"]["project_name"]  # the roster's =1+1 stays (a clerk's typed = is a formula, refused)
        data["unit"] |= {"name": "市信访局", "contact": "@SUM(1+1)", "supervisor": "\t=2+2"}
        data["project"]["necessity"] = "\r=3+3"
        data["budget_items"][0]["name"] = "-2+3"
        filled = clerk_fills(tmp_path / "out" / issued[0].file, wuhai, data, tmp_path / "in" / "101.xlsx")
        assert batch.run([filled], store=store, jobs=1).total()["valid"] == 1
        write_report(store, tmp_path / "report" / "汇总.csv", round_name="第一轮")
    finally:
        store.dispose()
    written = [tmp_path / "out" / "manifest.csv", *sorted((tmp_path / "report").glob("*.csv"))]
    assert len(written) >= 5  # the manifest, the 汇总, and its other sheets
    with ThreadPoolExecutor(3) as pool:
        books = list(pool.map(lambda p: libreoffice.convert(p, tmp_path / "lo" / p.stem, "xlsx",
                                                            infilter="CSV_UTF8"), written))
    seen: set[str] = set()
    for path, book in zip(written, books, strict=True):
        cells = _cells(book)
        formulas = [(c.coordinate, c.value) for c in cells if c.data_type == "f"]
        assert not formulas, (path.name, formulas)
        seen |= {str(c.value) for c in cells}
    # every hostile text reached a file (the importer trims a leading tab or CR) and was kept, as text
    assert {"'" + h.strip() for h in HOSTILE} <= seen


def test_the_list_of_links_keeps_formula_like_text_as_text() -> None:
    rows = [["部门代码", "部门名称", "项目", "文件", "专用链接"], ["101", LINK, "-无-", "101_x.xlsx", "http://h/l/abc"]]
    ws = openpyxl.load_workbook(io.BytesIO(links_workbook(rows))).active
    cells = {c.value: c for c in ws[2]}
    assert cells[LINK].data_type == "s" and cells[LINK].quotePrefix
    assert cells["-无-"].quotePrefix and not cells["101"].quotePrefix and not cells["http://h/l/abc"].quotePrefix
