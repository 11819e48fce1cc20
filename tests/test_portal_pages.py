"""Every page a clerk or a staff member opens, in a real Chromium against a real ``xltemplate serve``
with something on every page (tests/portal_site.py): at a 390 px phone and at desk width, nothing is
wider than the window (no horizontal scroll) and nothing spills out of its card; by keyboard alone,
Tab reaches every control and the focus is always visible; without JavaScript the pages fit too.
Every page and export says things in Chinese words: no internal key (annual, department_code,
link:105, replaces=[]) and no command name, but on the login page of a portal with no account yet.

``XLTEMPLATE_SCREENSHOTS=docs`` saves the manual's pictures of a phone: the clerk's page with a
receipt full of errors, and the dashboard."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from portal_server import PASSWORD, login, start
from portal_site import ADMIN, LONG, STAFF, Site, build

from xltemplate.collect.departments import STATES
from xltemplate.form.forms import load_form

playwright_api = pytest.importorskip("playwright.sync_api")
sync_playwright = playwright_api.sync_playwright

DESK, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}

#: ASCII words a page may say: names of things people know (programs, file kinds), column letters
ALLOWED = {"Excel", "WPS", "LibreOffice", "Microsoft", "xlsx", "xls", "CSV", "csv", "zip", "PDF", "pdf", "docx",
           "MB", "KB", "JPG", "PNG", "OpenAPI", "manifest", "A", "B", "C", "D", "U"}
CELL = re.compile(r"^[A-Z]{1,3}[0-9]+$")  # a cell: D6


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    built = build(tmp_path_factory.mktemp("pages"))
    yield built
    built.server.stop()


def _shot(page: Any, name: str) -> None:
    wanted = os.environ.get("XLTEMPLATE_SCREENSHOTS")
    if wanted:
        folder = Path(__file__).resolve().parents[1] / wanted
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name), full_page=True)


# -- what is checked on each page ------------------------------------------------------------------

_SPILLS = """() => {
  const out = [];
  for (const box of document.querySelectorAll('.card, main, header')) {
    const edge = box.getBoundingClientRect().right + 1;
    for (const el of box.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      const hidden = el.closest('thead');
      if (r.width === 0 || r.height === 0 || (hidden && hidden.getBoundingClientRect().width <= 1)) continue;
      if (r.right > edge) out.push(`${el.tagName}.${el.className}: ${(el.textContent || '').trim().slice(0, 40)}`);
    }
  }
  return out;
}"""


def _fits(page: Any, where: str) -> None:
    """No horizontal scroll, and nothing sticks out of its card (or of the page)."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], (where, width)
    spills = page.evaluate(_SPILLS)
    assert not spills, (where, spills[:5])


