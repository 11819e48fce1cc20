"""The JSON API: what an integrator reads, authenticated by an API token staff made; and
property-based fuzzing of every operation from the OpenAPI document the server serves
(schemathesis), which finds no server error and no answer that breaks the document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from test_portal_http import Site

from xltemplate.collect import accounts
from xltemplate.collect.store import Store


@pytest.fixture(scope="module")
def api_site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    site = Site(tmp_path_factory.mktemp("api"))
    site.upload("101", site.filled("101", "市信访局"))
    site.upload("102", site.filled("102", "市财政局", mistake=True))
    store = Store(site.db)
    site.token, _ = accounts.make_api_token(store, "预算系统", accounts.user(store, "admin"))  # it may review
    revoked, rid = accounts.make_api_token(store, "旧系统", None)
    accounts.revoke_api_token(store, rid)
    site.revoked = revoked
    store.dispose()
    yield site
    site.server.stop()


def test_the_api_gives_rounds_status_returns_with_data_and_errors(api_site: Any) -> None:
    api = httpx.Client(base_url=api_site.url, headers={"authorization": f"Bearer {api_site.token}"})
    [rnd] = api.get("/api/v1/rounds").json()
    assert rnd["name"] == "2021年度 乌海市财政支出预算绩效目标申报表" and rnd["deadline"] == "2020-11-30"
    status = api.get(f"/api/v1/rounds/{rnd['id']}/status").json()
    assert [(d["code"], d["status"]) for d in status["departments"]] == [("101", "pending"), ("102", "invalid")]
    valid = api.get(f"/api/v1/rounds/{rnd['id']}/returns", params={"status": "valid"}).json()
    assert len(valid) == 1 and valid[0]["data"]["funding"]["total"] == 7 and valid[0]["department_code"] == "101"
    errors = api.get(f"/api/v1/rounds/{rnd['id']}/errors").json()
    assert [(e["department_code"], e["cell"], e["label"]) for e in errors] == [
        ("102", "D6", "项目基本情况 · 预算功能科目")]
    one = api.get(f"/api/v1/returns/{valid[0]['id']}").json()
    assert one["current"] and one["project"] == "外派人员生活补贴"
    assert api.get("/api/v1/rounds/99999").status_code == 404
    doc = httpx.get(api_site.url + "/api/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/api/v1/rounds/{rid}/returns" in doc["paths"]


def test_ids_and_parameters_the_database_cannot_hold_are_refused_before_any_query(api_site: Any) -> None:
    api = httpx.Client(base_url=api_site.url, headers={"authorization": f"Bearer {api_site.token}"})
    assert api.get("/api/v1/returns/99999999999999999999").status_code == 404  # beyond any integer column
    assert api.get("/api/v1/rounds/1/returns", params={"department": "1\x00"}).status_code == 400  # NUL
    assert api.get("/api/v1/rounds/1/returns", params={"limit": "0"}).status_code == 400
    assert "Traceback" not in api_site.server.output()


def test_the_api_needs_a_live_token(api_site: Any) -> None:
    for headers in ({}, {"authorization": "Bearer xt_guess"}, {"authorization": f"Bearer {api_site.revoked}"},
                    {"authorization": f"Basic {api_site.token}"}):
        res = httpx.get(api_site.url + "/api/v1/rounds", headers=headers)
        assert res.status_code == 401 and res.headers["www-authenticate"] == "Bearer", headers
        assert res.json()["error"]["message"].startswith("需要有效的接口令牌")


#: what a review decision the document calls valid may be answered: taken (200), or refused as the
#: return and its form require (a grade the form does not declare, a send-back without a reason, a
#: return with errors or already decided: 400 and 409, both documented), or no such return / account
DECISION_ANSWERS = {200, 400, 401, 403, 404, 409, 429}


def decision_accepted_or_refused_as_documented(ctx: Any, response: Any, case: Any) -> None:
    """schemathesis's check that valid data is accepted, for the one operation whose acceptance
    depends on the stored return and its form, which no document can say: a refusal must be one of
    :data:`DECISION_ANSWERS`."""
    if case.meta is not None and case.meta.generation.mode.is_positive:
        assert response.status_code in DECISION_ANSWERS, (response.status_code, response.text[:300])


def test_fuzzing_the_api_from_its_document_finds_no_server_error(api_site: Any) -> None:
    """Every operation of the served document, with Hypothesis-generated paths, parameters and
    headers (valid and invalid), against the real server: schemathesis's checks (no 5xx, status
    codes, content types and bodies as documented) hold for every answer.  (For the review decision,
    the check that valid data is accepted allows the refusals its business rules make.)"""
    from hypothesis import given
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema = schemathesis.openapi.from_url(api_site.url + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9  # 8 reads and the review decision (POST)
    headers = {"Authorization": f"Bearer {api_site.token}"}  # the name the ignored-auth check takes away

    def fuzz(operation: Any, excluded: list[Any], extra: list[Any]) -> None:
        @given(case=operation.as_strategy())
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, excluded_checks=excluded, additional_checks=extra)

        run()

    for operation in operations:
        decision = operation.method.upper() == "POST"
        fuzz(operation, [positive_data_acceptance] if decision else [],
             [decision_accepted_or_refused_as_documented] if decision else [])


def test_the_fuzzed_server_logged_no_error(api_site: Any) -> None:
    assert "Traceback" not in api_site.server.output()
    assert Path(api_site.folder).exists()
