"""Distribute: one prefilled template per department of a roster, each with its own submission id.

The roster is a CSV (UTF-8, or GB18030 as saved by Chinese Excel) with a department ``code``
and ``name`` (Chinese headers 部门代码/部门名称 work too), optionally ``contact``, and any other
column naming a schema field by pointer (``/unit/supervisor``), defined name or unique title.
A column fills one cell, so a field of a repeating area is named by its row: ``/budget_items/0/name``
is the first row's 明细项目名称 (a ``*`` pointer, a row beyond the capacity, a section, or the title
of a repeating column is refused, saying which pointer to write instead).  The form says where
code, name and contact go (``x-form.roster``).  Unknown columns and values that do not fit are
refused before anything is written.

Which rules a prefilled value must pass: a prefill is partial by nature, the department fills in
the rest, so it is validated as a partial instance (``validate(..., partial=True)``): every rule
about the values given (type, pattern, length, range, decimals, choices, dates, prompt text) is
checked and refuses the roster line; the rules about what is still to be filled are not
(``required``, ``minItems``, ...), and a sum rule (``x-sum``) is checked only when its total and
every part are given; one with a ``*`` part (a repeating column) never is, since rows may still be
added.  So a prefilled 项目资金总额 alone passes, and a prefilled total with all three parts that
do not add up is refused.  The import checks everything.

Speed: when every roster value goes into a text cell, the workbook is written once with marker
strings and each department's copy is that skeleton with the markers replaced (XML-escaped) in the
two parts that hold them, the other parts' compressed bytes copied as they are; otherwise each
copy is written in full.  Both give the same workbook.  A long roster's copies are made by
several processes at once (``jobs``, one per CPU by default; batches of ``RENDER_BATCH`` rows,
each process writing its files and hashing them), the names, submission ids and order being
decided beforehand in this process; the round is then recorded here, each template's hash taken
from what the workers computed rather than read back and hashed again.
"""

from __future__ import annotations

import collections
import copy
import csv
import datetime as dt
import hashlib
import io
import multiprocessing as mp
import os
import re
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from python_calamine import CalamineWorkbook

from ..form import coerce
from ..form.model import Field, FormModel
from ..form.schema import node_at, split_pointer, text
from ..form.validate import validate
from ..form.values import MISSING, get, leaves_of, merge
from ..form.values import put as put_at
from ..messages import t
from ..xlsx import zipout
from ..xlsx.guard import Refused, identify
from ..xlsx.writer import FillError, check_fit, write_filled
from . import events, files, injection, links, notices, rounds, settings
from .db import writing
from .identity import key_pointers
from .integrity import signature, signer
from .mail import addresses
from .rounds import RosterLine
from .store import Store

#: The header names a roster's columns go by, as bureaus write them (compared case-insensitively; the
#: first column matching a role takes it).  ``skip``: a column of the bureau's own (序号) that fills no
#: cell of the template (the form's ``x-form.roster`` names no target for it).  A second contact
#: column (联系人 and 联系电话 both) is not merged: it must name a field of the form.
ALIASES = {
    "code": ("code", "代码", "编码", "编号", "部门代码", "部门编码", "部门编号", "单位代码", "单位编码", "单位编号",
             "预算代码", "预算编码", "部门预算代码", "预算单位代码", "预算单位编码", "预算单位编号", "单位预算代码",
             "机构代码", "机构编码"),
    "name": ("name", "名称", "部门", "部门名称", "单位", "单位名称", "预算单位", "预算单位名称", "部门（单位）名称",
             "部门(单位)名称", "单位全称", "部门全称", "机构名称"),
    "contact": ("contact", "联系人", "联系方式", "联系电话", "联系人及电话", "联系人及联系电话", "联系人电话",
                "负责人及联系电话", "填报联系人", "经办人", "经办人及电话"),
    "skip": ("序号", "行号", "no.", "no", "#"),
    "email": ("email", "e-mail", "邮箱", "电子邮箱", "电子邮件", "联系邮箱"),  # several separated by ;
    # the 科室 the department is assigned to, whose reviewers review its returns (collect.reviews)
    "office": ("office", "归口科室", "归口处室", "业务科室", "科室"),
}
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class RosterError(ValueError):
    """The roster cannot be used; ``problems`` lists each reason (file, row, column)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Issued:
    code: str
    name: str
    file: str
    submission_id: str
    sha256: str
    project: str | None = None  # a template for one project (a roster of projects, or carried forward)
    line: int | None = None  # the roster line it was made for
    carried_from: int | None = None  # the earlier round's submission it carries forward
    data: dict[str, Any] | None = None  # what was prefilled
    link: str | None = None  # the department's portal link (with a database)


def read_roster(path: str | Path, lang: str = "zh") -> list[dict[str, str]]:
    """The roster's rows: a CSV file (UTF-8 or GB18030), or the first sheet of an .xlsx workbook."""
    raw = Path(path).read_bytes()
    if raw.startswith(b"PK"):
        return _xlsx_roster(path, raw, lang)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            content = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterError([t("roster_encoding", lang, source=path)])
    rows = list(csv.DictReader(io.StringIO(content)))
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in rows]


