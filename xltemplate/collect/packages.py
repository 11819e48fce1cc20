"""What staff download for a whole round: the package made when a round is opened in the portal
(every template and the list of department links), every issued template, every annotated copy.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import xlsxwriter

from ..form.model import FormModel
from ..messages import t
from . import files, injection, intake, returns, rounds
from .distribute import Issued, RosterError, distribute, read_roster
from .rounds import Round

if TYPE_CHECKING:
    from .store import Store


def links_workbook(rows: list[list[str]]) -> bytes:
    """The list of department links as a workbook (text cells only; roster text a spreadsheet could
    take for a formula keeps a quote prefix, :mod:`.injection`)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    ws = book.add_worksheet(t("sheet_links"))
    bold = book.add_format({"bold": True})
    plain, quoted = book.add_format(), book.add_format({"quote_prefix": True})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            ws.write_string(r, c, value, bold if r == 0 else injection.xlsx_format(value, plain, quoted))
    ws.set_column(0, 0, 10)
    ws.set_column(1, 3, 24)
    ws.set_column(4, 4, 80)
    ws.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def _package(folder: Path, issued: list[Issued]) -> bytes:
    head = [t(k) for k in ("col_code", "col_department", "col_project", "col_file", "col_link")]
    rows = [head] + [[i.code, i.name, i.project or "", i.file, i.link or ""] for i in issued]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in issued:
            zf.write(folder / i.file, f"{t('folder_templates')}/{i.file}")
        zf.write(folder / "manifest.csv", "manifest.csv")
        zf.writestr(f"{t('file_links')}.xlsx", links_workbook(rows))
    return out.getvalue()


def open_round(store: Store, model: FormModel, roster: bytes, roster_name: str, scratch: Path, *,
               name: str | None, year: int | None, deadline: dt.date | None, actor: str | None,
               base_url: str | None, address: str | None = None, stages: str | None = None) -> tuple[Round, int]:
    """A round opened from an uploaded roster, as ``distribute --db`` opens one: the round, its
    roster, a template and a link per department; and the package of templates and links, kept
    until staff take it (its file id).  A roster that cannot be used raises :class:`RosterError`
    whose problems name the file as the user called it."""
    tmp = Path(tempfile.mkdtemp(dir=scratch))
    try:
        path = tmp / ("roster.xlsx" if roster.startswith(b"PK") else "roster.csv")
        path.write_bytes(roster)
        shown = files.safe_name(roster_name, "roster.csv")
        try:
            rows = read_roster(path)
            issued = distribute(model, rows, tmp / "out", store=store, round_name=name, year=year, deadline=deadline,
                                created_by=actor, base_url=base_url, source=shown, stages=stages)
        except RosterError as exc:
            raise RosterError([p.replace(str(path), shown) for p in exc.problems]) from exc
        rnd = rounds.round_of_template(store, issued[0].submission_id)
        content = _package(tmp / "out", issued)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rnd, rounds.keep_package(store, rnd, content, f"{rnd.name}_模板和链接.zip", actor, address)


def templates_zip(store: Store, rnd: Round) -> bytes:
    """Every template issued in the round, by its file name."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for tpl in rounds.templates_of(store, rnd.id):
            stored = files.get(store, tpl.file_id)
            if stored is not None and tpl.file:
                zf.writestr(tpl.file, stored.content)
    return out.getvalue()


def annotated_zip(store: Store, rnd: Round) -> bytes:
    """The annotated copy of every current return of the round to be corrected (有错误, and 已退回
    with a reviewer's reasons), a folder per department."""
    out = io.BytesIO()
    taken: set[str] = set()
    to_fix = [*returns.query(store, round_id=rnd.id, status="invalid", withdrawn=False),
              *returns.query(store, round_id=rnd.id, state="returned", withdrawn=False)]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for r in to_fix:
            stored = intake.annotated(store, r.id) if r.id is not None else None
            if stored is None:
                continue
            path = f"{files.safe_name(f'{r.department_code}_{r.department}', 'x')}/{stored.name}"
            n = 1
            while path in taken:
                n += 1
                path = path.rsplit(".", 1)[0] + f"({n}).xlsx"
            taken.add(path)
            zf.writestr(path, stored.content)
    return out.getvalue()
