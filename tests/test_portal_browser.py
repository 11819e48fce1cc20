"""The whole loop in a real browser (Playwright driving the installed Chromium), against a real
``xltemplate serve``: staff log in and create a round from a roster; a clerk opens the
department's link, downloads the template, uploads it with a mistake, reads the error, uploads
the corrected copy; the dashboard shows 待审核 for that department and 未报送 for another (and
refreshes itself); staff bulk-upload returns received by mail and watch the job; staff
download the 汇总 and the test opens it.  Pages work without JavaScript too.

``XLTEMPLATE_SCREENSHOTS=docs`` saves the README's pictures of the dashboard and of a
department page with errors."""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from conftest import load_json
from portal_server import PASSWORD, add_user, start
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.form.forms import load_form

playwright_api = pytest.importorskip("playwright.sync_api")
expect, sync_playwright = playwright_api.expect, playwright_api.sync_playwright



def _shot(page: Any, name: str, tmp: Path) -> None:
    wanted = os.environ.get("XLTEMPLATE_SCREENSHOTS")
    folder = (Path(__file__).resolve().parents[1] / wanted) if wanted else tmp  # relative to the repository
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)


def test_the_whole_loop_in_a_browser(browser: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'portal.db'}"
    add_user(db, "财政局张三")
    server = start(db, tmp_path)
    model = load_form("wuhai-perf-target")
    seed = load_json("seed_000.json")
    try:
        # staff log in and create a round from a roster
        staff = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = staff.new_page()
        page.goto(server.url + "/rounds")
        assert page.url.startswith(server.url + "/login")
        page.fill("input[name=name]", "财政局张三")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/rounds")
        roster = roster_file(tmp_path / "部门名单.csv", [
            ["部门代码", "部门名称", "联系人"], ["101", "市信访局", "李杰"], ["102", "市财政局", "王某"],
            ["103", "市教育局", ""], ["104", "市民政局", ""], ["105", "市司法局", ""]])
        page.select_option("select[name=form]", "wuhai-perf-target")
        page.fill("input[name=year]", "2021")
        page.fill("input[name=deadline]", "2020-11-30")
        page.set_input_files("input[name=roster]", str(roster))
        page.click("#new-round button[type=submit]")
        page.wait_for_url(re.compile(r".*/rounds/\d+\?package=\d+"))
        round_url = page.url.split("?")[0]
        with page.expect_download() as dl:
            page.click("text=下载模板和链接清单（zip）")
        package = zipfile.ZipFile(dl.value.path())
        names = package.namelist()
        assert "模板/101_市信访局.xlsx" in names and "部门链接清单.xlsx" in names
        sheet = openpyxl.load_workbook(io.BytesIO(package.read("部门链接清单.xlsx"))).active
        links = {row[0]: row[4] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert set(links) == {"101", "102", "103", "104", "105"}
        assert all(v.startswith(server.url + "/l/") for v in links.values())

        # a clerk opens the link, downloads the template, uploads it with a mistake
        clerk = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900}, locale="zh-CN")
        cp = clerk.new_page()
        cp.goto(links["101"])
        assert cp.locator("h1").inner_text() == "市信访局" and "2020-11-30" in cp.content()
        with cp.expect_download() as dl:
            cp.click("text=下载 101_市信访局.xlsx")
        assert dl.value.suggested_filename == "101_市信访局.xlsx"
        template = tmp_path / "clerk" / dl.value.suggested_filename
        template.parent.mkdir()
        dl.value.save_as(template)
        wrong = as_department(seed, "市信访局", "101")
        wrong["project"]["function_code"] = "201030"
        wrong["funding"]["request"] = "七万"
        clerk_fills(template, model, wrong, tmp_path / "clerk" / "填好的.xlsx")
        # the file chooser speaks Chinese whatever the browser's own language (this Chromium's is English)
        chooser = cp.locator("[data-file-pick]")
        expect(chooser.locator("label")).to_be_visible()
        expect(chooser.locator("label")).to_have_text("选择文件…")
        expect(chooser.locator(".file-name")).to_have_text("未选择文件")
        cp.set_input_files("input[name=file]", str(tmp_path / "clerk" / "填好的.xlsx"))
        expect(chooser.locator(".file-name")).to_have_text("填好的.xlsx")
        cp.click("text=上传并检查")
        receipt = cp.locator("#receipt")
        assert "有错误" in receipt.locator("h2").inner_text()
        rows = [r.inner_text() for r in receipt.locator("tbody tr").all()]
        assert any("D6" in r and "项目基本情况 · 预算功能科目" in r and "7位数字" in r for r in rows), rows
        assert any("七万" in r for r in rows), rows
        assert "这是一个新项目的报表：外派人员生活补贴" in receipt.inner_text()
        _shot(cp, "portal-department-errors.png", tmp_path)
        with cp.expect_download() as dl:
            cp.click("#receipt >> text=下载批注退回件")
        assert dl.value.suggested_filename == "填好的_退回修改.xlsx"
        assert "错误清单" in openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes())).sheetnames
        # the corrected copy supersedes it
        clerk_fills(template, model, as_department(seed, "市信访局", "101"), tmp_path / "clerk" / "改好的.xlsx")
        cp.set_input_files("input[name=file]", str(tmp_path / "clerk" / "改好的.xlsx"))
        cp.click("text=上传并检查")
        text = cp.locator("#receipt").inner_text()
        assert "检查无误，等待财政局审核" in text and "已替换原来的报送" in text and "填好的.xlsx" in text
        assert "提示 6 条" in text  # seed 000's 指标值 without numbers and its rows of 无

        # more departments return (by their links, outside the browser)
        def send(code: str, name: str, mistake: bool = False) -> None:
            data = as_department(seed, name, code)
            if mistake:
                data["project"]["function_code"] = "20103O8"
            t = tmp_path / f"{code}.xlsx"
            with httpx.Client() as c:
                sid = re.search(r'/template/([^"]+)"', c.get(links[code]).text).group(1)
                t.write_bytes(c.get(f"{links[code]}/template/{sid}").content)
                filled = clerk_fills(t, model, data, tmp_path / f"{code}-filled.xlsx")
                res = c.post(links[code] + "/upload", files={"file": ("报表.xlsx", filled.read_bytes())})
                assert res.status_code == 200

        send("103", "市教育局")
        # the dashboard: 待审核 for the clerk's department, 未报送 for another; it refreshes itself
        page.goto(round_url)
        status = {r.get_attribute("data-code"): r.locator("td").nth(3).inner_text()
                  for r in page.locator("#departments tbody tr").all()}
        assert status == {"101": "待审核", "102": "未报送", "103": "待审核", "104": "未报送", "105": "未报送"}
        assert "已报送 2 / 5 个部门" in page.locator(".totals").inner_text()
        send("104", "市民政局", mistake=True)
        expect(page.locator('tr[data-code="104"]')).to_contain_text("有错误", timeout=20000)  # no reload
        _shot(page, "portal-dashboard.png", tmp_path)

        # returns received by mail: a bulk upload, its progress on the page, its results in the dashboard
        mail = tmp_path / "邮件附件.zip"
        with zipfile.ZipFile(mail, "w") as zf:
            for code, name in (("105", "市司法局"),):
                t = tmp_path / f"{code}.xlsx"
                with httpx.Client() as c:
                    sid = re.search(r'/template/([^"]+)"', c.get(links[code]).text).group(1)
                    t.write_bytes(c.get(f"{links[code]}/template/{sid}").content)
                filled = clerk_fills(t, model, as_department(seed, name, code), tmp_path / "m.xlsx")
                zf.write(filled, f"附件/{name}.xlsx")
            zf.writestr("附件/说明.docx", b"not a workbook")
        page.set_input_files("input[name=files]", str(mail))
        page.click("text=上传并导入")
        page.wait_for_url(re.compile(r".*/jobs/\d+"))
        expect(page.locator("#live")).to_contain_text("已完成", timeout=30000)
        expect(page.locator("#job-progress")).to_have_attribute("value", "2")
        assert "无法读取" in page.locator("#live").inner_text()
        page.goto(round_url + "?status=pending")
        assert {r.get_attribute("data-code") for r in page.locator("#departments tbody tr").all()} == \
            {"101", "103", "105"}

        # staff download the 汇总 and open it
        page.goto(round_url)
        with page.expect_download() as dl:
            page.click("text=汇总表（xlsx）")
        assert dl.value.suggested_filename.endswith("_汇总.xlsx")
        book = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
        summary = list(book["汇总"].iter_rows(min_row=2, values_only=True))
        assert sorted(r[1] for r in summary) == ["市信访局", "市司法局", "市教育局"]
        assert [r[1] for r in book["未报送"].iter_rows(min_row=2, values_only=True)] == ["市财政局"]

        # without JavaScript the pages still work (filters by plain GET forms)
        plain = browser.new_context(java_script_enabled=False)
        for cookie in staff.cookies():
            plain.add_cookies([cookie])
        np = plain.new_page()
        np.goto(round_url)
        assert np.locator('meta[http-equiv="refresh"]').count() == 1  # it refreshes itself without JavaScript too
        assert "已报送 4 / 5 个部门" in np.content()
        np.select_option("select[name=status]", "not_returned")
        np.click(".filters button[type=submit]")
        assert [r.get_attribute("data-code") for r in np.locator("#departments tbody tr").all()] == ["102"]
        np.goto(links["102"])  # the browser's own file control, the page's button left hidden
        expect(np.locator("input[name=file]")).to_be_visible()
        expect(np.locator("[data-file-pick] label")).to_be_hidden()
        for context in (staff, clerk, plain):
            context.close()
    finally:
        server.stop()


