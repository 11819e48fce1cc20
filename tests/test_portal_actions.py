"""Staff actions over HTTP against a real ``xltemplate serve``: every change answers with a
redirect (a reload changes nothing more), every destructive action asks first on a page of its own
(and in a dialog, see the browser test) and a crafted link cannot skip the question, links point to
the portal's address (``serve --base-url`` or the settings page) with a warning when they would
point to this computer, the round's package can be had again by regenerating every link, a form
must be chosen and the same round made twice is asked about, an admin deletes a round with no
returns, and no value of a query string reaches a form's action, a link or a redirect."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import secrets
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import sqlalchemy as sa
from conftest import load_json
from portal_server import PASSWORD, Server, cli, login, start
from test_rounds import as_department, clerk_fills

from xltemplate.collect import accounts
from xltemplate.collect.store import Store
from xltemplate.form.forms import load_form

ROSTER = "部门代码,部门名称\n101,市信访局\n102,市财政局\n103,市教育局\n"


class Portal:
    """A real server over SQLite with an admin and a staff account logged in."""

    def __init__(self, folder: Path, args: tuple[str, ...] = ()):
        self.folder = folder
        self.db = f"sqlite:///{folder / 'p.db'}"
        store = Store(self.db)
        accounts.add_user(store, "admin", PASSWORD, "admin")
        accounts.add_user(store, "staff", PASSWORD)
        store.dispose()
        self.server: Server = start(self.db, folder, args=args)
        self.url = self.server.url
        self.admin = login(self.server, "admin")
        self.staff = login(self.server, "staff", source="127.0.0.2")

    def new_round(self, name: str, roster: str = ROSTER, year: str | None = None, who: httpx.Client | None = None
                  ) -> tuple[int, int]:
        """(round id, package file id) of a round made on the rounds page (of a year of its own unless
        given: the same form, year and roster again is asked about first)."""
        c = who or self.admin
        if year is None:
            self.years = getattr(self, "years", 2040) + 1
            year = str(self.years)
        res = c.post("/rounds", data={"csrf": c.csrf, "form": "wuhai-perf-target", "year": year, "name": name},
                     files={"roster": ("名单.csv", roster.encode("utf-8"))})
        assert res.status_code == 303, res.text
        found = re.fullmatch(r"/rounds/(\d+)\?package=(\d+)", res.headers["location"])
        assert found, res.headers["location"]
        return int(found.group(1)), int(found.group(2))

    def package(self, rid: int, fid: int, who: httpx.Client | None = None) -> dict[str, Any]:
        """The package's links by department code, and its manifest rows."""
        c = who or self.admin
        res = c.post(f"/rounds/{rid}/package/{fid}", data={"csrf": c.csrf})
        assert res.status_code == 200 and res.content.startswith(b"PK"), res.text
        z = zipfile.ZipFile(io.BytesIO(res.content))
        sheet = openpyxl.load_workbook(io.BytesIO(z.read("部门链接清单.xlsx"))).active
        manifest = list(csv.DictReader(io.StringIO(z.read("manifest.csv").decode("utf-8-sig"))))
        return {"links": {row[0]: row[4] for row in sheet.iter_rows(min_row=2, values_only=True)},
                "manifest": manifest, "names": z.namelist()}

    def query(self, sql: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.db)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(sql), params).all()
        engine.dispose()
        return rows


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    p = Portal(tmp_path_factory.mktemp("actions"))
    yield p
    p.server.stop()


def _path_of(link: str) -> str:
    return urllib.parse.urlsplit(link).path


# -- redirect after every change -------------------------------------------------------------------------

