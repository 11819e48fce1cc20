"""The portal's help pages, in a real Chromium against a real ``xltemplate serve``: the clerks' help
(how to fill, what 提示 and 有错误 mean, a cell address, a correction, whom to call) and the staff's
help (a round from start to finish) are served with no internet, fit a desk and a 390 px phone with no
horizontal scroll, and are reached by their links from a staff page and from a clerk's link page.
Every page of the portal links to them (the staff's pages to both)."""

from __future__ import annotations

import csv
import re
from typing import Any

import httpx
import pytest
from portal_server import PASSWORD, add_user, cli, login, start
from test_rounds import roster_file

playwright_api = pytest.importorskip("playwright.sync_api")
sync_playwright = playwright_api.sync_playwright

DESK, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
CLERK_HELP = ["填报帮助", "浅黄色的单元格是填写处", "提示", "输入有误", "有错误", "待审核", "已退回", "D6",
              "D 列第 6 行", "下载批注退回件", "改正后重新上传", "遇到问题找谁", "保存为 .xlsx 格式"]
STAFF_HELP = ["使用帮助", "新建收集轮次", "下载模板和链接清单", "只能下载一次", "把链接发给各部门", "查看报送情况",
              "批量上传邮件收到的报表", "下载汇总表", "撤回", "截止关闭本轮"]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A served round of two departments, an admin, and the departments' links."""
    folder = tmp_path_factory.mktemp("help")
    db = f"sqlite:///{folder / 'portal.db'}"
    roster = roster_file(folder / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"], ["102", "市财政局"]])
    res = cli("distribute", "wuhai-perf-target", "--roster", str(roster), "-o", str(folder / "下发"), "--db", db,
              "--year", "2021", cwd=folder)
    assert res.returncode == 0, res.stderr
    with open(folder / "下发" / "manifest.csv", encoding="utf-8-sig") as fh:
        links = {m["code"]: m["link"] for m in csv.DictReader(fh)}
    add_user(db, "管理员", "admin")
    server = start(db, folder)
    yield server, links
    server.stop()


def _offsite(page: Any) -> list[str]:
    """Every request the page makes to anything but the portal itself."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if not r.url.startswith("http://127.0.0.1:") else None)
    return seen


def _fits(page: Any) -> None:
    """Nothing on the page is wider than the window: no horizontal scroll."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]")
    assert max(width[:2]) <= width[2], width


def _check_help(page: Any, url: str, texts: list[str]) -> None:
    for viewport in (DESK, PHONE):
        page.set_viewport_size(viewport)
        page.goto(url)
        text = page.locator("main").inner_text()
        missing = [t for t in texts if t not in text]
        assert not missing, (url, viewport, missing)
        _fits(page)
        # the table of contents leads to every section
        for anchor in page.locator(".toc a").all():
            target = anchor.get_attribute("href")
            assert page.locator(target).count() == 1, target


def test_help_pages_are_linked_and_fit_a_desk_and_a_phone(browser: Any, portal: Any) -> None:
    server, links = portal
    # staff: from the rounds page to the staff help, and from there to the clerks' help
    staff = browser.new_context(viewport=DESK, locale="zh-CN")
    page = staff.new_page()
    offsite = _offsite(page)
    page.goto(server.url + "/login")
    page.fill("input[name=name]", "管理员")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/rounds")
    page.click("header >> text=使用帮助")
    page.wait_for_url(server.url + "/help/staff")
    assert page.locator("h1").inner_text() == "使用帮助"
    _check_help(page, server.url + "/help/staff", STAFF_HELP)
    page.click("main >> text=填报帮助")
    page.wait_for_url(server.url + "/help/clerk")
    page.goto(server.url + "/rounds/1")
    page.click("header >> text=填报帮助")
    page.wait_for_url(server.url + "/help/clerk")
    _check_help(page, server.url + "/help/clerk", CLERK_HELP)

    # a clerk: from the department's link page to the clerks' help, on a phone
    clerk = browser.new_context(viewport=PHONE, locale="zh-CN")
    cp = clerk.new_page()
    offsite += _offsite(cp)
    cp.goto(server.url + links["101"])
    assert cp.locator("h1").inner_text() == "市信访局"
    assert cp.locator("header >> text=使用帮助").count() == 0  # a clerk is pointed at the clerks' help only
    cp.click("header >> text=填报帮助")
    cp.wait_for_url(server.url + "/help/clerk")
    assert cp.locator("h1").inner_text() == "填报帮助"
    _fits(cp)
    assert offsite == []
    staff.close()
    clerk.close()


def test_every_page_links_to_the_help(portal: Any) -> None:
    server, links = portal
    public = {"/login": True, links["101"]: False, "/l/" + "x" * 43: False, "/help/clerk": False,
              "/help/staff": True}
    for path, staff_too in public.items():
        res = httpx.get(server.url + path)
        assert 'href="/help/clerk"' in res.text, path
        assert ('href="/help/staff"' in res.text) == staff_too, path
    assert httpx.get(server.url + "/help/clerk").status_code == 200
    assert httpx.get(server.url + "/help/staff").status_code == 200
    client = login(server, "管理员")
    for path in ("/rounds", "/rounds/1", "/rounds/1/d/101", "/audit", "/tokens", "/rounds/999"):
        html = client.get(path).text
        assert 'href="/help/staff"' in html and 'href="/help/clerk"' in html, path
        assert re.search(r"<header.*/help/staff.*</header>", html, re.S), path
