"""What staff download for a whole round: the package made when a round is opened in the portal
(every template and the list of department links), every issued template, every annotated copy.

The links are in the package only (the database keeps their hashes), so the package is offered
once.  For another copy, :func:`relink` regenerates every department's link of the round in one
transaction and makes a new package with them: the old links stop working, which the page says
(with how many) before staff confirm.
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
from . import events, files, injection, intake, links, returns, rounds
from .db import writing
from .distribute import Issued, RosterError, distribute, read_roster, round_lines
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
    return _zip([(i, (folder / i.file).read_bytes()) for i in issued], (folder / "manifest.csv").read_bytes())


def _zip(issued: list[tuple[Issued, bytes]], manifest: bytes) -> bytes:
    """The package: every template, ``manifest.csv`` and 部门链接清单.xlsx."""
    head = [t(k) for k in ("col_code", "col_department", "col_project", "col_file", "col_link")]
    rows = [head] + [[i.code, i.name, i.project or "", i.file, i.link or ""] for i, _ in issued]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, content in issued:
            zf.writestr(f"{t('folder_templates')}/{i.file}", content)
        zf.writestr("manifest.csv", manifest)
        zf.writestr(f"{t('file_links')}.xlsx", links_workbook(rows))
    return out.getvalue()


def _read_roster(roster: bytes, roster_name: str, scratch: Path) -> list[dict[str, str]]:
    """An uploaded roster's rows; :class:`RosterError` naming the file as the user called it."""
    tmp = Path(tempfile.mkdtemp(dir=scratch))
    try:
        path = tmp / ("roster.xlsx" if roster.startswith(b"PK") else "roster.csv")
        path.write_bytes(roster)
        try:
            return read_roster(path)
        except RosterError as exc:
            shown = files.safe_name(roster_name, "roster.csv")
            raise RosterError([p.replace(str(path), shown) for p in exc.problems]) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def same_rounds(store: Store, model: FormModel, year: int | None, roster: bytes, roster_name: str,
                scratch: Path) -> list[Round]:
    """The rounds already made of the same form, year and roster (the same departments, names and
    projects, in any order) as a round about to be made: staff are asked before another is made.
    A roster that cannot be read has none (making the round then says what is wrong with it)."""
    try:
        rows = _read_roster(roster, roster_name, scratch)
        wanted = sorted((x.code, x.name, x.project or "") for x in round_lines(model, rows))
    except RosterError:
        return []
    return [rnd for rnd in rounds.rounds(store, model.id) if rnd.year == year and wanted ==
            sorted((x.code, x.name, x.project or "") for x in rounds.roster_of(store, rnd.id))]


def open_round(store: Store, model: FormModel, roster: bytes, roster_name: str, scratch: Path, *,
               name: str | None, year: int | None, deadline: dt.date | None, actor: str | None,
               base_url: str | None, address: str | None = None, stages: str | None = None) -> tuple[Round, int]:
    """A round opened from an uploaded roster, as ``distribute --db`` opens one: the round, its
    roster, a template and a link per department; and the package of templates and links, kept
    until staff take it (its file id).  A roster that cannot be used raises :class:`RosterError`
    whose problems name the file as the user called it."""
    rows = _read_roster(roster, roster_name, scratch)
    shown = files.safe_name(roster_name, "roster.csv")
    tmp = Path(tempfile.mkdtemp(dir=scratch))
    try:
        issued = distribute(model, rows, tmp / "out", store=store, round_name=name, year=year, deadline=deadline,
                            created_by=actor, base_url=base_url, source=shown, stages=stages)
        rnd = rounds.round_of_template(store, issued[0].submission_id)
        content = _package(tmp / "out", issued)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rnd, rounds.keep_package(store, rnd, content, f"{rnd.name}_{t('package_name')}.zip", actor, address)


def hold_roster(store: Store, content: bytes, name: str) -> int:
    """Keep an uploaded roster while staff are asked whether to make the round (its file id)."""
    with writing(store.engine) as conn:
        return files.put(store, conn, content, name, files.ROSTER)


def held_roster(store: Store, file_id: int) -> files.StoredFile | None:
    found = files.get(store, file_id)
    return found if found is not None and found.kind == files.ROSTER else None


def drop_roster(store: Store, file_id: int) -> None:
    with writing(store.engine) as conn:
        files.delete(store, conn, file_id)


def relink(store: Store, rnd: Round, base_url: str, actor: str | None, address: str | None = None) -> tuple[int, int]:
    """A new link for every department of the round (each live one stops working) and a new
    package with them, in one transaction: (how many live links stopped working, the package's
    file id, taken as the first one is)."""
    issued = rounds.templates_of(store, rnd.id)
    tokens = {code: links.new_token() for code in dict.fromkeys(i.department_code for i in issued)}
    contents: list[tuple[Issued, bytes]] = []
    manifest = io.StringIO()
    w = injection.writer(manifest)
    w.writerow(["code", "name", "project", "file", "submission_id", "sha256", "round", "link"])
    for tpl in issued:
        stored = files.get(store, tpl.file_id)
        if stored is None or not tpl.file:
            continue
        item = Issued(tpl.department_code, tpl.department, tpl.file, tpl.submission_id, stored.sha256, tpl.project,
                      link=links.address(tokens[tpl.department_code], base_url))
        contents.append((item, stored.content))
        w.writerow([item.code, item.name, item.project or "", item.file, item.submission_id, item.sha256, rnd.name,
                    item.link])
    content = _zip(contents, manifest.getvalue().encode("utf-8-sig"))
    name = files.safe_name(f"{rnd.name}_{t('package_name')}.zip", "package.zip")
    with writing(store.engine) as conn:
        revoked = links.revoke_all(store, conn, rnd.id, actor)
        links.make_all(store, conn, rnd.id, tokens, actor)
        fid = files.put(store, conn, content, name, files.PACKAGE)
        events.log(store, conn, "relink_round", actor=actor, round_id=rnd.id,
                   detail={"links": len(tokens), "revoked": revoked, "file_id": fid}, address=address)
    return revoked, fid


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
