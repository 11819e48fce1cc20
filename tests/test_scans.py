"""The 打印版 and stamped scans: the 校验码 (same data, same code; any change, another), the print
copy's footer, the scan bound to the version it signs (a LibreOffice PDF of the 打印版, as a
scanner's PDF arrives), and every hostile scan refused over HTTP against a real ``serve``: a
renamed program, PDFs with JavaScript (in the open, and hidden in an object stream), a launch
action, an embedded file or encryption, a file over the form's limit and one over the route's, a
PNG bomb, and a scan for another department's return."""

from __future__ import annotations

import copy
import io
import re
import socket
import zipfile
from pathlib import Path
from typing import Any

import httpx
import libreoffice
import pytest
import scanfiles
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from portal_server import login
from test_notices import open_round
from test_portal_http import Site
from test_rounds import as_department, clerk_fills

from xltemplate.collect import accounts, checkcode, intake, links, mail, printout, report, reviews, scans
from xltemplate.collect.reviews import ReviewError
from xltemplate.collect.store import Store
from xltemplate.form.model import FormModel


def test_the_check_code_is_the_data_s_whatever_file_or_database_it_comes_from(seed0: dict) -> None:
    code = checkcode.code_of(seed0)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", code)
    shuffled = {k: seed0[k] for k in reversed(list(seed0))}
    assert checkcode.code_of(shuffled) == code  # the order of keys does not count
    as_floats = copy.deepcopy(seed0)
    as_floats["funding"]["request"] = float(as_floats["funding"]["request"])  # 7 or 7.0: the same number
    assert checkcode.code_of(as_floats) == code
    for path, value in ((("funding", "request"), 8), (("cover", "preparer"), "李杰 "), (("unit", "name"), None)):
        changed = copy.deepcopy(seed0)
        changed[path[0]][path[1]] = value
        assert checkcode.code_of(changed) != code, path
    assert checkcode.code_of({"a": 0.1}) != checkcode.code_of({"a": 0.10000000000000002})
    assert checkcode.normal(code.lower().replace("-", "")) == code


@pytest.fixture
def stored(db_url: str, wuhai: FormModel, seed0: dict, tmp_path: Path) -> Any:
    """A round with a valid return of 101 received through its link."""
    store = Store(db_url)
    mail.configure(store, mail.load({}))
    rnd, issued, folder = open_round(store, wuhai, tmp_path)
    link = links.check(store, links.regenerate(store, rnd.id, "101", "张三"))

    def upload(data: dict[str, Any], name: str) -> intake.Receipt:
        book = clerk_fills(folder / issued[0].file, wuhai, data, tmp_path / "in" / name).read_bytes()
        return intake.receive(store, book, name, link)

    yield store, rnd, link, upload
    store.dispose()


def _footers(book: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(book)) as zf:
        return [m.group(1) for name in zf.namelist() if name.startswith("xl/worksheets/sheet")
                for m in re.finditer(r"<oddFooter>(.*?)</oddFooter>", zf.read(name).decode())]


def test_the_print_copy_carries_the_return_s_number_and_check_code_on_a4(stored: Any, seed0: dict) -> None:
    store, _rnd, _link, upload = stored
    receipt = upload(as_department(seed0, "市信访局", "101"), "good.xlsx")
    book, name, code = printout.printable(store, receipt.submission)
    with store.engine.connect() as conn:
        kept = conn.execute(sa.select(store.submissions.c.check_code)
                            .where(store.submissions.c.id == receipt.submission)).scalar_one()
    assert code == kept == checkcode.code_of(as_department(seed0, "市信访局", "101"))
    footers = _footers(book)
    assert footers and all(f"报送编号 {receipt.submission}" in f and f"校验码 {code}" in f for f in footers)
    with zipfile.ZipFile(io.BytesIO(book)) as zf:
        sheets = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
    assert all('paperSize="9"' in x for x in sheets if "<oddFooter>" in x)
    assert name.endswith(f"_打印版_{code}.xlsx") and "市信访局" in name
    wrong = as_department(seed0, "市信访局", "101", "另一个项目")
    wrong["project"]["function_code"] = "201030"
    assert printout.printable(store, upload(wrong, "bad.xlsx").submission) is None  # errors first