def test_a_person_is_asked_before_a_destructive_action_and_warned_about_links_to_this_computer(
        browser: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'portal.db'}"
    add_user(db, "管理员", role="admin")
    add_user(db, "财政局李四")
    server = start(db, tmp_path)
    try:
        admin = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = admin.new_page()
        page.goto(server.url + "/login")
        page.fill("input[name=name]", "管理员")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/rounds")
        # links would begin with 127.0.0.1: said before anything is made, and the admin is led to the settings
        warning = page.locator("#new-round .base-warning")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text(f"注意：{server.url} 是本机地址，其他电脑打不开以它开头的链接。")
        warning.locator("a").click()
        page.wait_for_url(server.url + "/settings")
        expect(page.locator("h1")).to_have_text("平台设置")
        page.fill("input[name=base_url]", "http://192.168.10.5:8000/")
        page.click("#base-url button[type=submit]")
        page.wait_for_url(server.url + "/settings")
        expect(page.locator("#saved")).to_have_text("已保存。")
        expect(page.locator("#base-url")).to_contain_text("现为 http://192.168.10.5:8000（管理员 于")
        _shot(page, "portal-settings.png", tmp_path)
        page.goto(server.url + "/rounds")
        expect(page.locator("#new-round .base-warning")).to_have_count(0)
        expect(page.locator("#new-round .base-url")).to_have_text("各部门的链接将以 http://192.168.10.5:8000 开头。")
        # a form must be chosen: the browser does not send the form until one is
        roster = roster_file(tmp_path / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"], ["102", "市财政局"],
                                                   ["103", "市教育局"]])
        page.set_input_files("input[name=roster]", str(roster))
        page.fill("input[name=year]", "2021")
        page.click("#new-round button[type=submit]")
        assert page.url == server.url + "/rounds"
        assert page.locator("select[name=form]").evaluate("s => s.validity.valueMissing")
        page.select_option("select[name=form]", "wuhai-perf-target")
        page.click("#new-round button[type=submit]")
        page.wait_for_url(re.compile(r".*/rounds/\d+\?package=\d+"))
        round_url = page.url.split("?")[0]
        with page.expect_download() as dl:
            page.click("text=下载模板和链接清单（zip）")
        sheet = openpyxl.load_workbook(io.BytesIO(zipfile.ZipFile(dl.value.path()).read("部门链接清单.xlsx"))).active
        assert all(row[4].startswith("http://192.168.10.5:8000/l/")
                   for row in sheet.iter_rows(min_row=2, values_only=True))

        # closing the round asks first, in a dialog naming what it affects; cancel changes nothing
        page.goto(round_url)
        page.click("a[data-confirm=confirm-close]")
        dialog = page.locator("dialog#confirm-close")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("3 个部门的链接将不再接收上传")
        expect(dialog).to_contain_text("目前已报送 0 / 3 个部门")
        _shot(page, "portal-confirm-dialog.png", tmp_path)
        dialog.locator("[data-close]").click()
        expect(dialog).to_be_hidden()
        page.reload()
        expect(page.locator("#round-state")).to_contain_text("截止关闭本轮")
        page.click("a[data-confirm=confirm-close]")
        page.locator("dialog#confirm-close button[type=submit]").click()
        page.wait_for_url(round_url)
        expect(page.locator(f"#round-state form[action='{round_url.removeprefix(server.url)}/reopen'] button")
               ).to_have_text("重新开放本轮")

        # a new link: asked in a dialog, shown once; a reload shows it no more
        page.goto(round_url + "/d/101")
        page.click("a[data-confirm=confirm-link-new]")
        expect(page.locator("dialog#confirm-link-new")).to_contain_text("市信访局现在的链接将立即失效")
        page.locator("dialog#confirm-link-new button[type=submit]").click()
        page.wait_for_url(round_url + "/d/101")
        new_link = page.locator("#new-link").inner_text()
        assert new_link.startswith("http://192.168.10.5:8000/l/")
        page.reload()
        expect(page.locator("#new-link")).to_have_count(0)

        # without JavaScript the same question is a page of its own
        plain = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
        plain.add_cookies(admin.cookies())
        np = plain.new_page()
        np.goto(round_url + "/d/101")
        np.click("a[data-confirm=confirm-link-revoke]")
        np.wait_for_url(round_url + "/d/101/link/revoke")
        expect(np.locator("h2")).to_have_text("作废 101 市信访局 的链接？")
        expect(np.locator("main")).to_contain_text("市信访局将无法再通过现在的链接上传或查看")
        _shot(np, "portal-confirm-page.png", tmp_path)
        np.click("main button[type=submit]")
        np.wait_for_url(round_url + "/d/101")
        expect(np.locator("main")).to_contain_text("该部门目前没有有效链接。")

        # a staff account on an admin page reads why it cannot use it
        staff = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        sp = staff.new_page()
        sp.goto(server.url + "/login")
        sp.fill("input[name=name]", "财政局李四")
        sp.fill("input[name=password]", PASSWORD)
        sp.click("button[type=submit]")
        sp.wait_for_url(server.url + "/rounds")
        expect(sp.locator("nav")).not_to_contain_text("平台设置")
        sp.goto(server.url + "/settings")
        expect(sp.locator(".error-text")).to_contain_text("需要管理员权限")
        expect(sp.locator("main")).not_to_contain_text("可能已过期")
        for context in (admin, plain, staff):
            context.close()
    finally:
        server.stop()