def _xlsx_roster(path: str | Path, raw: bytes, lang: str = "zh") -> list[dict[str, str]]:
    """The first sheet of a workbook as roster rows (its first row the header), after the same
    safety checks as any returned workbook."""
    try:
        identify(raw)
        book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except (Refused, Exception) as exc:  # calamine's errors have no common base
        raise RosterError([t("roster_unreadable", lang, path=path, detail=exc)]) from exc

    def cell_text(v: Any) -> str:
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return "" if v is None else str(v).strip()

    rows = [[cell_text(v) for v in row] for row in rows if any(cell_text(v) for v in row)]
    if not rows:
        return []
    head = rows[0]
    return [{h: (row[i] if i < len(row) else "") for i, h in enumerate(head) if h} for row in rows[1:]]


def _column_field(model: FormModel, column: str) -> Field | None:
    """The field a roster column names: by pointer (a repeating area's by its row), defined name
    or unique title."""
    if column in model.by_pointer:
        return model.by_pointer[column]
    for f in model.fields:
        if f.name == column:
            return f
    titled = [f for f in model.fields if f.schema.get("title") == column and f.array is None]
    return titled[0] if len(titled) == 1 else None


def _column_problem(model: FormModel, column: str, source: str, lang: str) -> str:
    """Why ``column`` names no cell, and what to write instead."""
    def area_of(pointer: str) -> Any:
        return next((a for p, a in model.arrays.items() if pointer == p or pointer.startswith(p + "/")), None)

    if column.startswith("/"):
        tokens = split_pointer(column)
        pattern = "/" + "/".join("*" if tok.isdigit() or tok == "*" else tok for tok in tokens)
        rows = model.by_pattern.get(pattern)
        area = area_of(column)
        if rows and "*" in column:
            return t("roster_column_pattern", lang, source=source, column=column, area=area.label,
                     example=rows[0].pointer)
        if rows:
            return t("roster_column_beyond", lang, source=source, column=column, area=area.label,
                     capacity=area.capacity, first=rows[0].pointer, last=rows[-1].pointer)
        inside = [f for f in model.fields if f.pointer.startswith(column.rstrip("/") + "/")]
        if inside:
            try:
                label = text(node_at(model.schema, column).get("title") or column, lang)
            except (KeyError, TypeError, IndexError):
                label = column
            return t("roster_column_group", lang, source=source, column=column, label=label,
                     example=inside[0].pointer)
    titled = [f for f in model.fields if f.schema.get("title") == column]
    in_areas = [f for f in titled if f.array is not None and f.index == 0]
    if in_areas and len(in_areas) == len({f.array for f in titled}):
        return t("roster_column_title_in_area", lang, source=source, column=column,
                 area=model.arrays[in_areas[0].array or ""].label, example=in_areas[0].pointer)
    plain = [f for f in titled if f.array is None]
    if len(plain) > 1:
        return t("roster_column_ambiguous", lang, source=source, column=column,
                 pointers=t("list_sep", lang).join(f.pointer for f in plain))
    return t("roster_unknown_column", lang, source=source, column=column)


