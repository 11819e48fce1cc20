"""Who may review, rule by rule, over HTTP against a real ``xltemplate serve`` process: the web
pages (a viewer, a reviewer of another 科室, a stage not held, no CSRF token, another site, the
clerk's link) and the API (a token's account, its rights, conflicts, bodies)."""

from __future__ import annotations

import csv
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import load_json
from portal_server import PASSWORD, add_user, cli, csrf_of, login, start
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.collect import accounts, reviews, rounds
from xltemplate.collect.store import Store
from xltemplate.form.forms import load_form

SOCIAL = "/indicators/annual/benefit/social/0/value"


class Bureau:
    """A round of two stages (初审, 复审) for two departments of two 科室, each department's return
    received through its link, and every kind of account."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.db = f"sqlite:///{folder / 'portal.db'}"
        roster = roster_file(folder / "名单.csv", [["部门代码", "部门名称", "归口科室"],
                                                 ["101", "市信访局", "行政政法科"], ["102", "市财政局", "经济建设科"]])
        res = cli("distribute", "wuhai-perf-target", "--roster", str(roster), "-o", str(folder / "下发"), "--db",
                  self.db, "--year", "2021", "--stages", "初审,复审", cwd=folder)
        assert res.returncode == 0, res.stderr
        with open(folder / "下发" / "manifest.csv", encoding="utf-8-sig") as fh:
            self.manifest = {m["code"]: m for m in csv.DictReader(fh)}
        add_user(self.db, "admin", "admin")
        add_user(self.db, "staff", "staff")
        add_user(self.db, "viewer", "viewer")
        for name, office, stage in (("政法李", "行政政法科", "初审"), ("经建王", "经济建设科", None),
                                    ("绩效赵", None, "复审")):
            args = ["users", "add", name, "--role", "reviewer", "--db", self.db]
            args += ["--office", office] if office else []
            args += ["--stage", stage] if stage else []
            assert cli(*args, stdin="correct horse 12\n").returncode == 0
        self.server = start(self.db, folder)
        self.url = self.server.url
        self.model = load_form("wuhai-perf-target")
        self.ids = {code: self.send(code, name) for code, name in (("101", "市信访局"), ("102", "市财政局"))}

    def send(self, code: str, name: str) -> int:
        data = as_department(load_json("seed_000.json"), name, code)
        out = self.folder / "in" / f"{code}-{secrets.token_hex(4)}.xlsx"
        filled = clerk_fills(self.folder / "下发" / self.manifest[code]["file"], self.model, data, out)
        res = httpx.post(self.url + self.manifest[code]["link"] + "/upload",
                         files={"file": ("报表.xlsx", filled.read_bytes())}, timeout=60)
        assert res.status_code == 200 and "检查无误" in res.text
        store = Store(self.db)
        try:
            return next(r.id for r in reviews.listing(store, rounds.rounds(store)[0])
                        if r.department_code == code)
        finally:
            store.dispose()

    def review(self, sid: int) -> reviews.Review:
        store = Store(self.db)
        try:
            return reviews.show(store, sid)
        finally:
            store.dispose()

    def token(self, name: str | None) -> str:
        store = Store(self.db)
        try:
            return accounts.make_api_token(store, f"令牌 {name}", accounts.user(store, name) if name else None)[0]
        finally:
            store.dispose()


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Any:
    b = Bureau(tmp_path_factory.mktemp("review"))
    yield b
    b.server.stop()


def _reason_form(client: httpx.Client, sid: int, decision: str, **extra: str) -> dict[str, str]:
    return {"csrf": client.csrf, "decision": decision, **extra}  # type: ignore[attr-defined]


def test_a_viewer_reads_the_review_page_but_posting_a_decision_is_refused(bureau: Bureau) -> None:
    sid = bureau.ids["101"]
    viewer = login(bureau.server, "viewer")
    page = viewer.get(f"/returns/{sid}/review")
    assert page.status_code == 200 and "有效维护" in page.text and 'name="decision"' not in page.text
    assert "你的账号不能审核" in page.text
    res = viewer.post(f"/returns/{sid}/review", data=_reason_form(viewer, sid, "approved"))
    assert res.status_code == 403 and "账号“viewer”不能审核" in res.text
    assert bureau.review(sid).state == "pending" and not bureau.review(sid).history


def test_a_reviewer_of_another_office_or_stage_is_refused_and_one_of_the_office_decides(bureau: Bureau) -> None:
    sid = bureau.ids["101"]
    for name in ("经建王", "绩效赵"):  # another 科室; the 复审 stage only
        other = login(bureau.server, name)
        res = other.post(f"/returns/{sid}/review", data=_reason_form(other, sid, "approved"))
        assert res.status_code == 403 and "不能审核“市信访局”（归口科室：行政政法科）在“初审”环节" in res.text, name
        assert 'name="decision"' not in other.get(f"/returns/{sid}/review").text
    assert bureau.review(sid).state == "pending"
    own = login(bureau.server, "经建王")  # his own department's return
    res = own.post(f"/returns/{bureau.ids['102']}/review",
                   data=_reason_form(own, bureau.ids["102"], "approved", grade="良"))
    assert res.status_code == 303 and res.headers["location"] == f"/returns/{bureau.ids['102']}/review"
    after = bureau.review(bureau.ids["102"])
    assert (after.stage_name, after.grade, after.history[0].actor) == ("复审", "良", "经建王")


def test_a_review_without_the_csrf_token_or_from_another_site_changes_nothing(bureau: Bureau) -> None:
    sid = bureau.ids["101"]
    li = login(bureau.server, "政法李")
    assert li.post(f"/returns/{sid}/review", data={"decision": "approved"}).status_code == 403
    assert li.post(f"/returns/{sid}/review", data={"csrf": "forged", "decision": "approved"}).status_code == 403
    res = li.post(f"/returns/{sid}/review", data=_reason_form(li, sid, "approved"),
                  headers={"Sec-Fetch-Site": "cross-site"})
    assert res.status_code == 403
    res = httpx.post(bureau.url + f"/returns/{sid}/review", data={"decision": "approved"})  # no session
    assert res.status_code == 303 and res.headers["location"].startswith("/login")
    assert bureau.review(sid).state == "pending" and not bureau.review(sid).history


def test_a_reason_written_on_the_page_reaches_the_clerk_and_no_other_department(bureau: Bureau) -> None:
    sid = bureau.ids["101"]
    li = login(bureau.server, "政法李")
    page = li.get(f"/returns/{sid}/review").text
    assert f'name="r:{SOCIAL}"' in page and 'name="decision" value="returned"' in page
    res = li.post(f"/returns/{sid}/review", data=_reason_form(li, sid, "returned", **{f"r:{SOCIAL}": ""}))
    assert res.status_code == 400 and "至少一条审核意见" in res.text  # said on the page, nothing recorded
    res = li.post(f"/returns/{sid}/review", data=_reason_form(li, sid, "returned", **{
        f"r:{SOCIAL}": "指标值请写明数值", "r:": "成本指标与预算不符"}))
    assert res.status_code == 303
    clerk = httpx.get(bureau.url + bureau.manifest["101"]["link"]).text
    assert "财政局退回修改" in clerk and "指标值请写明数值" in clerk and "H43" in clerk
    assert "成本指标与预算不符" in clerk
    other = bureau.manifest["102"]["link"]
    assert "指标值请写明数值" not in httpx.get(bureau.url + other).text
    assert httpx.get(bureau.url + f"{other}/returns/{sid}/annotated").status_code == 404
    assert httpx.get(bureau.url + f"{bureau.manifest['101']['link']}/returns/{sid}/annotated").status_code == 200
    assert httpx.get(bureau.url + f"/returns/{sid}/review").status_code == 303  # staff pages need a login
    again = li.post(f"/returns/{sid}/review", data=_reason_form(li, sid, "approved"))
    assert again.status_code == 409 and "已退回修改" in again.text


def test_reviewers_and_viewers_cannot_run_rounds_and_only_an_admin_manages_accounts(bureau: Bureau) -> None:
    for name in ("政法李", "viewer"):
        client = login(bureau.server, name)
        for path in ("/rounds/1/close", f"/returns/{bureau.ids['102']}/withdraw", "/rounds/1/d/101/link/new"):
            res = client.post(path, data={"csrf": client.csrf, "reason": "x"})  # type: ignore[attr-defined]
            assert res.status_code == 403 and "经办人员或管理员" in res.text, (name, path)
            question = client.get(path)  # nor are they asked the question before such an action
            assert question.status_code == 403 and "经办人员或管理员" in question.text, (name, path)
        assert client.get("/users").status_code == 403
    staff = login(bureau.server, "staff")
    assert staff.get("/users").status_code == 403
    admin = login(bureau.server, "admin")
    page = admin.get("/users")
    assert page.status_code == 200 and "政法李" in page.text and "行政政法科" in page.text
    res = admin.post("/users", data={"csrf": csrf_of(page.text), "name": "新审核员", "password": "correct horse 12",
                                     "role": "reviewer", "office": "经济建设科", "stages": "初审，复审"})
    assert res.status_code == 303
    row = re.search(r'<tr data-user="新审核员">(.*?)</tr>', admin.get("/users").text, re.S).group(1)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row)[:4] == ["新审核员", "审核人员", "经济建设科", "初审、复审"]
    bad = admin.post("/users", data={"csrf": csrf_of(page.text), "name": "乙", "password": "correct horse 12",
                                     "role": "viewer", "office": "经济建设科"})
    assert bad.status_code == 400 and "只有审核人员" in bad.text


def test_an_admin_disables_an_account_whose_session_ends_and_enables_it_again(bureau: Bureau) -> None:
    add_user(bureau.db, "临时")
    temp = login(bureau.server, "临时")
    assert temp.get("/rounds").status_code == 200
    admin = login(bureau.server, "admin")
    page = admin.get("/users").text
    uid = re.search(r'<tr data-user="临时">.*?/users/(\d+)/disable', page, re.S).group(1)
    own = re.search(r'<tr data-user="admin">.*?/users/(\d+)/disable', page, re.S).group(1)
    staff = login(bureau.server, "staff")  # only an admin may
    assert staff.post(f"/users/{uid}/disable", data={"csrf": staff.csrf}).status_code == 403  # type: ignore[attr-defined]
    assert admin.post(f"/users/{uid}/disable", data={"csrf": csrf_of(page)}).status_code == 303
    row = re.search(r'<tr data-user="临时">(.*?)</tr>', admin.get("/users").text, re.S).group(1)
    assert "已停用" in row and f"/users/{uid}/enable" in row
    assert temp.get("/rounds").status_code == 303  # its session ended: back to the login page
    fresh = httpx.Client(base_url=bureau.url, timeout=30)
    token = re.search(r'name="login_token" value="([^"]+)"', fresh.get("/login").text).group(1)
    tried = fresh.post("/login", data={"login_token": token, "name": "临时", "password": PASSWORD})
    assert tried.status_code != 303 and "用户名或密码不正确" in tried.text  # as an unknown name answers
    refused = admin.post(f"/users/{own}/disable", data={"csrf": csrf_of(page)})
    assert refused.status_code == 400 and "不能停用自己正在使用的账号" in refused.text
    assert admin.post(f"/users/{uid}/enable", data={"csrf": csrf_of(page)}).status_code == 303
    assert login(bureau.server, "临时").get("/rounds").status_code == 200
    assert "停用了账号“临时”" in admin.get("/audit").text and "恢复启用了账号“临时”" in admin.get("/audit").text


def test_a_reviewers_dashboard_opens_on_the_departments_of_their_office(bureau: Bureau) -> None:
    li = login(bureau.server, "政法李")
    page = li.get("/rounds/1").text
    assert re.findall(r'<tr data-code="(\d+)"', page) == ["101"] and "只列出归口行政政法科的部门" in page
    assert re.findall(r'<tr data-code="(\d+)"', li.get("/rounds/1?all=1").text) == ["101", "102"]
    assert re.findall(r'data-code="(\d+)"', li.get("/rounds/1/reviews").text) == ["101"]
    staff = login(bureau.server, "staff")
    assert re.findall(r'<tr data-code="(\d+)"', staff.get("/rounds/1").text) == ["101", "102"]


def test_the_api_decides_as_the_tokens_account_and_says_why_not(bureau: Bureau) -> None:
    bureau.ids["101b"] = bureau.send("101", "市信访局")  # a fresh copy, pending at 初审
    sid = bureau.ids["101b"]
    body = {"decision": "returned", "reasons": [{"pointer": SOCIAL, "text": "请写明数值"}, {"text": "整体意见"}]}

    def post(token: str | None, payload: Any = body, **kw: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.post(bureau.url + f"/api/v1/returns/{sid}/review", json=payload, headers=headers, **kw)

    assert post(None).status_code == 401
    for token in (bureau.token(None), bureau.token("viewer"), bureau.token("经建王"), bureau.token("绩效赵")):
        res = post(token)
        assert res.status_code == 403 and res.json()["error"]["message"], res.text
    li = bureau.token("政法李")
    assert post(li, {"decision": "maybe"}).status_code == 400
    assert post(li, {"decision": "returned"}).status_code == 400  # no reason
    assert post(li, {"decision": "returned", "reasons": [{"pointer": "/nope", "text": "x"}]}).status_code == 400
    big = httpx.post(bureau.url + f"/api/v1/returns/{sid}/review", content=b"{" + b" " * (300 * 1024) + b"}",
                     headers={"authorization": f"Bearer {li}", "content-type": "application/json"})
    assert big.status_code == 413
    assert bureau.review(sid).state == "pending"
    res = post(li)
    assert res.status_code == 200, res.text
    answer = res.json()
    assert answer["state"] == "returned" and answer["return"] == sid
    assert [(r["cell"], r["label"], r["text"]) for r in answer["reasons"]] == [
        ("H43", "项目绩效指标 · 年度 · 效益指标 · 社会效益指标 第1行 · 指标值", "请写明数值"), (None, None, "整体意见")]
    assert post(li).status_code == 409
    read = httpx.get(bureau.url + f"/api/v1/returns/{sid}/review", headers={"authorization": f"Bearer {li}"}).json()
    assert read == answer
    listed = httpx.get(bureau.url + "/api/v1/rounds/1/reviews", params={"state": "returned"},
                       headers={"authorization": f"Bearer {li}"}).json()
    assert sid in [x["id"] for x in listed] and all(x["state"] == "returned" for x in listed)
    assert "Traceback" not in bureau.server.output()