_CONTROLS = """() => {
  const all = document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary');
  const out = [];
  all.forEach((el, i) => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    if (el.disabled || s.visibility === 'hidden' || r.width === 0 || r.height === 0) return;
    el.dataset.kb = String(i);
    out.push(String(i));
  });
  return out;
}"""
_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || !el.dataset.kb) return null;
  const shown = el.matches('.file-pick.enhanced input[type=file]') ? el.nextElementSibling : el;
  const s = getComputedStyle(shown), r = shown.getBoundingClientRect();
  const ring = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  const onScreen = r.width > 0 && r.height > 0 && r.right > 0 && r.left < window.innerWidth;
  return [el.dataset.kb, ring && onScreen, `${el.tagName} ${(el.textContent || el.name || '').trim().slice(0, 30)}`];
}"""


def _keyboard(page: Any, where: str) -> None:
    """Tab from the top reaches every control of the page, each with a visible focus ring."""
    controls = page.evaluate(_CONTROLS)
    page.evaluate("""() => { const b = document.body;  // the next Tab starts at the top, as on arriving
        b.setAttribute('tabindex', '-1'); b.focus(); b.removeAttribute('tabindex'); window.scrollTo(0, 0); }""")
    reached: list[str] = []
    unseen: list[str] = []
    for _ in range(len(controls) + 3):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED)
        if focused is None or (reached and focused[0] == reached[0]):
            break
        reached.append(focused[0])
        if not focused[1]:
            unseen.append(focused[2])
    missed = [c for c in controls if c not in reached]
    assert not missed, (where, "not reached by Tab", page.evaluate(
        "ids => ids.map(i => document.querySelector(`[data-kb='${i}']`).outerHTML.slice(0, 120))", missed))
    assert not unseen, (where, "focus not visible", unseen)


ACTION_WORDS = {"login", "login_failed", "logout", "upload", "upload_refused", "bulk_upload", "download", "withdraw",
                "restore", "create_round", "close_round", "reopen_round", "new_link", "revoke_link", "package_ready",
                "api_token", "api_token_revoked"}


def _internal_keys() -> set[str]:
    """Words that are ours, not the reader's: the form's keys, ids, statuses, actions, detail keys, commands."""
    keys: set[str] = {"wuhai-perf-target", "expense-claim", "department_code", "replaces", "via", "file_id",
                      "sha256", "round_id", "submission", "link", "None", "null", "True", "False", "not_returned",
                      "duplicate", "superseded", "current", "open", "closed", "distribute", "serve", "users",
                      "xltemplate", "db", *STATES, *ACTION_WORDS}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict) and key in ("properties", "$defs"):
                    keys.update(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(load_form("wuhai-perf-target").schema)
    return keys


INTERNAL = _internal_keys()
WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$:-]*")


def _words(text: str, where: str, strict: bool = True) -> None:
    """No internal key in ``text``; with ``strict`` (a page), no ASCII word but those people know."""
    text = re.sub(r"https?://[^\s，。）]+", " ", text)  # an address to copy is an address
    text = re.sub(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}\b", " ", text)  # so is a 校验码 (collect/checkcode.py)
    words = [w.rstrip(":-") for w in WORD.findall(text) if re.search("[A-Za-z]", w)]
    inner = sorted({w for w in words if w in INTERNAL or w.startswith("link:") or w.startswith("--")})
    assert not inner, (where, inner)
    assert "[]" not in text and "=[" not in text, where
    if strict:
        odd = sorted({w for w in words if w and w not in ALLOWED and not CELL.match(w)})
        assert not odd, (where, odd)


# -- the pages -------------------------------------------------------------------------------------

def _staff_pages(site: Site) -> dict[str, str]:
    return {"轮次": "/rounds", "报送情况": "/rounds/1", "报送情况（筛选）": "/rounds/1?status=invalid&sort=name",
            "部门（有错误、被拒收的上传、历史）": "/rounds/1/d/101", "部门（名称很长）": "/rounds/1/d/102",
            "部门（已撤回）": "/rounds/1/d/104", "已关闭的轮次": "/rounds/2", "批量导入": f"/rounds/1/jobs/{site.job}",
            "本轮邮件记录": "/rounds/1/messages",
            "操作记录": "/audit", "操作记录（按部门）": "/audit?round=1&department=102", "接口令牌": "/tokens",
            "审核列表": "/rounds/1/reviews", "审核页（待审核）": f"/returns/{site.pending}/review",
            "审核页（已退回）": f"/returns/{site.returned}/review", "账号": "/users",
            "使用帮助": "/help/staff", "填报帮助": "/help/clerk", "找不到的页面": "/rounds/999",
            # the questions before destructive actions, and the admin's settings
            "确认截止": "/rounds/1/close", "确认重新生成全部链接": "/rounds/1/links",
            "确认作废链接（名称很长）": "/rounds/1/d/102/link/revoke", "确认删除轮次": "/rounds/1/delete",
            "平台设置": "/settings"}


def _public_pages(site: Site) -> dict[str, str]:
    return {"登录": "/login", "部门的链接": site.links["101"], "部门的链接（名称很长）": site.links["102"],
            "部门的链接（已退回）": site.links["103"],
            "已截止的轮次的链接": site.closed_links["102"], "无效的链接": "/l/" + "x" * 43,
            "填报帮助（部门）": "/help/clerk"}


def _log_in(browser: Any, site: Site, viewport: dict[str, int], name: str = ADMIN, js: bool = True) -> Any:
    context = browser.new_context(viewport=viewport, locale="zh-CN", java_script_enabled=js)
    page = context.new_page()
    page.goto(site.url + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(site.url + "/rounds")
    return context


def _check(page: Any, where: str, viewport: dict[str, int], keyboard: bool = True) -> None:
    _fits(page, where)
    if keyboard:
        _keyboard(page, where)
    if viewport is DESK:
        _words(page.locator("body").inner_text(), where)


def _receipt(page: Any, site: Site, n: int) -> None:
    """A clerk of the department with the long name uploads a workbook full of mistakes."""
    page.goto(site.url + site.links["102"])
    page.set_input_files("input[name=file]", str(site.wrong("102", LONG, n)))
    page.click("text=上传并检查")
    page.wait_for_selector("#receipt")
    assert "有错误" in page.locator("#receipt h2").inner_text()
    assert page.locator("#receipt tbody tr").count() >= 4


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["phone", "desk"])
def test_every_page_fits_and_works_by_keyboard(browser: Any, site: Site, viewport: dict[str, int]) -> None:
    staff = _log_in(browser, site, viewport)
    page = staff.new_page()
    for where, path in _staff_pages(site).items():
        page.goto(site.url + path)
        _check(page, where, viewport)
        if where == "报送情况":
            assert page.locator("#unrecognized tbody tr").count() == 1  # the mail's 说明.docx waits there
            if viewport is PHONE:
                _shot(page, "portal-phone-dashboard.png")
    staff.close()
    public = browser.new_context(viewport=viewport, locale="zh-CN")
    page = public.new_page()
    for where, path in _public_pages(site).items():
        page.goto(site.url + path)
        _check(page, where, viewport)
    _receipt(page, site, 1 if viewport is PHONE else 2)
    _check(page, "回执（很多错误）", viewport)
    if viewport is PHONE:
        _shot(page, "portal-phone-clerk.png")
    public.close()
    # a staff account on an admin page: the error page
    clerk_staff = _log_in(browser, site, viewport, STAFF)
    page = clerk_staff.new_page()
    page.goto(site.url + "/tokens")
    assert page.locator("h1").inner_text() == "出错了"
    _check(page, "没有权限", viewport)
    clerk_staff.close()


def test_the_pages_fit_a_phone_without_javascript(browser: Any, site: Site) -> None:
    staff = _log_in(browser, site, PHONE, js=False)
    page = staff.new_page()
    for where, path in {**_staff_pages(site), **_public_pages(site)}.items():
        page.goto(site.url + path)
        _fits(page, where + "（无 JavaScript）")
    page.goto(site.url + site.links["102"])  # the browser's own file control, within the page
    page.set_input_files("input[name=file]", str(site.wrong("102", LONG, 3)))
    page.click("button[type=submit] >> text=上传并检查")
    page.wait_for_selector("#receipt")
    _fits(page, "回执（无 JavaScript）")
    staff.close()


def test_the_exports_say_the_forms_words(site: Site) -> None:
    """The 汇总 (xlsx and every CSV sheet), as staff download it: no internal key in any cell."""
    client = login(site.server, ADMIN)
    book = openpyxl.load_workbook(io.BytesIO(client.get("/rounds/1/report.xlsx").content))
    assert "项目绩效指标" in book.sheetnames
    for ws in book.worksheets:
        for row in ws.iter_rows(values_only=True):
            _words(" ".join(str(v) for v in row if isinstance(v, str)), f"汇总.xlsx / {ws.title}", strict=False)
    indicators = list(book["项目绩效指标"].iter_rows(min_row=2, values_only=True))
    assert {r[4] for r in indicators} == {"待审核", "已退回"}  # the review state, in words
    assert {r[6] for r in indicators} == {"年度"} and {"产出指标", "效益指标"} <= {r[7] for r in indicators}
    summary = client.get("/rounds/1/report.csv").content.decode("utf-8-sig")
    for row in csv.reader(io.StringIO(summary)):
        _words(" ".join(row), "汇总.csv", strict=False)
    client.close()


def test_a_first_start_says_how_to_make_the_first_account(browser: Any, tmp_path: Path) -> None:
    """With no account, the login page (on a phone too) and serve's output give the one command there
    is; once an account exists, neither does."""
    from portal_server import add_user

    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    server = start(db, tmp_path)
    try:
        page = httpx.get(server.url + "/login").text
        assert "还没有任何账号" in page and "xltemplate users add 名字 --role admin" in page
        phone = browser.new_page(viewport=PHONE)
        phone.goto(server.url + "/login")
        _check(phone, "第一次启动的登录页", PHONE)
        phone.close()
        server.stop()
        assert "xltemplate users add 名字 --role admin --db " + db in server.output()
        add_user(db, ADMIN, "admin")
        server = start(db, tmp_path / "again")
        page = httpx.get(server.url + "/login").text
        assert "还没有任何账号" not in page and "xltemplate" not in page
        assert "xltemplate users add" not in server.output()
    finally:
        server.stop()