def plan(model: FormModel, roster: list[dict[str, str]], source: str = "roster",
         lang: str = "zh") -> list[tuple[str, str, dict]]:
    """(code, name, instance) per roster row; RosterError lists every problem at once.

    Each instance is checked as a partial one (see the module docstring for which rules apply)."""
    if not roster:
        raise RosterError([t("roster_empty", lang, source=source)])
    columns = list(roster[0])
    role: dict[str, str] = {}
    for key, names in ALIASES.items():
        for c in columns:
            if c.lower() in names and key not in role.values():
                role[c] = key
                break
    problems = []
    if "code" not in role.values() or "name" not in role.values():
        problems.append(t("roster_no_code_name", lang, source=source, columns=t("list_sep", lang).join(columns)))
    hints = model.schema.get("x-form", {}).get("roster", {})
    targets: dict[str, list[Field]] = {}
    for c in columns:
        if c in role:
            pointers = hints.get(role[c], [])
            targets[c] = [model.by_pointer[p] for p in ([pointers] if isinstance(pointers, str) else pointers)]
        else:
            f = _column_field(model, c)
            if f is None:
                problems.append(_column_problem(model, c, source, lang))
            else:
                targets[c] = [f]
    if problems:
        raise RosterError(problems)
    out = []
    for n, row in enumerate(roster, start=2):  # row 1 is the header
        code = row[next(c for c, k in role.items() if k == "code")]
        name = row[next(c for c, k in role.items() if k == "name")]
        if not code or not name:
            problems.append(t("roster_no_code_or_name", lang, source=source, n=n))
            continue
        for c in (c for c, k in role.items() if k == "email"):
            bad = addresses(row.get(c, ""))[1]
            if bad:
                problems.append(t("roster_email_bad", lang, source=source, n=n, column=c, found="、".join(bad)))
        data: dict[str, Any] = {}
        for c, fields in targets.items():
            for f in fields:
                value = coerce.coerce(row.get(c, ""), f)
                if value is MISSING:
                    continue
                put_at(data, f.pointer, value, model.arrays)
        for problem in check_fit(model, data, lang=lang):
            problems.append(t("roster_line", lang, source=source, n=n, problem=problem))
        # a wrong prefilled value would be every clerk's error; what is still to come is not checked
        for issue in validate(model, data, lang, partial=True):
            key = "roster_rule" if issue.value is None else "roster_value"
            problems.append(t(key, lang, source=source, n=n, label=issue.label, value=issue.value,
                              message=issue.message))
        out.append((code, name, data))
    keys = key_pointers(model)
    project_cols = [c for c, fields in targets.items() if any(f.pointer in keys for f in fields)]
    seen = [(c, tuple(row.get(p, "") for p in project_cols)) for (c, _, _), row in zip(out, roster, strict=False)]
    twice = sorted({c for (c, _k), n in collections.Counter(seen).items() if n > 1})
    problems += [t("roster_code_twice_project" if project_cols else "roster_code_twice", lang, source=source, code=c)
                 for c in twice]
    if problems:
        raise RosterError(problems)
    return out


def file_name(code: str, name: str) -> str:
    return _UNSAFE.sub("_", f"{code}_{name}").strip(" .")[:120] + ".xlsx"