def test_a_new_link_is_shown_once_after_a_redirect_and_a_reload_makes_no_other(portal: Portal) -> None:
    rid, fid = portal.new_round("重载测试")
    old = portal.package(rid, fid)["links"]["101"]
    c = portal.staff
    res = c.post(f"/rounds/{rid}/d/101/link/new", data={"csrf": c.csrf})
    assert res.status_code == 303 and res.headers["location"] == f"/rounds/{rid}/d/101"
    page = c.get(res.headers["location"]).text
    new = html.unescape(re.search(r'id="new-link">([^<]+)<', page).group(1))
    for _ in range(3):  # reloads: the link is not shown again, and no other is made
        again = c.get(f"/rounds/{rid}/d/101").text
        assert 'id="new-link"' not in again and new not in again
    live = portal.query("SELECT count(*) FROM links WHERE round_id = :r AND department_code = '101' "
                        "AND revoked_at IS NULL", r=rid)
    made = portal.query("SELECT count(*) FROM events WHERE round_id = :r AND action = 'new_link'", r=rid)
    assert live[0][0] == 1 and made[0][0] == 1
    assert httpx.get(portal.url + _path_of(new)).status_code == 200
    assert httpx.get(portal.url + _path_of(old)).status_code == 404
    # another staff member's session does not see it
    assert 'id="new-link"' not in portal.admin.get(f"/rounds/{rid}/d/101").text


def test_a_new_api_token_is_shown_once_after_a_redirect(portal: Portal) -> None:
    c = portal.admin
    res = c.post("/tokens", data={"csrf": c.csrf, "name": "预算系统"})
    assert res.status_code == 303 and res.headers["location"] == "/tokens"
    token = re.search(r'id="new-token">([^<]+)<', c.get("/tokens").text).group(1)
    assert 'id="new-token"' not in c.get("/tokens").text
    assert httpx.get(portal.url + "/api/v1/rounds", headers={"authorization": f"Bearer {token}"}).status_code == 200


# -- confirmations ---------------------------------------------------------------------------------------

def _form_of(page: str, action: str) -> str:
    found = re.search(r'<form method="post" action="' + re.escape(action) + r'".*?</form>', page, re.S)
    assert found, action
    return found.group(0)


