"""Hostile and broken returns: each corpus case gets its named outcome, a batch of all of them
gets one status per file, and nothing we export runs a formula."""

from __future__ import annotations

import copy
import io

import openpyxl
import pytest
from conftest import write_return
from corpus import CASES

from xltemplate.collect import batch
from xltemplate.collect.importer import import_workbook
from xltemplate.xlsx.writer import write_workbook


@pytest.fixture(scope="module")
def good(wuhai) -> bytes:
    from conftest import load_json

    return write_workbook(wuhai, load_json("seed_000.json"), submission_id="S-1")


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case_gets_its_outcome(name, wuhai, good, seed0, tmp_path) -> None:
    build, expected = CASES[name]
    path = tmp_path / f"{name}.xlsx"
    path.write_bytes(build(wuhai, good, copy.deepcopy(seed0)))
    result = import_workbook(path)
    status, code = expected[0], expected[1]
    assert result.status == status, [e.as_dict() for e in result.errors]
    if code is None:
        assert result.errors == []
    else:
        assert result.errors and result.errors[0].code == code, [e.as_dict() for e in result.errors]
        assert len(expected) < 3 or expected[2] in result.errors[0].message, result.errors[0].message
        assert all(e.message for e in result.errors)
    if status == "unreadable":  # the message says what to do, in English too (labels stay Chinese)
        en = import_workbook(path, lang="en")
        assert en.errors[0].code == code
        assert sum(ch.isascii() and ch.isalpha() for ch in en.errors[0].message) > 20, en.errors[0].message