class _Skeleton:
    """The workbook written once with markers where per-department text goes.

    Only two parts carry markers (the shared strings and the document properties); every other
    part is the same in every copy, so it is compressed once here and its compressed bytes are
    copied into each copy's zip (:mod:`~xltemplate.xlsx.zipout`), which is most of what makes a copy cheap."""

    def __init__(self, model: FormModel, pointers: list[str], password: str | None, key: str | None = None,
                 common: dict[str, Any] | None = None, meta: dict[str, str] | None = None):
        tag = uuid.uuid4().hex[:10]
        self.markers = {p: f"xt{tag}m{i:03d}" for i, p in enumerate(pointers)}
        self.sid, self.dept, self.code, self.sig = (f"xt{tag}s", f"xt{tag}d", f"xt{tag}c", f"xt{tag}g")
        self.model, self.key = model, key
        data: dict[str, Any] = copy.deepcopy(common or {})
        for p, marker in self.markers.items():
            put_at(data, p, marker, model.arrays)
        extra = {"department": self.dept, "department_code": self.code, **(meta or {})} | (
            {"signature": self.sig} if key else {})
        book = write_filled(model, data, submission_id=self.sid, password=password, extra_meta=extra)
        self.tag = f"xt{tag}"
        self.parts: list[tuple[zipfile.ZipInfo, str | zipout.Member]] = []
        with zipfile.ZipFile(io.BytesIO(book)) as zf:
            for info in zf.infolist():
                raw = zf.read(info.filename)
                text = raw.decode("utf-8")
                fixed = text if self.tag in text else zipout.Member.deflated(info.filename, raw, info)
                self.parts.append((info, fixed))

    def render(self, values: dict[str, str], sid: str, dept: str, code: str) -> bytes:
        table = {m: escape(_CONTROL.sub("", values.get(p, ""))) for p, m in self.markers.items()}
        table |= {self.sid: escape(sid), self.dept: escape(dept), self.code: escape(code)}
        if self.key:
            table[self.sig] = signature(self.key, {"form_id": self.model.id, "form_version": self.model.version,
                                                   "submission_id": sid, "department_code": code})
        pattern = re.compile(re.escape(self.tag) + r"(?:m\d{3}|[sdcg])")
        members = [part if isinstance(part, zipout.Member) else
                   zipout.Member.deflated(info.filename, pattern.sub(lambda m: table[m.group(0)], part).encode("utf-8"),
                                          info)
                   for info, part in self.parts]
        return zipout.build(members)


RENDER_BATCH = 250  # rows a worker makes copies of at a time
PARALLEL_FROM = 1000  # rows: below this, starting processes costs more than it saves
_RENDER: tuple[_Skeleton, Path] | None = None  # a rendering worker's skeleton and folder


def _render_init(skeleton: _Skeleton, outdir: Path) -> None:
    global _RENDER
    _RENDER = (skeleton, outdir)


def _render_batch(items: list[tuple[str, dict[str, str], str, str, str]]) -> list[str]:
    """Copies of the skeleton written to their files (file, values, sid, department, code); their
    sha256s, in order."""
    assert _RENDER is not None
    skeleton, outdir = _RENDER
    out = []
    for fname, values, sid, dept, code in items:
        book = skeleton.render(values, sid, dept, code)
        (outdir / fname).write_bytes(book)
        out.append(hashlib.sha256(book).hexdigest())
    return out


def _render_all(skeleton: _Skeleton, outdir: Path, renders: list[tuple[Issued, dict[str, str]]], jobs: int | None,
                progress: Callable[[int], None] | None) -> None:
    """The skeleton's copies for ``renders``, each written to its (already chosen) file and its
    sha256 set, in several processes for a long roster."""
    items = [(i.file, values, i.submission_id, i.name, i.code) for i, values in renders]
    batches = [items[k:k + RENDER_BATCH] for k in range(0, len(items), RENDER_BATCH)]
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and len(items) >= PARALLEL_FROM:
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context(method), initializer=_render_init,
                                 initargs=(skeleton, outdir)) as pool:
            results = pool.map(_render_batch, batches)
            shas = []
            for done in results:
                shas += done
                if progress:
                    progress(len(done))
    else:
        _render_init(skeleton, outdir)
        shas = []
        for batch in batches:
            done = _render_batch(batch)
            shas += done
            if progress:
                progress(len(done))
    for (i, _values), sha in zip(renders, shas, strict=True):
        i.sha256 = sha


