"""The portal's access rules over HTTP, one rule per test, against a real ``xltemplate serve``
process on a free port of 127.0.0.1 (and, for what needs a fake scheme or a broken database,
the same app in-process).  Which rule each test covers is in its name."""

from __future__ import annotations

import contextlib
import copy
import csv
import re
import secrets
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import load_json
from corpus import CASES
from portal_server import PASSWORD, add_user, cli, login, start
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.form.forms import load_form


class Site:
    """A round of two departments served by a real server, and what the tests need of it."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None):
        self.folder = folder
        self.db = f"sqlite:///{folder / 'portal.db'}"
        roster = roster_file(folder / "名单.csv", [["部门代码", "部门名称"], ["101", "市信访局"], ["102", "市财政局"]])
        res = cli("distribute", "wuhai-perf-target", "--roster", str(roster), "-o", str(folder / "下发"), "--db",
                  self.db, "--year", "2021", "--deadline", "2020-11-30", cwd=folder)
        assert res.returncode == 0, res.stderr
        with open(folder / "下发" / "manifest.csv", encoding="utf-8-sig") as fh:
            self.manifest = {m["code"]: m for m in csv.DictReader(fh)}
        add_user(self.db, "admin", "admin")
        add_user(self.db, "staff", "staff")
        self.server = start(self.db, folder, env)
        self.url = self.server.url
        self.model = load_form("wuhai-perf-target")

    def link(self, code: str) -> str:
        return self.manifest[code]["link"]  # relative without --base-url: /l/<token>

    def filled(self, code: str, name: str, mistake: bool = False, project: str | None = None) -> bytes:
        data = as_department(load_json("seed_000.json"), name, code, project)
        if mistake:
            data["project"]["function_code"] = "201030"
        template = self.folder / "下发" / self.manifest[code]["file"]
        out = self.folder / "in" / f"{code}-{secrets.token_hex(4)}.xlsx"
        return clerk_fills(template, self.model, data, out).read_bytes()

    def upload(self, code: str, data: bytes, name: str = "报表.xlsx", link: str | None = None) -> httpx.Response:
        return httpx.post(self.url + (link or self.link(code)) + "/upload", files={"file": (name, data)}, timeout=60)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    s = Site(tmp_path_factory.mktemp("portal"))
    yield s
    s.server.stop()


def _returns_of(site: Site, code: str) -> list[int]:
    engine = sa.create_engine(site.db)
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM submissions WHERE department_code = :c ORDER BY id"),
                           {"c": code}).scalars().all()
    engine.dispose()
    return list(ids)


def test_every_staff_page_and_action_needs_a_login(site: Site) -> None:
    site.upload("101", site.filled("101", "市信访局", mistake=True))
    [sid] = _returns_of(site, "101")[:1]
    pages = ["/rounds", "/rounds/1", "/rounds/1/d/101", "/rounds/1/report.xlsx", "/rounds/1/report.csv",
             "/rounds/1/annotated.zip", "/rounds/1/templates.zip", "/rounds/1/jobs/1",
             f"/returns/{sid}/file", f"/returns/{sid}/annotated", "/files/1", "/audit", "/tokens", "/settings",
             # the confirmation pages of destructive actions
             "/rounds/1/close", "/rounds/1/links", "/rounds/1/delete", "/rounds/1/d/101/link/new",
             "/rounds/1/d/101/link/revoke", f"/returns/{sid}/withdraw", "/rounds/new/confirm"]
    for path in pages:
        res = httpx.get(site.url + path)
        assert res.status_code == 303 and res.headers["location"].startswith("/login"), path
        assert "市信访局" not in res.text and not res.content.startswith(b"PK"), path
    actions = ["/rounds", "/rounds/1/close", "/rounds/1/upload", f"/returns/{sid}/withdraw", "/rounds/1/d/101/link/new",
               "/rounds/1/d/101/link/revoke", "/rounds/1/package/1", "/tokens", "/logout", "/rounds/1/links",
               "/rounds/1/delete", "/settings", "/rounds/new/confirm"]
    for path in actions:
        res = httpx.post(site.url + path, data={"reason": "x", "name": "x"})
        assert res.status_code == 303 and res.headers["location"].startswith("/login"), path
    staff = login(site.server, "staff")
    page = staff.get("/rounds/1/d/101").text
    assert "已撤回" not in page and "作废链接" in page  # nothing above changed anything
    assert httpx.get(site.url + site.link("101")).status_code == 200
    # an account of role staff is not an admin
    assert staff.get("/tokens").status_code == 403


def test_department_a_link_never_reaches_department_b(site: Site) -> None:
    b_bad = site.upload("102", site.filled("102", "市财政局", mistake=True))
    assert b_bad.status_code == 200 and "有错误" in b_bad.text
    b_return = _returns_of(site, "102")[-1]
    a = site.link("101")
    page = httpx.get(site.url + a).text
    assert "市信访局" in page and "市财政局" not in page
    b_sid = site.manifest["102"]["submission_id"]
    assert httpx.get(site.url + f"{a}/template/{b_sid}").status_code == 404
    assert httpx.get(site.url + f"{site.link('102')}/template/{b_sid}").status_code == 200
    assert httpx.get(site.url + f"{a}/returns/{b_return}/annotated").status_code == 404
    assert httpx.get(site.url + f"{site.link('102')}/returns/{b_return}/annotated").status_code == 200
    # B's template uploaded through A's link is refused, and staff see it on A's page
    stored = len(_returns_of(site, "101"))
    res = site.upload("101", site.filled("102", "市财政局", project="串用的模板"), name="财政局的表.xlsx")
    assert res.status_code == 200 and "未收下" in res.text and "市财政局" in res.text and "市信访局" in res.text
    assert len(_returns_of(site, "101")) == stored and "串用的模板" not in httpx.get(site.url + a).text
    staff = login(site.server, "staff")
    page = staff.get("/rounds/1/d/101").text
    assert "通过链接上传但被拒收的文件" in page and "财政局的表.xlsx" in page
    assert "市信访局 通过专用链接上传的 财政局的表.xlsx 未收下" in staff.get("/audit").text


def test_a_guessed_truncated_or_revoked_token_finds_nothing(site: Site) -> None:
    real = site.link("101")
    unknown = httpx.get(site.url + "/l/" + secrets.token_urlsafe(32))
    assert unknown.status_code == 404 and "这个链接无效" in unknown.text
    token = real.rsplit("/", 1)[1]
    for guess in (real[:-1], real + "x", "/l/" + token.swapcase(), "/l/" + "A" * 43):
        res = httpx.get(site.url + guess)
        assert res.status_code == 404 and res.text == unknown.text, guess
    assert httpx.post(site.url + real[:-1] + "/upload", files={"file": ("a.xlsx", b"PK")}).status_code == 404
    staff = login(site.server, "staff")
    made = staff.post("/rounds/1/d/102/link/new", data={"csrf": staff.csrf})
    assert made.status_code == 303  # the answer to a change is a redirect: a reload makes no other link
    page = staff.get(made.headers["location"])
    new = re.search(r'id="new-link">[^<]*(/l/[^<]+)<', page.text).group(1)
    assert httpx.get(site.url + site.link("102")).status_code == 404  # the old link no longer works
    assert httpx.get(site.url + new).status_code == 200
    site.manifest["102"]["link"] = new


def test_a_cross_site_post_with_the_staff_cookie_does_nothing(site: Site) -> None:
    staff = login(site.server, "staff")
    assert site.upload("101", site.filled("101", "市信访局", project="本站的项目")).status_code == 200
    sid = _returns_of(site, "101")[-1]
    attempts = [
        ({"origin": "http://evil.example"}, {"csrf": staff.csrf, "reason": "跨站"}),  # another site's page
        ({"sec-fetch-site": "cross-site"}, {"csrf": staff.csrf, "reason": "跨站"}),
        ({}, {"reason": "跨站"}),  # no token (a form on another site cannot know it)
        ({}, {"csrf": "x" * 43, "reason": "跨站"}),  # a wrong token
    ]
    for headers, data in attempts:
        res = staff.post(f"/returns/{sid}/withdraw", data=data, headers=headers)
        assert res.status_code == 403 and "拒绝" in res.text, headers
    assert "跨站" not in staff.get("/rounds/1/d/101").text
    res = staff.post(f"/returns/{sid}/withdraw", data={"csrf": staff.csrf, "reason": "同站"},
                     headers={"origin": site.url})
    assert res.status_code == 303 and "同站" in staff.get("/rounds/1/d/101").text  # the real form works
    audit = staff.get("/audit").text  # who withdrew what, when, from which address
    said = r"\d+月\d+日 \d\d:\d\d staff 撤回了 市信访局 的报送 #" + str(sid) + r"：同站</span>"
    assert re.search(said + r".*?来自 127\.0\.0\.1", audit, re.S)
    staff.post(f"/returns/{sid}/restore", data={"csrf": staff.csrf})
    # logging in needs the login form's own token too (no login CSRF)
    res = httpx.post(site.url + "/login", data={"name": "staff", "password": PASSWORD})
    assert res.status_code == 403


def _raw_post(url: str, path: str, head: dict[str, str], body_chunks: Any) -> tuple[int, str]:
    """POST over a raw socket, so the test sees when the server answers (before the body is sent)."""
    host, port = url.split("//")[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in head.items()), "", ""]
    sock.sendall("\r\n".join(lines).encode())
    answer = b""
    try:
        for chunk in body_chunks:
            sock.settimeout(0.01)  # has the server answered already? (a short look, not a wait)
            with contextlib.suppress(TimeoutError, BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            sock.settimeout(30)  # a busy machine may take a while to read the chunk: not the test's point
            sock.sendall(chunk)
        sock.settimeout(30)
        while True:
            head, sep, body = answer.partition(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", head, re.I)
            if sep and length and len(body) >= int(length.group(1)):
                break
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer else 0
    return status, answer.decode("utf-8", "replace")


def test_an_oversize_upload_is_refused_while_it_streams_in(site: Site) -> None:
    link = site.link("101")
    stored = len(_returns_of(site, "101"))
    boundary = "xtboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.xlsx\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    # declared too large: refused before a byte of the body is read
    status, text = _raw_post(site.url, link + "/upload", {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                                          "Content-Length": str(200 * 1024 * 1024)}, iter([b""]))
    assert status == 413
    # no length declared, streamed in chunks: refused once the limit passes, never held whole
    before = site.server.rss_kb()
    sent = [0]

    def chunks() -> Any:
        piece = b"A" * (1 << 20)
        yield f"{len(head):x}\r\n".encode() + head + b"\r\n"
        for _ in range(120):  # 120 MB, more than twice the limit
            sent[0] += 1
            yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"

    status, text = _raw_post(site.url, link + "/upload", {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                                          "Transfer-Encoding": "chunked"}, chunks())
    assert status == 413 and "太大" in text
    assert sent[0] < 110  # it answered before the whole body was sent
    assert site.server.rss_kb() - before < 40 * 1024
    assert len(_returns_of(site, "101")) == stored


@pytest.mark.parametrize("case", ["zip_bomb_honest", "zip_bomb_forged_size"])
def test_a_zip_bomb_upload_is_refused_by_name(site: Site, case: str) -> None:
    build, _expected = CASES[case]
    good = site.filled("101", "市信访局", project="炸弹")
    bomb = build(site.model, good, copy.deepcopy(load_json("seed_000.json")))
    before = site.server.rss_kb()
    res = site.upload("101", bomb, name="bomb.xlsx")
    assert res.status_code == 200 and "未收下" in res.text and "安全上限" in res.text
    assert site.server.rss_kb() - before < 60 * 1024
    assert "炸弹" not in httpx.get(site.url + site.link("101")).text


def test_security_headers_local_assets_and_chinese_download_names(site: Site) -> None:
    res = httpx.get(site.url + site.link("101"))
    h = res.headers
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "default-src 'none'" in csp
    assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer"
    assert h["cache-control"] == "no-store" and '<meta charset="utf-8">' in res.text
    assert not re.search(r'(src|href)="(https?:)?//', res.text)  # nothing from elsewhere
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', res.text):
        assert httpx.get(site.url + asset).status_code == 200
    sid = site.manifest["101"]["submission_id"]
    got = httpx.get(site.url + f"{site.link('101')}/template/{sid}")
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"101.xlsx\"; filename*=UTF-8''101_%E5%B8%82%E4%BF%A1%E8%AE%BF%E5%B1%80.xlsx")
    assert got.content.startswith(b"PK")


def test_error_pages_are_in_chinese(site: Site) -> None:
    for res in (httpx.get(site.url + "/no/such/page"), httpx.delete(site.url + "/rounds")):
        assert res.status_code in (404, 405) and '<html lang="zh-CN">' in res.text and "Not Found" not in res.text
    api = httpx.get(site.url + "/api/v1/rounds")
    assert api.status_code == 401 and "接口令牌" in api.json()["error"]["message"]


def test_a_login_locks_after_repeated_failures(site: Site) -> None:
    add_user(site.db, "lockme")
    client = httpx.Client(base_url=site.url)
    token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text).group(1)
    texts = [client.post("/login", data={"login_token": token, "name": "lockme", "password": "wrong"}).text
             for _ in range(5)]
    assert all("用户名或密码不正确" in text for text in texts)
    res = client.post("/login", data={"login_token": token, "name": "lockme", "password": PASSWORD})
    assert res.status_code == 401 and "用户名或密码不正确" in res.text  # locked: the right password is refused


# -- in-process: what needs https, or a failure inside the server ------------------------------------

@pytest.fixture
def app_client(tmp_path: Path) -> Any:
    from starlette.testclient import TestClient

    from xltemplate.collect import accounts
    from xltemplate.collect.store import Store
    from xltemplate.web.app import create_app

    db = f"sqlite:///{tmp_path / 'p.db'}"
    store = Store(db)
    accounts.add_user(store, "staff", PASSWORD)
    store.dispose()
    app = create_app(db, tmp_path / "data", run_jobs=False)

    def client(base: str) -> TestClient:
        return TestClient(app, base_url=base, raise_server_exceptions=False, follow_redirects=False)

    return client


def _login_in_process(client: Any) -> Any:
    token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"login_token": token, "name": "staff", "password": PASSWORD})


def test_cookies_are_secure_when_served_over_https(app_client: Any) -> None:
    with app_client("https://portal.example") as c:
        res = _login_in_process(c)
        assert res.status_code == 303
        cookie = res.headers["set-cookie"]
        assert "xt_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
        assert "strict-transport-security" in c.get("/rounds").headers
    with app_client("http://127.0.0.1") as c:
        assert "Secure" not in _login_in_process(c).headers["set-cookie"]


def test_no_stack_trace_ever_reaches_a_browser(app_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from xltemplate.collect import departments

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(departments, "overview", broken)
    with app_client("http://127.0.0.1") as c:
        _login_in_process(c)
        res = c.get("/rounds")
        assert res.status_code == 500 and "服务器处理时出了问题" in res.text
        assert "Traceback" not in res.text and "secret internals" not in res.text and "RuntimeError" not in res.text
        token_page = c.get("/api/v1/rounds", headers={"authorization": "Bearer x"})
        assert token_page.status_code == 401 and "Traceback" not in token_page.text


def test_the_clerk_sees_the_answer_within_a_second(site: Site) -> None:
    data = site.filled("101", "市信访局", project="计时的项目")
    start = time.perf_counter()
    res = site.upload("101", data)
    took = time.perf_counter() - start
    assert res.status_code == 200 and "检查无误" in res.text and "这是一个新项目的报表：计时的项目" in res.text
    assert took < 1.0, took
