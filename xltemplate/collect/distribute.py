"""Distribute: one prefilled template per department of a roster, each with its own submission id.

The roster is a CSV (UTF-8, or GB18030 as saved by Chinese Excel) with a department ``code``
and ``name`` (Chinese headers 部门代码/部门名称 work too), optionally ``contact``, and any other
column naming a schema field by pointer (``/unit/supervisor``), defined name or unique title.
The form says where code, name and contact go (``x-form.roster``).  Unknown columns and values
that do not fit are refused before anything is written.

Speed: when every roster value goes into a text cell, the workbook is written once with marker
strings and each department's copy is that skeleton with the markers replaced (XML-escaped) and
re-zipped; otherwise each copy is written in full.  Both give the same workbook.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from ..form import coerce
from ..form.model import Field, FormModel
from ..form.validate import validate
from ..form.values import MISSING, get, leaves_of
from ..xlsx.writer import FillError, check_fit, write_workbook
from .integrity import signature

ALIASES = {
    "code": ("code", "代码", "编码", "部门代码", "单位代码", "部门编码", "预算代码", "部门预算代码"),
    "name": ("name", "名称", "部门", "部门名称", "单位", "单位名称"),
    "contact": ("contact", "联系人", "联系方式", "联系人及电话", "负责人及联系电话"),
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


def read_roster(path: str | Path) -> list[dict[str, str]]:
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterError([f"{path}：无法识别文件编码，请另存为 UTF-8 的 CSV"])
    rows = list(csv.DictReader(io.StringIO(text)))
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in rows]


def _column_field(model: FormModel, column: str) -> Field | None:
    if column in model.by_pointer:
        return model.by_pointer[column]
    for f in model.fields:
        if f.name == column:
            return f
    titled = [f for f in model.fields if f.schema.get("title") == column and f.array is None]
    return titled[0] if len(titled) == 1 else None


def plan(model: FormModel, roster: list[dict[str, str]], source: str = "roster") -> list[tuple[str, str, dict]]:
    """(code, name, instance) per roster row; RosterError lists every problem at once."""
    if not roster:
        raise RosterError([f"{source}：名单是空的"])
    columns = list(roster[0])
    role: dict[str, str] = {}
    for key, names in ALIASES.items():
        for c in columns:
            if c.lower() in names and key not in role.values():
                role[c] = key
                break
    problems = []
    if "code" not in role.values() or "name" not in role.values():
        problems.append(f"{source}：名单必须有部门代码（code）和部门名称（name）两列，现有列：{'、'.join(columns)}")
    hints = model.schema.get("x-form", {}).get("roster", {})
    targets: dict[str, list[Field]] = {}
    for c in columns:
        if c in role:
            pointers = hints.get(role[c], [])
            targets[c] = [model.by_pointer[p] for p in ([pointers] if isinstance(pointers, str) else pointers)]
        else:
            f = _column_field(model, c)
            if f is None:
                problems.append(f"{source}：列“{c}”不是表单中的字段（可用 JSON 指针、定义名称或字段标题）")
            else:
                targets[c] = [f]
    if problems:
        raise RosterError(problems)
    out = []
    for n, row in enumerate(roster, start=2):  # row 1 is the header
        code = row[next(c for c, k in role.items() if k == "code")]
        name = row[next(c for c, k in role.items() if k == "name")]
        if not code or not name:
            problems.append(f"{source} 第{n}行：部门代码和部门名称不能为空")
            continue
        data: dict[str, Any] = {}
        for c, fields in targets.items():
            for f in fields:
                value = coerce.coerce(row.get(c, ""), f)
                if value is MISSING:
                    continue
                _put(data, f.pointer, value)
        for problem in check_fit(model, data):
            problems.append(f"{source} 第{n}行：{problem}")
        given = {p for p, _ in leaves_of(data)}
        for issue in validate(model, data):  # a wrong prefilled value would be every clerk's error
            if issue.pointer in given and issue.code != "required":
                problems.append(f"{source} 第{n}行：{issue.label}“{issue.value}”：{issue.message}")
        out.append((code, name, data))
    codes = [c for c, _, _ in out]
    problems += [f"{source}：部门代码 {c} 出现了不止一次" for c in sorted({c for c in codes if codes.count(c) > 1})]
    if problems:
        raise RosterError(problems)
    return out


def _put(data: dict[str, Any], pointer: str, value: Any) -> None:
    tokens = pointer.strip("/").split("/")
    node = data
    for t in tokens[:-1]:
        node = node.setdefault(t, {})
    node[tokens[-1]] = value


def file_name(code: str, name: str) -> str:
    return _UNSAFE.sub("_", f"{code}_{name}").strip(" .")[:120] + ".xlsx"


class _Skeleton:
    """The workbook written once with markers where per-department text goes."""

    def __init__(self, model: FormModel, pointers: list[str], password: str | None, key: str | None = None):
        tag = uuid.uuid4().hex[:10]
        self.markers = {p: f"xt{tag}m{i:03d}" for i, p in enumerate(pointers)}
        self.sid, self.dept, self.code, self.sig = (f"xt{tag}s", f"xt{tag}d", f"xt{tag}c", f"xt{tag}g")
        self.model, self.key = model, key
        data: dict[str, Any] = {}
        for p, marker in self.markers.items():
            _put(data, p, marker)
        extra = {"department": self.dept, "department_code": self.code} | ({"signature": self.sig} if key else {})
        book = write_workbook(model, data, submission_id=self.sid, password=password, extra_meta=extra)
        with zipfile.ZipFile(io.BytesIO(book)) as zf:
            self.parts = [(info, zf.read(info.filename).decode("utf-8")) for info in zf.infolist()]
        self.tag = f"xt{tag}"

    def render(self, values: dict[str, str], sid: str, dept: str, code: str) -> bytes:
        table = {m: escape(_CONTROL.sub("", values.get(p, ""))) for p, m in self.markers.items()}
        table |= {self.sid: escape(sid), self.dept: escape(dept), self.code: escape(code)}
        if self.key:
            table[self.sig] = signature(self.key, {"form_id": self.model.id, "form_version": self.model.version,
                                                   "submission_id": sid, "department_code": code})
        pattern = re.compile(re.escape(self.tag) + r"(?:m\d{3}|[sdcg])")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for info, text in self.parts:
                if self.tag in text:
                    text = pattern.sub(lambda m: table[m.group(0)], text)
                zf.writestr(info, text.encode("utf-8"))
        return out.getvalue()


def distribute(model: FormModel, roster: list[dict[str, str]], outdir: str | Path, *,
               password: str | None = None, key: str | None = None, source: str = "roster",
               progress: Callable[[int], None] | None = None) -> list[Issued]:
    """Write one prefilled template per roster row into ``outdir`` plus ``manifest.csv``."""
    rows = plan(model, roster, source)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pointers = sorted({p for _, _, data in rows for p, _ in leaves_of(data)})
    fast = all(model.by_pointer[p].kind in ("string", "month-range") for p in pointers)
    skeleton = _Skeleton(model, pointers, password, key) if fast else None
    issued, taken = [], set()
    for code, name, data in rows:
        sid = f"{code}-{uuid.uuid4().hex[:12]}"
        if skeleton is not None:
            values = {p: str(get(data, p, None) or "") for p in pointers}
            book = skeleton.render(values, sid, name, code)
        else:
            try:
                book = write_workbook(model, data, submission_id=sid, password=password, key=key,
                                      extra_meta={"department": name, "department_code": code})
            except FillError as exc:
                raise RosterError([f"{source}（{code} {name}）：{p}" for p in exc.problems]) from exc
        fname = file_name(code, name)
        while fname.lower() in taken:
            fname = fname[:-5] + "_" + sid[-4:] + ".xlsx"
        taken.add(fname.lower())
        (outdir / fname).write_bytes(book)
        issued.append(Issued(code, name, fname, sid, hashlib.sha256(book).hexdigest()))
        if progress:
            progress(1)
    with open(outdir / "manifest.csv", "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "file", "submission_id", "sha256"])
        for i in issued:
            w.writerow([i.code, i.name, i.file, i.submission_id, i.sha256])
    return issued