def test_a_scan_of_the_print_copy_is_bound_to_the_version_it_signs(stored: Any, seed0: dict, tmp_path: Path,
                                                                    wuhai: FormModel) -> None:
    libreoffice.require()
    store, rnd, link, upload = stored
    first = upload(as_department(seed0, "市信访局", "101"), "good.xlsx")
    book, _name, code = printout.printable(store, first.submission)
    (tmp_path / "print").mkdir()
    (tmp_path / "print" / "打印版.xlsx").write_bytes(book)
    scanned = libreoffice.convert(tmp_path / "print" / "打印版.xlsx", tmp_path / "scan", "pdf").read_bytes()
    scan = scans.receive(store, link, first.submission, "stamped", scanned, "盖章扫描件.pdf")
    assert (scan.kind, scan.code, scan.state) == ("pdf", code, scans.CURRENT) and scan.pages >= 1
    assert max(scan.width, scan.height) <= scans.PREVIEW_PX
    preview = scans.preview(store, scan.id)
    assert preview.content.startswith(b"\x89PNG") and preview.kind == scans.PREVIEW
    assert scans.original(store, scan.id).content == scanned
    [papers] = scans.for_returns(scans_returns(store, rnd.id)).values()
    assert [(p.attachment.key, p.state, p.code) for p in papers] == [("stamped", scans.CURRENT, code)]
    # the data changes: the scan now signs an older version, and the old paper is refused for the new one
    changed = as_department(seed0, "市信访局", "101")
    changed["cover"]["preparer"] = "另一位填报人"
    second = upload(changed, "changed.xlsx")
    assert second.status == "valid" and [r.id for r in second.replaced] == [first.submission]
    [papers] = scans.for_returns(scans_returns(store, rnd.id)).values()
    assert papers[0].state == scans.STALE and papers[0].scan_code == code != papers[0].code
    [old] = scans.of_department(store, rnd.id, "101")
    assert old.state == scans.STALE and old.current_code == papers[0].code
    with pytest.raises(scans.ScanRefused) as refused:  # the paper of the first version, offered for the second
        scans.receive(store, link, second.submission, "stamped", scanned, "旧的扫描件.pdf")
    assert refused.value.key == "scan_other_version" and code in refused.value.message()
    with pytest.raises(scans.ScanRefused) as refused:  # a copy that no longer counts takes no scan
        scans.receive(store, link, first.submission, "stamped", scanned, "x.pdf")
    assert refused.value.key == "scan_not_current"
    # the 汇总 says which returns have a scan of their current data
    out = tmp_path / "汇总.xlsx"
    report.write_report(store, out, form="wuhai-perf-target")
    import openpyxl

    sheet = openpyxl.load_workbook(out)["汇总"]
    head = [c.value for c in sheet[1]]
    col = head.index("盖章扫描件")
    assert [row[col] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["对应旧版本"]
    new_book, _, new_code = printout.printable(store, second.submission)
    (tmp_path / "print" / "新打印版.xlsx").write_bytes(new_book)
    again = libreoffice.convert(tmp_path / "print" / "新打印版.xlsx", tmp_path / "scan", "pdf").read_bytes()
    assert scans.receive(store, link, second.submission, "stamped", again, "新.pdf").code == new_code
    report.write_report(store, out, form="wuhai-perf-target")
    sheet = openpyxl.load_workbook(out)["汇总"]
    assert [row[col] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["已上传（与数据一致）"]


def scans_returns(store: Store, round_id: int) -> list[Any]:
    from xltemplate.collect.returns import query

    return query(store, round_id=round_id, with_scans=True)


def test_a_form_that_requires_a_scan_blocks_approval_until_one_signs_the_current_data(
        stored: Any, seed0: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _rnd, link, upload = stored
    required = [scans.Attachment("stamped", "盖章扫描件", required=True)]
    monkeypatch.setattr(scans, "attachments_of_form", lambda *_a: required)
    staff = accounts.add_user(store, "经办孙", "correct horse 12", "staff")
    first = upload(as_department(seed0, "市信访局", "101"), "good.xlsx")
    assert "还没有" in scans.approval_blocker(store, first.submission)
    with pytest.raises(ReviewError, match="还不能审核通过：本表要求上传盖章扫描件"):  # the review decision asks it
        reviews.decide(store, first.submission, reviews.APPROVED, user=staff)
    scans.receive(store, link, first.submission, "stamped", scanfiles.png(1240, 1754), "scan.png")
    assert scans.approval_blocker(store, first.submission) is None
    changed = as_department(seed0, "市信访局", "101")
    changed["cover"]["preparer"] = "另一位填报人"
    second = upload(changed, "changed.xlsx")
    assert "对应旧版本" in scans.approval_blocker(store, second.submission)
    with pytest.raises(ReviewError, match="对应旧版本"):
        reviews.decide(store, second.submission, reviews.APPROVED, user=staff)
    assert reviews.show(store, second.submission).state == "pending"  # refused: nothing recorded
    sent_back = reviews.decide(store, second.submission, reviews.RETURNED, user=staff, reasons=[(None, "请重新盖章")])
    assert sent_back.state == "returned"  # sending back needs no scan
    monkeypatch.setattr(scans, "attachments_of_form", lambda *_a: [scans.Attachment("stamped", "盖章扫描件")])
    assert scans.approval_blocker(store, second.submission) is None  # not required: never blocks


# -- over HTTP, against a real server --------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    s = Site(tmp_path_factory.mktemp("scans"))
    yield s
    s.server.stop()


def _current(site: Site, code: str) -> int:
    engine = sa.create_engine(site.db)
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT id FROM submissions WHERE department_code = :c AND is_current "
                                     "ORDER BY id DESC"), {"c": code}).scalars().first()
    engine.dispose()
    return int(found)


def _count(site: Site, table: str) -> int:
    engine = sa.create_engine(site.db)
    with engine.connect() as conn:
        n = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(n)


def _scan(site: Site, code: str, sid: int, data: bytes, name: str, link: str | None = None) -> httpx.Response:
    return httpx.post(site.url + (link or site.link(code)) + f"/returns/{sid}/scan/stamped",
                      files={"scan": (name, data)}, timeout=60, follow_redirects=False)


def test_hostile_scans_are_refused_and_nothing_of_them_is_kept(site: Site) -> None:
    assert site.upload("101", site.filled("101", "市信访局")).status_code == 200
    sid = _current(site, "101")
    page = httpx.get(site.url + site.link("101")).text
    assert "打印版与盖章扫描件" in page and f"/returns/{sid}/print" in page and "尚未上传" in page
    printed = httpx.get(site.url + site.link("101") + f"/returns/{sid}/print")
    assert printed.status_code == 200 and printed.content.startswith(b"PK")
    assert "attachment" in printed.headers["content-disposition"]
    cases = {
        "报表扫描.pdf": (scanfiles.renamed_exe(), "不是 PDF / JPG / PNG 文件"),
        "scan.jpg": (b"GIF89a" + b"\x00" * 100, "不是 PDF / JPG / PNG 文件"),
        "js.pdf": (scanfiles.javascript_pdf(), "含有脚本"),
        "hidden.pdf": (scanfiles.hidden_javascript_pdf(), "含有脚本"),
        "launch.pdf": (scanfiles.launch_pdf(), "启动外部程序"),
        "embedded.pdf": (scanfiles.embedded_pdf(), "嵌入了其他文件"),
        "locked.pdf": (scanfiles.encrypted_pdf(), "已加密"),
        "bomb.png": (scanfiles.png(60000, 60000, rows=1), "60000×60000 像素，过大"),
        "huge.jpg": (scanfiles.jpeg(30000, 100), "30000×100"),
        "big.pdf": (b"%PDF-1.4\n" + b"0" * (21 * 1024 * 1024), "超过 20 MB"),
        "broken.pdf": (b"%PDF-1.4\n1 0 obj <<>> endobj\n", "无法显示"),
    }
    before = _count(site, "scans")
    for name, (data, said) in cases.items():
        res = _scan(site, "101", sid, data, name)
        assert res.status_code == 400 and said in res.text, (name, res.status_code, res.text[-800:])
    assert _count(site, "scans") == before
    # over the route's limit: refused before the body is read
    with socket.create_connection(("127.0.0.1", int(site.url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(f"POST {site.link('101')}/returns/{sid}/scan/stamped HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {60 * 1024 * 1024}\r\n\r\n"
                     .encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 413")
    # another department's return: no such page, whatever the link
    assert _scan(site, "102", sid, scanfiles.blank_pdf(), "x.pdf").status_code == 404
    assert _scan(site, "101", 999999, scanfiles.blank_pdf(), "x.pdf").status_code == 404
    assert httpx.get(site.url + site.link("102") + f"/returns/{sid}/print").status_code == 404
    assert _count(site, "scans") == before
    staff = login(site.server, "staff")
    refused = staff.get("/rounds/1/d/101").text
    assert "js.pdf" in refused and "含有脚本" in refused and "bomb.png" in refused  # what was refused, for staff
    assert "上传盖章扫描件" not in staff.get("/audit").text


def test_a_scan_is_shown_to_staff_as_a_picture_beside_its_codes(site: Site) -> None:
    site.upload("102", site.filled("102", "市财政局"))
    sid = _current(site, "102")
    res = httpx.post(site.url + site.link("102") + f"/returns/{sid}/scan/stamped",
                     files={"scan": ("盖章扫描件.pdf", scanfiles.blank_pdf())}, follow_redirects=False, timeout=60)
    assert res.status_code == 303 and res.headers["location"].endswith(f"?scan=ok#return-{sid}")
    page = httpx.get(site.url + site.link("102") + "?scan=ok").text
    assert "扫描件已收到" in page and "已上传，与当前数据一致" in page
    staff = login(site.server, "staff")
    dept = staff.get("/rounds/1/d/102").text
    [scan_id] = set(re.findall(r'/scans/(\d+)/preview', dept))  # the picture, and the link around it
    code = re.search(r"扫描件校验码 ([0-9A-Z-]+) · 当前数据校验码 ([0-9A-Z-]+)", dept)
    assert code and code.group(1) == code.group(2) and "与当前数据一致" in dept
    review = staff.get(f"/returns/{sid}/review").text  # the reviewer sees the same, beside the values
    assert f"/scans/{scan_id}/preview" in review and code.group(0) in review and "与当前数据一致" in review
    picture = staff.get(f"/scans/{scan_id}/preview")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    assert picture.content.startswith(b"\x89PNG") and picture.headers["x-content-type-options"] == "nosniff"
    assert "inline" in picture.headers["content-disposition"]
    original = staff.get(f"/scans/{scan_id}/file")
    assert original.content == scanfiles.blank_pdf() and "attachment" in original.headers["content-disposition"]
    assert httpx.get(site.url + f"/scans/{scan_id}/preview").status_code == 303  # staff only
    # a changed upload: the page says the scan is of an older version
    assert site.upload("102", clerk_changed(site, "102", "市财政局")).status_code == 200
    dept = staff.get("/rounds/1/d/102").text
    assert "扫描件对应旧版本" in dept
    assert "扫描件对应旧版本" in httpx.get(site.url + site.link("102")).text
    # a PNG straight from a phone is shown as it came
    sid = _current(site, "102")
    assert _scan(site, "102", sid, scanfiles.png(1240, 1754), "photo.png").status_code == 303
    dept = staff.get("/rounds/1/d/102").text
    assert "与当前数据一致" in dept


def clerk_changed(site: Site, code: str, name: str) -> bytes:
    """A corrected copy of the department's return: one value changed."""
    from conftest import load_json

    data = as_department(load_json("seed_000.json"), name, code)
    data["cover"]["preparer"] = "改过的填报人"
    template = site.folder / "下发" / site.manifest[code]["file"]
    return clerk_fills(template, site.model, data, site.folder / "in" / f"{code}-changed.xlsx").read_bytes()


def test_a_check_code_once_printed_never_changes(seed0: dict) -> None:
    """The 校验码 on paper copies already stamped and scanned must be found again: the code of the
    seed return, computed by the release that first printed codes, is pinned here."""
    assert checkcode.code_of(seed0) == "H2PW-2JB1"


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([-0.0, 5e-324, 1e300, 2.0**63, 0.1]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(JSONISH)
def test_the_fast_canonical_text_is_the_text_written_by_hand(data: Any) -> None:
    assert checkcode.canonical(data) == checkcode.by_hand(data)
    assert checkcode.canonical({"x": [float("nan"), data]}) == checkcode.by_hand({"x": [float("nan"), data]})