def test_destructive_actions_ask_first_naming_what_they_affect_and_a_crafted_link_cannot_skip_it(
        portal: Portal) -> None:
    rid, fid = portal.new_round("确认测试")
    links = portal.package(rid, fid)["links"]
    c = portal.staff
    # a return, to withdraw
    model = load_form("wuhai-perf-target")
    with httpx.Client(base_url=portal.url) as clerk:
        page = clerk.get(_path_of(links["102"])).text
        sid = re.search(r'/template/([^"]+)"', page).group(1)
        template = portal.folder / f"t-{secrets.token_hex(3)}.xlsx"
        template.write_bytes(clerk.get(f"{_path_of(links['102'])}/template/{sid}").content)
        filled = clerk_fills(template, model, as_department(load_json("seed_000.json"), "市财政局", "102"),
                             portal.folder / f"f-{secrets.token_hex(3)}.xlsx")
        assert clerk.post(_path_of(links["102"]) + "/upload", files={"file": ("报表.xlsx", filled.read_bytes())}
                          ).status_code == 200
    [(ret,)] = portal.query("SELECT id FROM submissions WHERE round_id = :r", r=rid)
    actions = {  # confirmation page -> (the POST it leads to, words it must say, the page offering it)
        f"/rounds/{rid}/close": (f"/rounds/{rid}/close", ["确认测试", "3 个部门的链接将不再接收上传",
                                                          "已报送 1 / 3 个部门"], f"/rounds/{rid}"),
        f"/rounds/{rid}/links": (f"/rounds/{rid}/links", ["将为 3 个部门各生成一个新链接", "现有的 3 个链接立即失效"],
                                 f"/rounds/{rid}"),
        f"/rounds/{rid}/d/101/link/new": (f"/rounds/{rid}/d/101/link/new",
                                          ["101 市信访局", "市信访局现在的链接将立即失效"], f"/rounds/{rid}/d/101"),
        f"/rounds/{rid}/d/101/link/revoke": (f"/rounds/{rid}/d/101/link/revoke",
                                             ["101 市信访局", "将无法再通过现在的链接"], f"/rounds/{rid}/d/101"),
        f"/returns/{ret}/withdraw": (f"/returns/{ret}/withdraw", [f"#{ret}", "市财政局", "不再计入"],
                                     f"/rounds/{rid}/d/102"),
    }
    for confirm, (post, words, offered_on) in actions.items():
        page = c.get(confirm)
        assert page.status_code == 200, confirm
        form = _form_of(page.text, post)
        assert f'name="csrf" value="{c.csrf}"' in form and 'class="danger"' in form
        for w in words:
            assert w in html.unescape(page.text), (confirm, w)
        # the page that offers the action links to the confirmation, and holds the same form in a dialog
        offering = c.get(offered_on).text
        assert f'href="{confirm}" data-confirm=' in offering, confirm
        dialog = re.search(r'<dialog id="[^"]+" class="confirm".*?</dialog>', offering[offering.index(
            f'href="{confirm}"'):], re.S).group(0)
        assert f'action="{post}"' in dialog and all(w in html.unescape(dialog) for w in words), confirm
        assert len(re.findall(r'action="' + re.escape(post) + '"', offering)) == 1  # only inside the dialog
    # a crafted link does nothing: the GET only asks, and a POST without the session's token is refused
    state = portal.query("SELECT status FROM rounds WHERE id = :r", r=rid)
    for confirm, (post, _words, _page) in actions.items():
        assert c.get(confirm).status_code == 200
        refused = c.post(post, data={"reason": "x"})
        assert refused.status_code == 403, post
    assert portal.query("SELECT status FROM rounds WHERE id = :r", r=rid) == state
    assert httpx.get(portal.url + _path_of(links["101"])).status_code == 200
    assert portal.query("SELECT withdrawn_at FROM submissions WHERE id = :s", s=ret)[0][0] is None
    # with the token, each does what it said
    assert c.post(f"/returns/{ret}/withdraw", data={"csrf": c.csrf, "reason": "误报"}).status_code == 303
    assert portal.query("SELECT withdraw_reason FROM submissions WHERE id = :s", s=ret)[0][0] == "误报"
    assert c.post(f"/rounds/{rid}/d/101/link/revoke", data={"csrf": c.csrf}).status_code == 303
    assert httpx.get(portal.url + _path_of(links["101"])).status_code == 404
    res = c.post(f"/rounds/{rid}/close", data={"csrf": c.csrf})
    assert res.status_code == 303 and portal.query("SELECT status FROM rounds WHERE id = :r", r=rid)[0][0] == "closed"
    # a closed round offers to reopen it, at once (nothing is lost by reopening)
    assert f'action="/rounds/{rid}/reopen"' in c.get(f"/rounds/{rid}").text


# -- where links point ---------------------------------------------------------------------------------

def test_links_built_from_this_computers_address_are_warned_about_before_the_package_is_made(
        portal: Portal) -> None:
    c = portal.staff
    page = c.get("/rounds").text
    assert "各部门的链接将以 " + portal.url + " 开头" in page and "是本机地址" in page
    assert "请先请管理员在“平台设置”中填写" in page  # a staff member is told whom to ask
    assert 'href="/settings"' in portal.admin.get("/rounds").text  # an admin is led to the settings
    for host in ("localhost:8000", "[::1]:8000", "0.0.0.0:8000", "127.1.2.3"):
        assert "是本机地址" in c.get("/rounds", headers={"host": host}).text, host
    lan = c.get("/rounds", headers={"host": "192.168.1.10:8000"}).text
    assert "各部门的链接将以 http://192.168.1.10:8000 开头" in lan and "是本机地址" not in lan
    rid, _fid = portal.new_round("本机链接")
    assert "是本机地址" in c.get(f"/rounds/{rid}/links").text  # before the links are made again too
    assert "是本机地址" in c.get(f"/rounds/{rid}/d/101/link/new").text