def round_lines(model: FormModel, roster: list[dict[str, str]]) -> list[RosterLine]:
    """The roster as a round records it: code, name, contact, the project of a roster of projects
    (a column naming the form's key field, e.g. 项目名称), and every column as given."""
    columns = list(roster[0]) if roster else []

    def role(key: str) -> str | None:
        return next((c for c in columns if c.lower() in ALIASES[key]), None)

    code, name, contact, office, email = role("code"), role("name"), role("contact"), role("office"), role("email")
    keys = key_pointers(model)
    projects = [c for c in columns if c not in (code, name, contact, office, email)
                and (f := _column_field(model, c)) is not None and f.pointer in keys]
    out = []
    for n, row in enumerate(roster, start=2):
        project = " / ".join(row[c] for c in projects if row.get(c)) or None
        emails = addresses(row.get(email or "", ""))[0] if email else []
        out.append(RosterLine(n, row.get(code or "", ""), row.get(name or "", ""),
                              (row.get(contact) or None) if contact else None, project, dict(row),
                              (row.get(office) or None) if office else None, emails))
    return out


def year_data(model: FormModel, year: int | None) -> dict[str, Any]:
    """The budget year prefilled into the form's year field (``x-form.year``)."""
    pointer = model.schema.get("x-form", {}).get("year")
    data: dict[str, Any] = {}
    if year is not None and pointer and pointer in model.by_pointer:
        put_at(data, pointer, year, model.arrays)
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return merge(copy.deepcopy(base), copy.deepcopy(extra))


def _book(model: FormModel, data: dict[str, Any], sid: str, name: str, code: str, meta: dict[str, str],
          password: str | None, key: str | None, source: str, lang: str = "zh") -> bytes:
    try:
        return write_filled(model, data, submission_id=sid, password=password, sign=signer(key),
                            extra_meta={"department": name, "department_code": code, **meta})
    except FillError as exc:
        raise RosterError([t("roster_department", lang, source=source, code=code, name=name, problem=p)
                           for p in exc.problems]) from exc


