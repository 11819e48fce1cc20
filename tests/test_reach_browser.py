"""The stamped paper copy and the reminders in a real browser (Playwright driving the installed
Chromium) against a real ``xltemplate serve`` whose mail goes to a real SMTP server on loopback:
the clerk uploads a return and downloads its 打印版; the test prints it to PDF with LibreOffice, as
a scanner's PDF would arrive; the clerk uploads that scan for the return; staff see the scan as a
picture beside its 校验码 and the current data's, the same; a changed upload makes the page say
扫描件对应旧版本.  Staff tick a department on the dashboard and remind it, and copy the message to
paste for another.

``XLTEMPLATE_SCREENSHOTS=docs`` saves the manual's picture of a scan beside its 校验码."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import libreoffice
import pytest
import smtpserver
from conftest import load_json
from portal_server import PASSWORD, add_user, cli, start
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.collect import settings
from xltemplate.collect.store import Store
from xltemplate.form.forms import load_form

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def test_a_stamped_scan_beside_its_check_code_and_a_reminder_in_a_browser(browser: Any,
                                                                          tmp_path: Path) -> None:
    libreoffice.require()
    model = load_form("wuhai-perf-target")
    seed = load_json("seed_000.json")
    db = f"sqlite:///{tmp_path / 'portal.db'}"
    roster = roster_file(tmp_path / "名单.csv", [["部门代码", "部门名称", "联系人", "邮箱"],
                                                 ["101", "市信访局", "李杰", "xfj@example.gov.cn"],
                                                 ["102", "市财政局", "王某", "czj@example.gov.cn"]])
    res = cli("distribute", "wuhai-perf-target", "--roster", str(roster), "-o", str(tmp_path / "下发"), "--db", db,
              "--year", "2021", "--deadline", "2030-11-30", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    links = {line.split(",")[0]: line.rsplit(",", 1)[1].strip()
             for line in (tmp_path / "下发" / "manifest.csv").read_text(encoding="utf-8-sig").splitlines()[1:]}
    add_user(db, "财政局张三")
    with smtpserver.running() as smtp:
        server = start(db, tmp_path, smtp.env())
        store = Store(db)
        settings.put(store, settings.BASE_URL, server.url)
        store.dispose()
        try:
            _clerk_and_staff(browser, server.url, links, model, seed, tmp_path, smtp)
        finally:
            server.stop()


def _clerk_and_staff(browser: Any, url: str, links: dict[str, str], model: Any, seed: dict,
                     tmp_path: Path, smtp: smtpserver.Server) -> None:
    clerk = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900}, locale="zh-CN")
    cp = clerk.new_page()
    cp.goto(url + links["101"])
    with cp.expect_download() as dl:
        cp.click("text=下载 101_市信访局.xlsx")
    template = tmp_path / "clerk" / "模板.xlsx"
    template.parent.mkdir()
    dl.value.save_as(template)
    clerk_fills(template, model, as_department(seed, "市信访局", "101"), tmp_path / "clerk" / "填好的.xlsx")
    cp.set_input_files("input[name=file]", str(tmp_path / "clerk" / "填好的.xlsx"))
    cp.click("text=上传并检查")
    expect(cp.locator("#receipt h2")).to_contain_text("检查无误")
    papers = cp.locator("#papers")
    expect(papers).to_contain_text("盖章扫描件：")
    expect(papers).to_contain_text("尚未上传")
    code = re.search(r"校验码 ([0-9A-Z]{4}-[0-9A-Z]{4})", papers.inner_text()).group(1)
    # the clerk downloads the 打印版; it is printed (LibreOffice to PDF, as a scanner's PDF arrives)
    with cp.expect_download() as dl:
        papers.get_by_role("link", name="下载打印版").click()
    assert dl.value.suggested_filename.endswith(f"_打印版_{code}.xlsx")
    printed = tmp_path / "clerk" / "打印版.xlsx"
    dl.value.save_as(printed)
    scan = libreoffice.convert(printed, tmp_path / "scanner", "pdf")
    cp.locator("#papers input[name=scan]").set_input_files(str(scan))
    cp.locator("#papers button[type=submit]").click()
    expect(cp.locator("#scanned")).to_contain_text("扫描件已收到")
    expect(cp.locator("#papers")).to_contain_text("已上传，与当前数据一致")

    # staff see the scan as a picture beside the 校验码 it was made for and the current one
    staff = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}, locale="zh-CN")
    sp = staff.new_page()
    sp.goto(url + "/login")
    sp.fill("input[name=name]", "财政局张三")
    sp.fill("input[name=password]", PASSWORD)
    sp.click("button[type=submit]")
    sp.wait_for_url(url + "/rounds")
    sp.goto(url + "/rounds/1/d/101")
    box = sp.locator(".scan").first
    expect(box).to_contain_text(f"扫描件校验码 {code} · 当前数据校验码 {code}")
    expect(box).to_contain_text("与当前数据一致")
    picture = box.locator("img")
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth > 100")
    assert sp.locator("embed, object, iframe").count() == 0  # no PDF is opened in the page
    box.scroll_into_view_if_needed()
    _shot_of(box, "scan-beside-code.png", tmp_path)
    # the review page of that return shows the same scan beside its 校验码, its picture loaded
    sid = re.search(r"scan-(\d+)-", box.get_attribute("id")).group(1)
    sp.goto(url + f"/returns/{sid}/review")
    scans = sp.locator("#scans .scan")
    expect(scans).to_have_count(1)
    expect(scans.first).to_contain_text(f"扫描件校验码 {code} · 当前数据校验码 {code}")
    expect(scans.first.locator("img")).to_be_visible()
    assert scans.first.locator("img").evaluate("img => img.complete && img.naturalWidth > 100")
    sp.set_viewport_size({"width": 390, "height": 844})  # on a phone the picture stays within the page
    assert sp.evaluate("document.documentElement.scrollWidth") <= 390
    sp.set_viewport_size({"width": 1280, "height": 900})
    sp.goto(url + "/rounds/1/d/101")

    # a corrected upload: the data the scan signed is no longer the data that counts
    changed = as_department(seed, "市信访局", "101")
    changed["cover"]["preparer"] = "另一位填报人"
    clerk_fills(template, model, changed, tmp_path / "clerk" / "改过的.xlsx")
    cp.goto(url + links["101"])
    cp.set_input_files("input[name=file]", str(tmp_path / "clerk" / "改过的.xlsx"))
    cp.click("text=上传并检查")
    expect(cp.locator("#papers")).to_contain_text("扫描件对应旧版本")
    sp.reload()
    expect(sp.locator(".scan").first).to_contain_text("扫描件对应旧版本")
    expect(sp.locator(".scan.stale")).to_have_count(1)

    # the dashboard: tick the department that has not returned, remind it, see it in the round's messages
    sp.goto(url + "/rounds/1")
    sp.check('tr[data-code="102"] input[name=code]')
    sp.get_by_role("button", name="发送催报邮件").click()
    sp.wait_for_url(url + "/rounds/1/messages")
    end = time.monotonic() + 20
    while not smtp.box.to("czj@example.gov.cn") and time.monotonic() < end:
        time.sleep(0.1)
    [got] = smtp.box.to("czj@example.gov.cn")  # the notices of 101's uploads go to 101 alone
    assert "催报" in got.subject and "尚未报送" in got.body
    expect(sp.locator("#messages")).to_contain_text("手动催报")
    # without mail for a department: the message to paste, copied with one click
    staff.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    sp.goto(url + "/rounds/1/d/102")
    sp.click("text=生成催报消息")
    text = sp.locator("#chase-text").input_value()
    assert text.startswith("【催报】市财政局：") and url + "/l/" in text
    sp.click("[data-copy=chase-text]")
    expect(sp.locator("[data-copy=chase-text]")).to_have_text("已复制")
    assert sp.evaluate("navigator.clipboard.readText()") == text
    for context in (clerk, staff):
        context.close()


def _shot_of(element: Any, name: str, tmp: Path) -> None:
    """A picture of one part of the page (the manual's), saved like the other screenshots."""
    import os

    wanted = os.environ.get("XLTEMPLATE_SCREENSHOTS")
    folder = (Path(__file__).resolve().parents[1] / wanted) if wanted else tmp
    folder.mkdir(parents=True, exist_ok=True)
    element.screenshot(path=str(folder / name))
