"""The review loop in a real browser (Playwright driving the installed Chromium) against a real
``xltemplate serve``: a reviewer of 行政政法科 logs in and sees only that 科室's departments, opens a
pending return, writes a reason at 指标值 and sends it back; the clerk's link page shows the reason
at its cell; the clerk corrects the annotated copy and uploads it as it is; the reviewer sees what
changed and that the reason's field changed, approves with grade 良; the dashboard says 审核通过
and the 汇总 has the row with 良.

``XLTEMPLATE_SCREENSHOTS=docs`` saves the manual's pictures of the review page and of the clerk's
page with a reviewer's reason."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from conftest import load_json, poke
from portal_server import PASSWORD, add_user, cli, start
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.form.forms import load_form

playwright_api = pytest.importorskip("playwright.sync_api")
expect, sync_playwright = playwright_api.expect, playwright_api.sync_playwright

SOCIAL = "/indicators/annual/benefit/social/0/value"


def _shot(page: Any, name: str, tmp: Path, full: bool = True) -> None:
    """A picture of the page (``full``: the whole page, else what the window shows)."""
    wanted = os.environ.get("XLTEMPLATE_SCREENSHOTS")
    folder = (Path(__file__).resolve().parents[1] / wanted) if wanted else tmp
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=full)


def test_the_review_loop_in_a_browser(browser: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'portal.db'}"
    roster = roster_file(tmp_path / "名单.csv", [["部门代码", "部门名称", "归口科室"],
                                               ["101", "市信访局", "行政政法科"], ["102", "市财政局", "经济建设科"],
                                               ["103", "市司法局", "行政政法科"]])
    res = cli("distribute", "wuhai-perf-target", "--roster", str(roster), "-o", str(tmp_path / "下发"), "--db", db,
              "--year", "2021", "--deadline", "2020-11-30", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    with open(tmp_path / "下发" / "manifest.csv", encoding="utf-8-sig") as fh:
        manifest = {m["code"]: m for m in csv.DictReader(fh)}
    assert cli("users", "add", "政法科李审", "--role", "reviewer", "--office", "行政政法科", "--db", db,
               stdin=PASSWORD + "\n").returncode == 0
    add_user(db, "经办张三", "staff")
    model, seed = load_form("wuhai-perf-target"), load_json("seed_000.json")
    server = start(db, tmp_path)
    try:
        for code, name in (("101", "市信访局"), ("102", "市财政局")):
            filled = clerk_fills(tmp_path / "下发" / manifest[code]["file"], model, as_department(seed, name, code),
                                 tmp_path / "in" / f"{code}.xlsx")
            got = httpx.post(server.url + manifest[code]["link"] + "/upload",
                             files={"file": ("绩效目标表.xlsx", filled.read_bytes())}, timeout=60)
            assert got.status_code == 200 and "检查无误" in got.text

        # the reviewer of 行政政法科 logs in: the dashboard lists that 科室's departments only
        reviewer = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = reviewer.new_page()
        page.goto(server.url + "/rounds")
        page.fill("input[name=name]", "政法科李审")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.wait_for_url(server.url + "/rounds")
        page.click("text=2021年度 乌海市财政支出预算绩效目标申报表")
        rows = {r.get_attribute("data-code"): r.locator("td[data-label='状态']").inner_text()
                for r in page.locator("#departments tbody tr").all()}
        assert rows == {"101": "待审核", "103": "未报送"}  # not 102, of 经济建设科
        assert page.locator("#new-round, input[name=files]").count() == 0  # no actions that run the round
        # the round's reviews, then the pending return's review page
        page.click("#to-reviews")
        assert [r.get_attribute("data-code") for r in page.locator("#review-list tbody tr").all()] == ["101"]
        page.click("#review-list >> text=外派人员生活补贴")
        assert "待审核" in page.locator("#review-state").inner_text()
        row = page.locator(f'tr[data-pointer="{SOCIAL}"]')
        assert "有效维护" in row.inner_text() and "指标值没有数值" in row.inner_text()  # the warning beside it
        row.locator("textarea").fill("指标值应有数值，如 满意度≥95%")
        page.locator("textarea[name='r:']").fill("请同时核对成本指标与预算明细")
        row.evaluate("el => el.scrollIntoView({block: 'center'})")
        _shot(page, "review-page.png", tmp_path, full=False)  # a warning beside the value, a reason written
        page.click("button[value=returned]")
        expect(page.locator("#review-state")).to_contain_text("已退回")
        assert "指标值应有数值" in page.locator("#reasons").inner_text()

        # the clerk's page shows the reason at its cell, and the annotated copy carries it
        clerk = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900}, locale="zh-CN")
        cp = clerk.new_page()
        cp.goto(server.url + manifest["101"]["link"])
        card = cp.locator(".card.reasons")
        expect(card).to_contain_text("财政局退回修改：外派人员生活补贴")
        lines = [r.inner_text() for r in card.locator("tbody tr").all()]
        assert any("H43" in x and "社会效益指标" in x and "指标值应有数值" in x for x in lines), lines
        assert any("整份报表" in x and "核对成本指标" in x for x in lines), lines
        assert "已退回" in cp.locator("#returns").inner_text()
        _shot(cp, "review-clerk-reasons.png", tmp_path)
        with cp.expect_download() as dl:
            card.locator("text=下载批注退回件").click()
        fixed = tmp_path / "clerk" / dl.value.suggested_filename
        fixed.parent.mkdir()
        dl.value.save_as(fixed)
        book = openpyxl.load_workbook(fixed)
        assert "审核意见：指标值应有数值" in book["绩效目标申报表"]["H43"].comment.text
        poke(fixed, model, {SOCIAL: "≥95%"})  # corrected in the annotated copy itself
        cp.set_input_files("input[name=file]", str(fixed))
        cp.click("text=上传并检查")
        receipt = cp.locator("#receipt").inner_text()
        assert "检查无误" in receipt and "已替换原来的报送" in receipt
        assert cp.locator(".card.reasons").count() == 0 and "待审核" in cp.locator("#returns").inner_text()

        # the reviewer sees what changed and that the reason's field changed, and approves with 良
        page.goto(page.url.split("/returns/")[0] + "/rounds/1/reviews")
        line = page.locator("#review-list tbody tr").first
        assert "重新报送" in line.inner_text() and "待审核" in line.inner_text()
        line.locator("text=外派人员生活补贴").click()
        changes = page.locator("#changes")
        assert "改动 1 处" in changes.locator("h2").inner_text()
        changed = changes.locator(f'tr[data-pointer="{SOCIAL}"]').inner_text()
        assert "有效维护" in changed and "≥95%" in changed
        earlier = [r.inner_text() for r in page.locator("#earlier-reasons tbody tr").all()]
        assert "已改动" in earlier[0] and "指标值应有数值" in earlier[0] and "未改动" not in earlier[0]
        page.evaluate("window.scrollTo(0, 0)")
        _shot(page, "review-changes.png", tmp_path, full=False)
        page.select_option("select[name=grade]", "良")
        page.click("button[value=approved]")
        expect(page.locator("#review-state")).to_contain_text("审核通过")
        assert "评级：良" in page.locator("#review-state").inner_text()

        # the dashboard says 审核通过, and the 汇总 has the row with 良
        page.goto(server.url + "/rounds/1")
        assert page.locator('tr[data-code="101"] td[data-label="状态"]').inner_text() == "审核通过"
        with page.expect_download() as dl:
            page.click("text=汇总表（仅审核通过，xlsx）")
        book = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
        rows = list(book["汇总（审核通过）"].iter_rows(values_only=True))
        assert rows[0][4:6] == ("审核状态", "评级")
        assert [(r[1], r[4], r[5]) for r in rows[1:]] == [("市信访局", "审核通过", "良")]
        indicators = list(book["项目绩效指标（审核通过）"].iter_rows(min_row=2, values_only=True))
        assert "≥95%" in {r[-1] for r in indicators}
        for context in (reviewer, clerk):
            context.close()
    finally:
        server.stop()