def distribute(model: FormModel, roster: list[dict[str, str]], outdir: str | Path, *,
               password: str | None = None, key: str | None = None, source: str = "roster",
               progress: Callable[[int], None] | None = None, store: Store | None = None,
               round_name: str | None = None, year: int | None = None, deadline: dt.date | None = None,
               carry_from: str | None = None, created_by: str | None = None, lang: str = "zh",
               base_url: str | None = None, jobs: int | None = None,
               stages: str | list[str] | None = None) -> list[Issued]:
    """Write one prefilled template per roster row into ``outdir`` plus ``manifest.csv``.

    With ``store`` the collection round is recorded too (see :mod:`~xltemplate.collect.rounds`):
    the round (``round_name``, by default the year and the form's title), its roster and every
    template issued.  ``year`` goes into the form's year field (``x-form.year``) and the metadata.
    ``carry_from`` (a round) adds, for each department, one template per project it returned valid
    in that round that continues into ``year``, prefilled with the fields the form carries
    (``x-form.carry``).  With ``store`` each department also gets its portal link
    (:mod:`~xltemplate.collect.links`), written into the manifest's ``link`` column (absolute
    after ``base_url``), and the templates are kept in the database for the portal to serve.
    ``jobs``: processes making the copies (one per CPU by default; see the module docstring).
    ``stages``: the round's review stages (``初审,复审``; default one, 审核); a roster column
    ``归口科室`` (or ``office``) assigns each department to the 科室 that reviews it.
    """
    wanted_stages = rounds.stage_names(stages, lang)
    rows = plan(model, roster, source, lang)
    lines = round_lines(model, roster)
    if store is not None and not key:  # a recorded round's templates are signed: the installation's key
        key = settings.signing_key(store)
    outdir = Path(outdir)
    common = year_data(model, year)
    meta = {"year": str(year)} if year is not None else {}
    name = None
    if store is not None:
        name = round_name or default_round_name(store, model, year)
        taken = {r.name for r in rounds.rounds(store)}
        if name in taken:
            raise RosterError([t("round_exists", lang, name=name)])
    carried = (carried_projects(store, model, carry_from, {c for c, _, _ in rows}, year, lang)
               if carry_from else {})
    outdir.mkdir(parents=True, exist_ok=True)
    pointers = sorted({p for _, _, data in rows for p, v in leaves_of(data) if v not in ({}, [])})
    fast = all(model.by_pointer[p].kind in ("string", "month-range") for p in pointers)
    skeleton = _Skeleton(model, pointers, password, key, common, meta) if fast else None
    issued: list[Issued] = []
    taken_files: set[str] = set()

    def named(i: Issued) -> Issued:
        fname = file_name(i.code, i.name if i.project is None else f"{i.name}_{i.project}")
        while fname.lower() in taken_files:
            fname = fname[:-5] + "_" + i.submission_id[-4:] + ".xlsx"
        taken_files.add(fname.lower())
        i.file = fname
        return i

    def put(book: bytes, i: Issued) -> None:
        (outdir / named(i).file).write_bytes(book)
        i.sha256 = hashlib.sha256(book).hexdigest()
        issued.append(i)
        if progress:
            progress(1)

    renders: list[tuple[Issued, dict[str, str]]] = []  # the skeleton's copies, made below
    for (code, dept, data), line in zip(rows, lines, strict=True):
        sid = f"{code}-{uuid.uuid4().hex[:12]}"
        i = Issued(code, dept, "", sid, "", line.project, line.line, None, _merge(common, data))
        if skeleton is not None:
            renders.append((named(i), {p: str(get(data, p, None) or "") for p in pointers}))
            issued.append(i)
        else:
            put(_book(model, i.data or {}, sid, dept, code, meta, password, key, source, lang), i)
        for old_id, project, old_data in carried.get(code, []):
            sid = f"{code}-{uuid.uuid4().hex[:12]}"
            data_c = _merge(_merge(common, data), old_data)
            put(_book(model, data_c, sid, dept, code, meta, password, key, source, lang),
                Issued(code, dept, "", sid, "", project, line.line, old_id, data_c))
    if skeleton is not None:
        _render_all(skeleton, outdir, renders, jobs, progress)
    tokens: dict[str, str] = {}
    if store is not None:
        tokens = {code: links.new_token() for code in dict.fromkeys(i.code for i in issued)}
        for i in issued:
            i.link = links.address(tokens[i.code], base_url)
    with open(outdir / "manifest.csv", "w", encoding="utf-8-sig", newline="") as fh:
        w = injection.writer(fh)  # roster text starting with = + - @ is never a formula
        w.writerow(["code", "name", "project", "file", "submission_id", "sha256", "round", "link"])
        for i in issued:
            w.writerow([i.code, i.name, i.project or "", i.file, i.submission_id, i.sha256, name or "", i.link or ""])
    if store is not None and name is not None:
        record_round(store, model, name, lines, issued, year=year, deadline=deadline, carry_from=carry_from,
                     created_by=created_by, columns=list(roster[0]), outdir=outdir, tokens=tokens, key=key,
                     stages=wanted_stages)
    return issued


def default_round_name(store: Store, model: FormModel, year: int | None) -> str:
    """``2027年度 乌海市…申报表``, or today's date when no year is given; numbered when taken."""
    base = f"{year}年度 {model.title}" if year else f"{dt.date.today().isoformat()} {model.title}"
    taken = {r.name for r in rounds.rounds(store)}
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}（{n}）"
    return name