def test_entities_are_never_expanded(wuhai, good, tmp_path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(CASES["external_entity"][0](wuhai, good, {}))
    text = str(import_workbook(path).as_dict())
    assert "root:" not in text  # /etc/passwd was not read


def test_values_in_hidden_rows_are_kept_and_reported_where_they_are(wuhai, good, tmp_path) -> None:
    path = tmp_path / "h.xlsx"
    path.write_bytes(CASES["data_in_hidden_row"][0](wuhai, good, {}))
    result = import_workbook(path)
    hidden = [e for e in result.errors if e.code == "hidden"]
    assert {e.cell for e in hidden} == {wuhai.by_pointer["/budget_items/1/name"].cell,
                                       wuhai.by_pointer["/budget_items/1/amount"].cell}
    assert result.data["budget_items"][1] == {"name": "隐藏的明细", "amount": 3}


def test_formula_typed_in_an_input_is_reported_with_the_formula(wuhai, good, tmp_path) -> None:
    path = tmp_path / "f.xlsx"
    path.write_bytes(CASES["formula_where_value_belongs"][0](wuhai, good, {}))
    error = next(e for e in import_workbook(path).errors if e.code == "formula")
    assert (error.cell, error.value) == (wuhai.by_pointer["/funding/request"].cell, "=3+4")


def test_formula_like_text_never_runs_in_anything_we_export(wuhai, seed0, tmp_path) -> None:
    from xltemplate.collect.annotate import annotate
    from xltemplate.collect.report import write_report
    from xltemplate.collect.store import Store

    evil = ["=HYPERLINK(\"http://x\",\"点这里\")", "=cmd|' /C calc'!A0", "+1+1", "@SUM(1)", "-2+3"]
    data = copy.deepcopy(seed0)
    data["unit"]["contact"] = evil[0]
    data["unit"]["supervisor"] = evil[1]
    data["project"]["basis"] = evil[2]
    data["goals"] = {"annual": evil[3], "long_term": evil[4]}
    data["funding"]["other"] = 0  # keep it valid
    path = write_return(tmp_path / "in" / "evil.xlsx", wuhai, data, submission_id="E-1")
    result, meta = import_workbook(path, with_meta=True)
    assert result.status == "valid" and result.data["unit"]["contact"] == evil[0]
    # the annotated copy (of an invalid variant) keeps them as text
    result.errors = [type(result.errors[0])(None, None, "/unit/name", "x", "x", "x", "x")] if result.errors else \
        [__import__("xltemplate.form.validate", fromlist=["Issue"]).Issue(None, None, "/unit/name", "x", "x", "x", "x")]
    copy_path = annotate(wuhai, result, tmp_path, meta)
    wb = openpyxl.load_workbook(copy_path)
    for pointer in ("/unit/contact", "/unit/supervisor", "/project/basis"):
        f = wuhai.by_pointer[pointer]
        assert wb[f.sheet][f.cell].data_type == "s"
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    batch.run([path], store=store, jobs=1)
    write_report(store, tmp_path / "r.xlsx")
    cells = [c for row in openpyxl.load_workbook(tmp_path / "r.xlsx")["汇总"].iter_rows() for c in row
             if isinstance(c.value, str) and c.value in evil]
    assert len(cells) == len(evil) and all(c.data_type == "s" for c in cells)
    write_report(store, tmp_path / "r.csv")
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert all(f"'{e}" in text or f"\"'{e}" in text or f"'{e}".replace('"', '""') in text for e in evil)


def test_a_batch_of_every_case_gives_one_status_per_file(wuhai, good, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, (build, _expected) in CASES.items():
        (folder / f"{name}.xlsx").write_bytes(build(wuhai, good, {}))
    seen: dict[str, str] = {}
    summary = batch.run([folder], jobs=2, on_done=lambda d, o: seen.setdefault(d.source.name, d.result.status))
    assert len(seen) == len(CASES) == summary.files
    for name, (_build, expected) in CASES.items():
        assert seen[str(folder / f"{name}.xlsx")] == expected[0], name


def test_an_encrypted_workbook_gets_a_clear_message(good, tmp_path) -> None:
    msoffcrypto = pytest.importorskip("msoffcrypto.format.ooxml")
    out = io.BytesIO()
    msoffcrypto.OOXMLFile(io.BytesIO(good)).encrypt("secret", out)
    path = tmp_path / "locked.xlsx"
    path.write_bytes(out.getvalue())
    result = import_workbook(path)
    assert (result.status, result.errors[0].code) == ("unreadable", "encrypted")
    assert "密码" in result.errors[0].message


def test_text_like_the_end_of_the_cell_data_hides_no_formula_or_hidden_row() -> None:
    """The sheet scan stops at the end of the cell data; text that reads like that tag (legal
    unescaped in XML text) can only make it look further, never hide a formula or a hidden row."""
    from xltemplate.xlsx.reader import scan_sheet

    xml = (b'<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>sheetData></t></is></c></row>'
           b'<row r="2" hidden="1"><c r="B2"><f>3+4</f><v>7</v></c></row></sheetData>'
           b'<dataValidations count="1"><dataValidation sqref="C3"><formula1>1</formula1></dataValidation>'
           b'</dataValidations></worksheet>')
    scan = scan_sheet(xml)
    assert scan.formulas == {(1, 1): "3+4"}
    assert scan.hidden_rows == {1}


def test_every_case_read_far_enough_reads_as_calamine_reads_it(wuhai, good, seed0) -> None:
    """For every corpus case that gets past the guard, every cell of every sheet reads as calamine
    reads it from the file itself (formulas' cached values included)."""
    from python_calamine import CalamineWorkbook
    from test_reader import assert_same

    from xltemplate.xlsx.reader import ReadError, open_book

    checked = []
    for name, (build, _expected) in sorted(CASES.items()):
        data = build(wuhai, good, copy.deepcopy(seed0))
        try:
            book = open_book(f"{name}.xlsx", data)
        except ReadError:
            continue  # refused before any cell is read
        if book.kind != "xlsx":
            continue
        try:
            theirs = CalamineWorkbook.from_filelike(io.BytesIO(data))
        except Exception:  # calamine cannot read the file itself: nothing to hold ours to
            continue
        for sheet in theirs.sheet_names:
            grid = theirs.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            cols = max((len(row) for row in grid), default=0)
            expected = [[(row[c] if c < len(row) and row[c] != "" else None) for c in range(cols)] for row in grid]
            assert_same([book.values(sheet, [(r, c) for c in range(cols)]) for r in range(len(grid))], expected)
        checked.append(name)
    assert len(checked) >= 10, checked


def test_names_are_shown_and_stored_without_invisible_characters(wuhai, seed0, tmp_path) -> None:
    """A return named with a right-to-left override (``报表\\u202exslx.exe`` shows as "报表exe.xlsx")
    is listed, stored and answered under its name without it, by the import and by an upload."""
    import zipfile

    import sqlalchemy as sa
    from conftest import write_return

    from xltemplate.collect import intake, links, rounds
    from xltemplate.collect.distribute import distribute
    from xltemplate.collect.store import Store

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    distribute(wuhai, [{"code": "101", "name": "市信访局"}], tmp_path / "下发", store=store, year=2021)
    rnd = rounds.rounds(store)[0]
    evil = "报表\u202exslx.exe"
    data = copy.deepcopy(seed0)
    data["cover"]["year"] = 2021
    one = write_return(tmp_path / "a.xlsx", wuhai, data, submission_id="R-1").read_bytes()
    data["unit"]["contact"] = "另一份"
    two = write_return(tmp_path / "b.xlsx", wuhai, data, submission_id="R-2").read_bytes()
    with zipfile.ZipFile(tmp_path / "邮件.zip", "w") as z:
        z.writestr(f"回收/{evil}", one)
    seen = []
    batch.run([tmp_path / "邮件.zip"], store=store, jobs=1, on_done=lambda d, o: seen.append(d.source.name))
    link = links.check(store, links.regenerate(store, rnd.id, "101", "test"))
    receipt = intake.receive(store, two, f"C:\\桌面\\{evil}", link)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(store.submissions.c.file_name, store.submissions.c.source)).all()
        kept = conn.execute(sa.select(store.t.files.c.name)).scalars().all()
    names = [*seen, receipt.file, *(n for row in stored for n in row), *kept]
    assert len(names) >= 5 and all("\u202e" not in n for n in names), names
    assert receipt.file == "报表xslx.exe" and seen[0].endswith("!回收/报表xslx.exe")
    store.dispose()


def _member_header(data: bytes, name: str) -> tuple[int, int]:
    """Where the central directory entry and the local header of member ``name`` start."""
    import struct

    count, _size, at = struct.unpack("<HII", data[-12:-2])
    for _ in range(count):
        name_len, extra_len, note_len = struct.unpack("<HHH", data[at + 28:at + 34])
        if data[at + 46:at + 46 + name_len] == name.encode():
            return at, struct.unpack("<I", data[at + 42:at + 46])[0]
        at += 46 + name_len + extra_len + note_len
    raise KeyError(name)


def test_a_part_seen_before_is_taken_again_only_with_the_same_declared_crc_and_size(good) -> None:
    """The guard keeps small parts it has inflated and checked, by their stored bytes: a copy of the
    same bytes under another CRC or size (the header lies) is inflated again and refused."""
    from xltemplate.xlsx.guard import Refused, identify

    first = identify(good).parts["xl/styles.xml"]
    assert identify(good).parts["xl/styles.xml"] == first  # the same part, taken as it was
    assert identify(bytearray(good)).parts["xl/styles.xml"] == first  # bytes held in a bytearray: read all the same
    central, local = _member_header(good, "xl/styles.xml")
    for field, size in ((16, 4), (24, 4)):  # CRC-32, uncompressed size
        forged = bytearray(good)
        for at in (central + field, local + field - 2):
            forged[at:at + size] = (int.from_bytes(forged[at:at + size], "little") ^ 1).to_bytes(size, "little")
        with pytest.raises(Refused) as refused:
            identify(bytes(forged))
        assert refused.value.code == "corrupt", field


def test_a_part_refused_once_is_refused_every_time(good) -> None:
    """A part with a DOCTYPE is refused, and stays refused when the same bytes come again."""
    import zipfile

    from xltemplate.xlsx.guard import Refused, identify

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/styles.xml":
                body = body.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "b">]>', 1)
            dst.writestr(info.filename, body)
    for _ in range(2):
        with pytest.raises(Refused) as refused:
            identify(out.getvalue())
        assert refused.value.code == "unsafe_xml"
