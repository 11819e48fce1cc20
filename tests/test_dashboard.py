"""The round's dashboard for a bureau of many departments (web/staff.py ``dashboard``), in-process:
the departments the filters choose come a page at a time, the page keeps the filters, its
refresh keeps the page, and a page asked for beyond the last (or not a number) is the nearest."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from xltemplate.collect import accounts
from xltemplate.collect.distribute import distribute
from xltemplate.collect.store import Store
from xltemplate.form.forms import load_form
from xltemplate.web.app import create_app
from xltemplate.web.staff import DASHBOARD_PAGE

N = 2 * DASHBOARD_PAGE + 3


@pytest.fixture(scope="module")
def staff(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("dashboard")
    db = f"sqlite:///{folder / 'db.sqlite'}"
    store = Store(db)
    roster = [{"部门代码": f"{100000 + n}", "部门名称": f"第{n + 1}局"} for n in range(N)]
    distribute(load_form("wuhai-perf-target"), roster, folder / "下发", store=store, year=2021, round_name="大轮次")
    accounts.add_user(store, "张三", "correct horse 12", "staff")
    store.dispose()
    with TestClient(create_app(db, folder / "data", run_jobs=False)) as client:
        token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"login_token": token, "name": "张三", "password": "correct horse 12"})
        yield client


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-code="(\d+)">', page)


def test_many_departments_come_a_page_at_a_time_and_every_one_is_on_some_page(staff: Any) -> None:
    first = html.unescape(staff.get("/rounds/1").text)
    assert _rows(first) == [f"{100000 + n}" for n in range(DASHBOARD_PAGE)]
    assert f"第 1–{DASHBOARD_PAGE} 个，共 {N} 个部门" in first and 'rel="next"' in first and 'rel="prev"' not in first
    seen = []
    for page in range(1, 4):
        seen += _rows(staff.get(f"/rounds/1?page={page}").text)
    assert seen == [f"{100000 + n}" for n in range(N)]  # each once, in order
    last = html.unescape(staff.get("/rounds/1?page=3").text)
    assert f"第 {2 * DASHBOARD_PAGE + 1}–{N} 个，共 {N} 个部门" in last and 'rel="next"' not in last
    assert "page=3" in re.search(r'data-partial="([^"]+)"', last).group(1)  # the refresh keeps the page
    assert _rows(staff.get("/rounds/1?page=99").text) == _rows(last)  # beyond the last: the last
    assert _rows(staff.get("/rounds/1?page=x").text) == _rows(first)  # not a number: the first


def test_a_page_keeps_the_filters_and_a_short_list_has_no_pages(staff: Any) -> None:
    page = html.unescape(staff.get("/rounds/1?sort=code&desc=1").text)
    assert _rows(page)[0] == f"{100000 + N - 1}"
    nxt = re.search(r'<a href="([^"]+)" rel="next">', page).group(1)
    assert "desc=1" in nxt and "sort=code" in nxt and "page=2" in nxt
    assert _rows(staff.get(nxt).text)[0] == f"{100000 + N - 1 - DASHBOARD_PAGE}"
    found = staff.get("/rounds/1", params={"q": "第10局"}).text
    assert _rows(found) == ["100009"] and 'id="pager"' not in found