def record_round(store: Store, model: FormModel, name: str, lines: list[RosterLine], issued: list[Issued], *,
                 year: int | None, deadline: dt.date | None, carry_from: str | None, created_by: str | None,
                 columns: list[str], outdir: Path | None = None, tokens: dict[str, str] | None = None,
                 key: str | None = None, stages: list[str] | None = None) -> rounds.Round:
    """The round, its roster and its issued templates, in one transaction; with ``outdir`` the
    templates themselves are stored (``files``), with ``tokens`` the departments' links."""
    carried_round = rounds.find_round(store, carry_from).id if carry_from else None
    kind = "projects" if any(line.project for line in lines) else "departments"
    with writing(store.engine) as conn:
        rnd = rounds.create_round(store, model, name, year=year, deadline=deadline, roster_kind=kind,
                                  roster_columns=columns, carried_from=carried_round, created_by=created_by, conn=conn,
                                  stages=stages)
        ids = rounds.add_roster(store, conn, rnd.id, lines)
        stored = [] if outdir is None else files.put_many(
            store, conn, [((outdir / i.file).read_bytes(), i.file, files.TEMPLATE) for i in issued],
            [i.sha256 for i in issued])
        file_ids = {i.submission_id: fid for i, fid in zip(issued, stored, strict=True)}
        rounds.add_issued(store, conn, [
            {"submission_id": i.submission_id, "round_id": rnd.id, "roster_id": ids.get(i.line or 0),
             "department_code": i.code, "department": i.name, "project": i.project, "file": i.file,
             "sha256": i.sha256, "carried_from": i.carried_from, "data": i.data,
             "file_id": file_ids.get(i.submission_id),
             "signature": signature(key, {"form_id": model.id, "form_version": model.version,
                                          "submission_id": i.submission_id, "department_code": i.code})
             if key else None} for i in issued])
        links.make_all(store, conn, rnd.id, tokens or {}, created_by)
        events.log(store, conn, "create_round", actor=created_by, round_id=rnd.id,
                   detail={"templates": len(issued), "roster": len(lines)})
        if tokens:  # the departments with an address are told, each with a link of its own
            notices.round_opened(store, conn, rnd, created_by)
    return rnd


def carried_projects(store: Store | None, model: FormModel, carry_from: str, codes: set[str],
                     year: int | None, lang: str = "zh") -> dict[str, list[tuple[int, str | None, dict[str, Any]]]]:
    """Per department code: (submission id, project, data to prefill) of each project it returned
    valid in round ``carry_from`` that continues into ``year``.

    ``x-form.carry`` says what is carried: ``fields`` (pointers; a section carries all of it),
    ``set`` (values for the new year, e.g. 项目属性 = 延续) and ``continues`` (a month-range field:
    a project whose period ends before ``year`` is finished and not carried)."""
    if store is None:
        raise RosterError([t("round_needs_db", lang, option="--carry-from")])
    try:
        old = rounds.find_round(store, carry_from)
    except rounds.RoundError as exc:
        raise RosterError([exc.message(lang)]) from exc
    if old.form_id != model.id:
        raise RosterError([t("carry_other_form", lang, name=old.name, found=old.form_id, expected=model.id)])
    spec = model.schema.get("x-form", {}).get("carry", {})
    fields, set_values, continues = spec.get("fields", []), spec.get("set", {}), spec.get("continues")
    new_year = year or ((old.year + 1) if old.year else None)
    s = store.submissions
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(s.c.id, s.c.department_code, s.c.key_text, s.c.data).where(
            s.c.round_id == old.id, s.c.is_current.is_(True), s.c.withdrawn_at.is_(None),
            s.c.status == "valid").order_by(s.c.id)).all()
    out: dict[str, list[tuple[int, str | None, dict[str, Any]]]] = {}
    for row in rows:
        if row.department_code not in codes or not isinstance(row.data, dict):
            continue
        if continues and new_year and not _continues(get(row.data, continues, None), new_year):
            continue
        data: dict[str, Any] = {}
        for prefix in fields:
            value = get(row.data, prefix, MISSING)
            if value is not MISSING:
                for pointer, leaf in leaves_of(value, prefix):
                    if pointer in model.by_pointer and leaf not in ({}, []):
                        put_at(data, pointer, leaf, model.arrays)
        for pointer, value in set_values.items():
            put_at(data, pointer, value, model.arrays)
        out.setdefault(row.department_code, []).append((row.id, row.key_text, data))
    return out


def _continues(period: Any, year: int) -> bool:
    """Whether a ``YYYY-MM~YYYY-MM`` period reaches into ``year`` (unknown periods: yes)."""
    m = re.search(r"~\s*(\d{4})", period) if isinstance(period, str) else None
    return m is None or int(m.group(1)) >= year
