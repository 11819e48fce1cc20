"""Reaching the departments from the staff's pages, over HTTP against a real ``xltemplate serve``
whose mail goes to a real SMTP server on loopback: every new page and action needs a login (and
its CSRF token), staff correct a department's addresses, tick departments and remind them, take a
催报清单, make a message to paste, switch notices off and set the plan; a server without mail
settings says 邮件未配置 and errs nowhere."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import smtpserver
from portal_server import login
from test_portal_http import Site

from xltemplate.collect import settings
from xltemplate.collect.store import Store


@pytest.fixture(scope="module")
def mailed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with smtpserver.running() as server:
        site = Site(tmp_path_factory.mktemp("reach"), env=server.env())
        store = Store(site.db)
        settings.put(store, settings.BASE_URL, site.url)
        store.dispose()
        yield site, server
        site.server.stop()


def test_the_new_pages_and_actions_need_a_login_and_its_csrf_token(mailed: Any) -> None:
    site, _server = mailed
    for path in ("/rounds/1/messages", "/scans/1/preview", "/scans/1/file"):
        res = httpx.get(site.url + path)
        assert res.status_code == 303 and res.headers["location"].startswith("/login"), path
    actions = ("/rounds/1/d/101/emails", "/rounds/1/d/101/chase", "/rounds/1/remind", "/rounds/1/reach")
    for path in actions:
        res = httpx.post(site.url + path, data={"emails": "x@y.cn", "code": "101", "do": "send"})
        assert res.status_code == 303 and res.headers["location"].startswith("/login"), path
    staff = login(site.server, "staff")
    for path in actions:  # logged in, without the session's CSRF token: refused, nothing done
        assert staff.post(path, data={"emails": "x@y.cn", "code": "101", "do": "send"}).status_code == 403, path
    assert "x@y.cn" not in staff.get("/rounds/1/d/101").text


def test_staff_correct_addresses_remind_ticked_departments_and_see_every_message(mailed: Any) -> None:
    site, server = mailed
    staff = login(site.server, "staff")
    page = staff.get("/rounds/1/d/101").text
    assert "邮件已配置" in page and "名单中没有邮箱" in page
    bad = staff.post("/rounds/1/d/101/emails", data={"csrf": staff.csrf, "emails": "xfj@example.gov.cn; 李杰"})
    assert bad.status_code == 400 and "以下不是邮箱地址：李杰" in bad.text
    ok = staff.post("/rounds/1/d/101/emails", data={"csrf": staff.csrf,
                                                     "emails": "xfj@example.gov.cn；li@example.gov.cn"})
    assert ok.status_code == 303
    assert 'value="xfj@example.gov.cn; li@example.gov.cn"' in staff.get("/rounds/1/d/101").text
    assert "的邮箱改为 xfj@example.gov.cn、li@example.gov.cn" in staff.get("/audit").text
    dash = staff.get("/rounds/1").text
    assert 'form="remind-form"' in dash and "发送催报邮件" in dash and "下载催报清单" in dash
    none = staff.post("/rounds/1/remind", data={"csrf": staff.csrf, "do": "send"})
    assert none.status_code == 303 and "problem=tick" in none.headers["location"]
    assert "请先在表中勾选" in staff.get(none.headers["location"]).text
    before = len(server.box.messages)
    sent = staff.post("/rounds/1/remind", data={"csrf": staff.csrf, "do": "send", "code": ["101", "102"]})
    assert sent.status_code == 303 and sent.headers["location"] == "/rounds/1/messages"
    [got] = server.box.wait(before + 1)[before:]  # 102 has no address: nothing to send it
    assert got.rcpt_tos == ["xfj@example.gov.cn", "li@example.gov.cn"] and "催报" in got.subject
    assert httpx.get(site.url + "/l/" + link_of_site(got.body, site)).status_code == 200  # the link in it works
    end = time.monotonic() + 20
    while "已发送" not in (log := staff.get("/rounds/1/messages").text) and time.monotonic() < end:
        time.sleep(0.2)
    assert "手动催报" in log and "已发送" in log and "250 2.0.0 Ok" in log
    dept = staff.get("/rounds/1/d/101").text
    assert "邮件记录" in dept and "手动催报" in dept and "xfj@example.gov.cn; li@example.gov.cn" in dept
    assert "发送邮件" in staff.get("/audit").text
    # the same departments again today: nobody is reminded twice
    staff.post("/rounds/1/remind", data={"csrf": staff.csrf, "do": "send", "code": ["101"]})
    time.sleep(1.5)
    assert len(server.box.messages) == before + 1


def link_of_site(body: str, site: Site) -> str:
    found = re.search(re.escape(site.url) + r"/l/([A-Za-z0-9_-]{40,})", body)
    assert found, body
    return found.group(1)


def test_the_chase_list_the_message_to_paste_and_the_round_s_choices(mailed: Any) -> None:
    site, _server = mailed
    staff = login(site.server, "staff")
    listed = staff.post("/rounds/1/remind", data={"csrf": staff.csrf, "do": "list"})
    assert listed.status_code == 200 and listed.content.startswith(b"PK")
    assert "attachment" in listed.headers["content-disposition"]
    rows = list(openpyxl.load_workbook(io.BytesIO(listed.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "部门代码" and {r[0] for r in rows[1:]} <= {"101", "102"}
    for row in rows[1:]:
        assert httpx.get(site.url + "/l/" + link_of_site(row[7], site)).status_code == 200
    made = staff.post("/rounds/1/d/102/chase", data={"csrf": staff.csrf})  # a change: answered by a redirect
    assert made.status_code == 303 and made.headers["location"] == "/rounds/1/d/102"
    page = staff.get("/rounds/1/d/102")
    assert page.status_code == 200
    text = re.search(r'<textarea id="chase-text"[^>]*>(.*?)</textarea>', page.text, re.S).group(1)
    assert text.startswith("【催报】市财政局：") and 'data-copy="chase-text"' in page.text
    assert httpx.get(site.url + "/l/" + link_of_site(text, site)).status_code == 200
    assert 'id="chase-text"' not in staff.get("/rounds/1/d/102").text  # shown once: a reload makes no new link
    bad = staff.post("/rounds/1/reach", data={"csrf": staff.csrf, "plan": "三天前"})
    assert bad.status_code == 400 and "催报计划应写成截止前的天数" in bad.text
    res = staff.post("/rounds/1/reach", data={"csrf": staff.csrf, "plan": "7，3,0", "notice_round_opened": "1",
                                              "notice_reminder": "1"})
    assert res.status_code == 303
    dash = staff.get("/rounds/1").text
    assert 'name="plan" value="7,3,0"' in dash
    assert 'name="notice_received" value="1">' in dash and 'name="notice_reminder" value="1" checked>' in dash


def test_a_server_without_mail_settings_says_so_and_errs_nowhere(tmp_path: Path) -> None:
    site = Site(tmp_path, env={"XLTEMPLATE_MAIL_CONFIG": str(tmp_path / "none.toml")})
    try:
        staff = login(site.server, "staff")
        dash = staff.get("/rounds/1")
        assert dash.status_code == 200 and "邮件未配置" in dash.text
        assert re.search(r'<button type="submit" name="do" value="send" disabled>', dash.text)
        dept = staff.get("/rounds/1/d/101")
        assert dept.status_code == 200 and "邮件未配置" in dept.text
        sent = staff.post("/rounds/1/remind", data={"csrf": staff.csrf, "do": "send", "code": ["101"]})
        assert sent.status_code == 303
        assert "本轮还没有邮件" in staff.get("/rounds/1/messages").text
        assert site.upload("101", site.filled("101", "市信访局")).status_code == 200
        assert staff.post("/rounds/1/remind", data={"csrf": staff.csrf, "do": "list"}).content.startswith(b"PK")
    finally:
        site.server.stop()