def test_the_portals_address_set_on_the_settings_page_is_where_every_link_points(tmp_path: Path) -> None:
    p = Portal(tmp_path)
    try:
        a = p.admin
        page = a.get("/settings").text
        assert "未设置" in page and "是本机地址" in page
        bad = a.post("/settings", data={"csrf": a.csrf, "base_url": "javascript:alert(1)"})
        assert bad.status_code == 400 and "不是可用的网址" in bad.text
        res = a.post("/settings", data={"csrf": a.csrf, "base_url": "https://baobiao.example.gov.cn/portal/"})
        assert res.status_code == 303 and res.headers["location"] == "/settings"
        page = a.get("/settings").text
        assert "已保存" in page and "现为 https://baobiao.example.gov.cn/portal（admin 于" in page
        assert "是本机地址" not in page and "已保存" not in a.get("/settings").text
        audit = html.unescape(a.get("/audit").text)
        assert "admin 把本平台的对外地址设为 https://baobiao.example.gov.cn/portal" in audit
        rounds_page = p.staff.get("/rounds").text
        assert "各部门的链接将以 https://baobiao.example.gov.cn/portal 开头" in rounds_page
        assert "是本机地址" not in rounds_page
        rid, fid = p.new_round("正式地址")
        pkg = p.package(rid, fid)
        assert all(v.startswith("https://baobiao.example.gov.cn/portal/l/") for v in pkg["links"].values())
        assert all(m["link"].startswith("https://baobiao.example.gov.cn/portal/l/") for m in pkg["manifest"])
        res = p.staff.post(f"/rounds/{rid}/d/102/link/new", data={"csrf": p.staff.csrf})
        new = re.search(r'id="new-link">([^<]+)<', p.staff.get(res.headers["location"]).text).group(1)
        assert new.startswith("https://baobiao.example.gov.cn/portal/l/")
        assert p.server.url not in new
    finally:
        p.server.stop()
    # distribute --db, with no --base-url of its own, makes links that point where the portal's do
    roster = tmp_path / "名单.csv"
    roster.write_text("部门代码,部门名称\n201,市审计局\n", encoding="utf-8")
    res = cli("distribute", "wuhai-perf-target", "--roster", str(roster), "-o", str(tmp_path / "out"), "--db", p.db,
              "--year", "2035", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    with open(tmp_path / "out" / "manifest.csv", encoding="utf-8-sig") as fh:
        assert next(csv.DictReader(fh))["link"].startswith("https://baobiao.example.gov.cn/portal/l/")
    # serve --base-url sets the same setting; a bad one is said in one sentence
    res = cli("serve", "--db", p.db, "--base-url", "ftp://x", "--port", "1")
    assert res.returncode == 1 and "不是可用的网址" in res.stderr, res.stderr
    p2 = start(p.db, tmp_path / "again", args=("--base-url", "http://10.1.2.3:8000"))
    try:
        assert "各部门链接以 http://10.1.2.3:8000 开头" in p2.output()
        a = login(p2, "admin")
        assert "现为 http://10.1.2.3:8000" in a.get("/settings").text
        res = a.post(f"/rounds/{rid}/d/101/link/new", data={"csrf": a.csrf})
        assert "http://10.1.2.3:8000/l/" in a.get(res.headers["location"]).text
    finally:
        p2.stop()


def test_the_package_downloads_once_and_regenerating_every_link_gives_it_again(portal: Portal) -> None:
    rid, fid = portal.new_round("再次下载")
    first = portal.package(rid, fid)
    assert set(first["links"]) == {"101", "102", "103"} and "模板/101_市信访局.xlsx" in first["names"]
    again = portal.staff.post(f"/rounds/{rid}/package/{fid}", data={"csrf": portal.staff.csrf})
    assert again.status_code == 404 and "重新生成全部链接" in again.text
    c = portal.staff
    res = c.post(f"/rounds/{rid}/links", data={"csrf": c.csrf})
    assert res.status_code == 303
    found = re.fullmatch(rf"/rounds/{rid}\?package=(\d+)", res.headers["location"])
    assert found
    dashboard = c.get(res.headers["location"]).text
    assert "原来的 3 个链接已失效" in dashboard
    second = portal.package(rid, int(found.group(1)), who=c)
    assert set(second["links"]) == {"101", "102", "103"} and sorted(second["names"]) == sorted(first["names"])
    assert [m["code"] for m in second["manifest"]] == ["101", "102", "103"]
    assert all(m["link"] == second["links"][m["code"]] for m in second["manifest"])
    for code in ("101", "102", "103"):
        assert httpx.get(portal.url + _path_of(first["links"][code])).status_code == 404
        assert httpx.get(portal.url + _path_of(second["links"][code])).status_code == 200
    assert portal.query("SELECT count(*) FROM events WHERE round_id = :r AND action = 'relink_round'", r=rid)[0][0] == 1
    assert "staff 重新生成了“再次下载”全部 3 个部门的专用链接（原来的 3 个链接随之失效）" in \
        html.unescape(portal.admin.get("/audit", params={"round": rid}).text)
    # the dashboard's own reload does not say it again
    assert "原来的 3 个链接已失效" not in c.get(res.headers["location"]).text


# -- making and deleting rounds ------------------------------------------------------------------------

def test_a_form_must_be_chosen_and_the_same_round_again_is_asked_about_first(portal: Portal) -> None:
    c = portal.admin
    page = c.get("/rounds").text
    select = re.search(r'<select name="form" required>.*?</select>', page, re.S).group(0)
    assert re.findall(r"<option[^>]*selected[^>]*>([^<]*)", select) == ["请选择表单"]
    res = c.post("/rounds", data={"csrf": c.csrf, "year": "2030"}, files={"roster": ("r.csv", ROSTER.encode())})
    assert res.status_code == 400 and "请选择本轮要收集的表单" in res.text
    rid, _ = portal.new_round("重复一", year="2030")
    rounds_before = portal.query("SELECT count(*) FROM rounds")[0][0]
    shuffled = "部门代码,部门名称\n103,市教育局\n101,市信访局\n102,市财政局\n"  # the same roster, another order
    res = c.post("/rounds", data={"csrf": c.csrf, "form": "wuhai-perf-target", "year": "2030"},
                 files={"roster": ("名单.csv", shuffled.encode())})
    assert res.status_code == 303 and res.headers["location"] == "/rounds/new/confirm"
    ask = c.get("/rounds/new/confirm").text
    assert "已有轮次 “重复一”" in ask and "2030" in ask and 'action="/rounds/new/confirm"' in ask
    assert portal.query("SELECT count(*) FROM rounds")[0][0] == rounds_before
    assert c.get("/rounds").status_code == 200  # going back to the rounds page gives it up
    assert c.post("/rounds/new/confirm", data={"csrf": c.csrf}).headers["location"] == "/rounds"
    assert portal.query("SELECT count(*) FROM rounds")[0][0] == rounds_before
    assert portal.query("SELECT count(*) FROM files WHERE kind = 'roster'")[0][0] == 0
    # asked again, and confirmed: the round is made
    c.post("/rounds", data={"csrf": c.csrf, "form": "wuhai-perf-target", "year": "2030"},
           files={"roster": ("名单.csv", shuffled.encode())})
    assert c.post("/rounds/new/confirm", data={"csrf": "wrong"}).status_code == 403
    made = c.post("/rounds/new/confirm", data={"csrf": c.csrf})
    assert made.status_code == 303 and re.fullmatch(r"/rounds/\d+\?package=\d+", made.headers["location"])
    assert portal.query("SELECT count(*) FROM rounds")[0][0] == rounds_before + 1
    assert c.post("/rounds/new/confirm", data={"csrf": c.csrf}).headers["location"] == "/rounds"  # not twice
    # another year, or another roster, is no repeat
    assert rid != portal.new_round("别的年度", year="2031")[0]
    portal.new_round("别的名单", roster=ROSTER + "104,市民政局\n", year="2030")


def test_an_admin_deletes_a_round_with_no_returns_and_only_such_a_round(portal: Portal) -> None:
    rid, fid = portal.new_round("误建的轮次")
    links = portal.package(rid, fid)["links"]
    staff, admin = portal.staff, portal.admin
    assert 'data-confirm="confirm-delete"' not in staff.get(f"/rounds/{rid}").text
    denied = staff.post(f"/rounds/{rid}/delete", data={"csrf": staff.csrf})
    assert denied.status_code == 403 and "需要管理员权限" in denied.text
    assert 'data-confirm="confirm-delete"' in admin.get(f"/rounds/{rid}").text
    ask = admin.get(f"/rounds/{rid}/delete").text
    assert "删除轮次“误建的轮次”" in ask and "3 个部门" in ask and "3 份模板" in ask and "无法恢复" in ask
    res = admin.post(f"/rounds/{rid}/delete", data={"csrf": admin.csrf})
    assert res.status_code == 303 and res.headers["location"] == "/rounds"
    assert "已删除轮次“误建的轮次”" in admin.get("/rounds").text
    assert admin.get(f"/rounds/{rid}").status_code == 404
    assert all(httpx.get(portal.url + _path_of(v)).status_code == 404 for v in links.values())
    for table in ("roster", "issued", "links"):
        assert portal.query(f"SELECT count(*) FROM {table} WHERE round_id = :r", r=rid)[0][0] == 0, table
    [(detail,)] = portal.query("SELECT detail FROM events WHERE round_id = :r AND action = 'delete_round'", r=rid)
    assert json.loads(detail) == {"name": "误建的轮次", "departments": 3, "templates": 3}
    assert "admin 删除了收集轮次“误建的轮次”（名单 3 个部门，模板 3 份）" in html.unescape(admin.get("/audit").text)
    # a round with a return: no button, and the POST is refused with the reason
    rid2, fid2 = portal.new_round("有报送的轮次")
    link = portal.package(rid2, fid2)["links"]["101"]
    model = load_form("wuhai-perf-target")
    with httpx.Client(base_url=portal.url) as clerk:
        sid = re.search(r'/template/([^"]+)"', clerk.get(_path_of(link)).text).group(1)
        template = portal.folder / "t2.xlsx"
        template.write_bytes(clerk.get(f"{_path_of(link)}/template/{sid}").content)
        filled = clerk_fills(template, model, as_department(load_json("seed_000.json"), "市信访局", "101"),
                             portal.folder / "f2.xlsx")
        clerk.post(_path_of(link) + "/upload", files={"file": ("报表.xlsx", filled.read_bytes())})
    assert 'data-confirm="confirm-delete"' not in admin.get(f"/rounds/{rid2}").text
    res = admin.post(f"/rounds/{rid2}/delete", data={"csrf": admin.csrf})
    assert res.status_code == 409 and "已收到 1 份报表，不能删除" in res.text
    assert admin.get(f"/rounds/{rid2}").status_code == 200
    assert httpx.get(portal.url + _path_of(link)).status_code == 200  # its links still work


# -- query values ------------------------------------------------------------------------------------

CRAFTED = ['"><script>alert(1)</script>', "'onmouseover=alert(1)", "//evil.example", "/\t/evil.example",
           "javascript:alert(1)", "https://evil.example/x", "99999999999999999999999999", "-1", "1e9", "0x10",
           "²", "١٢", "1;drop", "%2F%2Fevil.example", "\u202e", "a" * 1000]
PARAMS = ("package", "refused_before", "before", "round", "status", "sort", "q", "desc", "partial", "next")
URL_ATTRS = re.compile(r'\b(href|action|formaction|src|data-partial|data-confirm)="([^"]*)"')


def _targets(page: str) -> list[tuple[str, str]]:
    return [(k, html.unescape(v)) for k, v in URL_ATTRS.findall(page)]


def test_crafted_query_values_never_reach_an_action_a_link_or_a_redirect(portal: Portal) -> None:
    rid, fid = portal.new_round("查询参数")
    link = portal.package(rid, fid)["links"]["101"]
    c = portal.admin
    # enough lines that the pages which page on (the audit log, refused uploads) link to their next page
    for _ in range(201):
        assert c.get(f"/rounds/{rid}/templates.zip").status_code == 200
    with httpx.Client(base_url=portal.url) as clerk:
        for i in range(51):
            clerk.post(_path_of(link) + "/upload", files={"file": (f"扫描件{i}.pdf", b"%PDF-1.4 " + bytes([i]))})
    assert "?before=" in c.get("/audit").text and "?refused_before=" in c.get(f"/rounds/{rid}/d/101").text
    pages = ["/rounds", f"/rounds/{rid}", f"/rounds/{rid}/d/101", "/audit", "/tokens", "/settings",
             f"/rounds/{rid}/close", f"/rounds/{rid}/links", f"/rounds/{rid}/delete", f"/rounds/{rid}/d/101/link/new",
             f"/rounds/{rid}/d/101/link/revoke", f"/rounds/{rid}/jobs/1", "/login"]
    routes = {"/rounds", "/audit", "/tokens", "/settings", "/login", "/logout", "/static", "/help", "/api",
              "/returns", "/files", "/l", "/users", "/scans"}
    seen_pages = 0
    for path in pages:
        for value in CRAFTED:
            for params in ({name: value for name in PARAMS}, {"partial": "1", **{n: value for n in PARAMS[:-3]}}):
                res = c.get(path, params=params)
                assert res.status_code in (200, 303, 404), (path, value, res.status_code)
                assert res.status_code != 500
                if res.status_code == 303:
                    location = res.headers["location"]
                    assert location.startswith("/") and not location.startswith("//"), location
                    assert value not in location and value not in urllib.parse.unquote(location), location
                    continue
                if res.status_code != 200:
                    continue
                seen_pages += 1
                for attr, target in _targets(res.text):
                    if attr == "data-confirm" or target.startswith("#"):  # a dialog's id, a place on the page
                        assert re.fullmatch(r"#?[a-z0-9-]+", target), target
                        continue
                    parts = urllib.parse.urlsplit(target)
                    assert not parts.scheme and not parts.netloc and target.startswith("/"), (path, target)
                    assert "/" + parts.path.split("/")[1] in routes or parts.path == "/", (path, target)
                    assert value not in urllib.parse.unquote(parts.path), (path, target)
                    if attr != "data-partial":  # the dashboard's own refresh repeats its filters, encoded
                        assert value not in target and value not in urllib.parse.unquote(target), (path, target)
    assert seen_pages > 200
    # integer parameters: a bad one is ignored (the package offered on the dashboard is the real one only)
    for bad in ("99999999999999999999", "²", "-3", "1.5", "0x1"):
        page = c.get(f"/rounds/{rid}", params={"package": bad}).text
        assert 'id="package"' not in page, bad
    # the login's next: only a path of this site, whatever it is given
    for value in [*CRAFTED, "/rounds/1", "/\\evil.example"]:
        with httpx.Client(base_url=portal.url, follow_redirects=False) as fresh:
            page = fresh.get("/login", params={"next": value}).text
            token = re.search(r'name="login_token" value="([^"]+)"', page).group(1)
            nxt = html.unescape(re.search(r'name="next" value="([^"]*)"', page).group(1))
            res = fresh.post("/login", data={"login_token": token, "name": "admin", "password": PASSWORD,
                                             "next": value})
            location = res.headers["location"]
            assert res.status_code == 303 and location in (value, "/rounds"), (value, location)
            assert location.startswith("/") and location[1:2] not in ("/", "\\") and "\t" not in location
            assert nxt == location
    # ids in paths beyond what the database holds: 404, never 500
    for path in (f"/rounds/{10 ** 12}", f"/rounds/{rid}/jobs/{10 ** 20}", "/returns/99999999999/file",
                 f"/rounds/{rid}/d/%22%3E%3Cscript%3E"):
        assert c.get(path).status_code == 404, path
