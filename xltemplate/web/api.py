"""The JSON API for integrators (the budget system pulling results), described by the OpenAPI
document it serves at ``/api/openapi.json``.

Every call but the document needs ``Authorization: Bearer <token>`` with a token that staff made
(page 接口令牌); the answers are the same objects the command line prints with ``--json``
(:meth:`Round.as_dict`, :meth:`DepartmentStatus.as_dict`, ...).  Errors are
``{"error": {"status", "message"}}`` with the message in Chinese.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..collect import accounts, rounds
from ..messages import t
from .app import portal
from .auth import api_token

MAX_ID = 2**31 - 1
MAX_LIMIT = 1000


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def _authorised(request: Request) -> None:
    if accounts.check_api_token(portal(request).store, api_token(request)) is None:
        raise HTTPException(401, t("err_api_token"), headers={"www-authenticate": "Bearer"})


def _id(request: Request, name: str) -> int:
    value = int(request.path_params[name])
    if value > MAX_ID:
        raise HTTPException(404)
    return value


def _text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if len(value) > 200 or "\x00" in value:
        raise HTTPException(400, t("err_api_param", name=name))
    return value


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise HTTPException(400, t("err_api_param", name=name))
    return int(value)


def _round(request: Request) -> rounds.Round:
    rid = _id(request, "rid")
    found = [r for r in rounds.rounds(portal(request).store) if r.id == rid]
    if not found:
        raise HTTPException(404)
    return found[0]


def _endpoint(fn: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        def run() -> Response:
            _authorised(request)
            return _json(fn(request))

        return await run_in_threadpool(run)

    return endpoint


def list_rounds(request: Request) -> Any:
    return [r.as_dict() for r in rounds.rounds(portal(request).store)]


def one_round(request: Request) -> Any:
    rnd = _round(request)
    return rnd.as_dict() | {"totals": rounds.totals(rounds.status(portal(request).store, rnd))}


def round_status(request: Request) -> Any:
    rnd = _round(request)
    lines = rounds.status(portal(request).store, rnd)
    return {"round": rnd.as_dict(), "departments": [d.as_dict() for d in lines], "totals": rounds.totals(lines)}


def _return_rows(request: Request, where: list[Any], limit: int, offset: int, with_data: bool) -> list[dict[str, Any]]:
    store = portal(request).store
    s, e = store.submissions, store.errors
    cols = [s.c.id, s.c.round_id, s.c.department_code, s.c.department, s.c.key_text, s.c.status, s.c.error_count,
            s.c.file_name, s.c.received_at, s.c.saved_at, s.c.form_id, s.c.form_version, s.c.submission_id,
            s.c.is_current, s.c.superseded_by, s.c.withdrawn_at]
    if with_data:
        cols.append(s.c.data)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(*cols).where(*where).order_by(s.c.id).limit(limit).offset(offset)).all()
        ids = [r.id for r in rows]
        errors: dict[int, list[dict[str, Any]]] = {}
        if ids:
            for r in conn.execute(sa.select(e).where(e.c.submission.in_(ids)).order_by(e.c.id)):
                errors.setdefault(r.submission, []).append(_error(r))
    out = []
    for r in rows:
        item = {"id": r.id, "round_id": r.round_id, "department_code": r.department_code,
                "department": r.department, "project": r.key_text, "status": r.status, "error_count": r.error_count,
                "file": r.file_name, "received_at": _iso(r.received_at), "saved_at": _iso(r.saved_at),
                "form": r.form_id, "version": r.form_version, "submission_id": r.submission_id,
                "current": bool(r.is_current), "superseded_by": r.superseded_by,
                "withdrawn": r.withdrawn_at is not None, "errors": errors.get(r.id, [])}
        if with_data:
            item["data"] = r.data
        out.append(item)
    return out


def _error(r: Any) -> dict[str, Any]:
    return {"sheet": r.sheet, "cell": r.cell, "pointer": r.pointer, "label": r.label, "value": r.value,
            "message": r.message, "code": r.code}


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def round_returns(request: Request) -> Any:
    rnd = _round(request)
    s = portal(request).store.submissions
    where = [s.c.round_id == rnd.id, s.c.is_current.is_(True), s.c.withdrawn_at.is_(None)]
    department = _text(request, "department")
    if department is not None:
        where.append(s.c.department_code == department)
    status = _text(request, "status")
    if status is not None:
        if status not in ("valid", "invalid", "unreadable"):
            raise HTTPException(400, t("err_api_param", name="status"))
        where.append(s.c.status == status)
    limit, offset = _int(request, "limit", 100, 1, MAX_LIMIT), _int(request, "offset", 0, 0, MAX_ID)
    return _return_rows(request, where, limit, offset, True)


def round_errors(request: Request) -> Any:
    rnd = _round(request)
    store = portal(request).store
    s, e = store.submissions, store.errors
    limit, offset = _int(request, "limit", 1000, 1, 10000), _int(request, "offset", 0, 0, MAX_ID)
    stmt = (sa.select(e, s.c.department_code, s.c.department, s.c.file_name, s.c.status)
            .select_from(e.join(s, s.c.id == e.c.submission))
            .where(s.c.round_id == rnd.id, s.c.is_current.is_(True), s.c.withdrawn_at.is_(None),
                   s.c.status.in_(("invalid", "unreadable")))
            .order_by(e.c.id).limit(limit).offset(offset))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [{"return": r.submission, "department_code": r.department_code, "department": r.department,
             "file": r.file_name, "status": r.status, **_error(r)} for r in rows]


def one_return(request: Request) -> Any:
    sid = _id(request, "id")
    s = portal(request).store.submissions
    found = _return_rows(request, [s.c.id == sid], 1, 0, True)
    if not found:
        raise HTTPException(404)
    return found[0]


async def openapi(request: Request) -> Response:
    return _json(document())


def document() -> dict[str, Any]:
    """The OpenAPI 3.0 description of the API."""
    error = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["status", "message"],
        "properties": {"status": {"type": "integer"}, "message": {"type": "string"}}}}}
    nullable_str = {"type": "string", "nullable": True}
    rnd = {"type": "object", "required": ["id", "name", "form", "version", "status"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "form": {"type": "string"},
        "version": {"type": "string"}, "year": {"type": "integer", "nullable": True}, "deadline": nullable_str,
        "status": {"type": "string", "enum": ["open", "closed"]},
        "roster_kind": {"type": "string"}, "created_at": {"type": "string"}}}
    totals = {"type": "object", "additionalProperties": {"type": "integer"}}
    dept = {"type": "object", "required": ["code", "name", "status", "returns", "valid"], "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "contact": nullable_str,
        "status": {"type": "string", "enum": ["not_returned", "invalid", "unreadable", "valid"]},
        "returns": {"type": "integer"}, "valid": {"type": "integer"}, "in_roster": {"type": "boolean"},
        "last_sent": nullable_str}}
    err = {"type": "object", "properties": {k: nullable_str for k in
                                            ("sheet", "cell", "pointer", "label", "value", "message", "code")}}
    ret = {"type": "object", "required": ["id", "status", "errors"], "properties": {
        "id": {"type": "integer"}, "round_id": {"type": "integer", "nullable": True},
        "department_code": nullable_str, "department": nullable_str, "project": nullable_str,
        "status": {"type": "string", "enum": ["valid", "invalid", "unreadable"]},
        "error_count": {"type": "integer"}, "file": {"type": "string"}, "received_at": nullable_str,
        "saved_at": nullable_str, "form": nullable_str, "version": nullable_str, "submission_id": nullable_str,
        "current": {"type": "boolean"}, "superseded_by": {"type": "integer", "nullable": True},
        "withdrawn": {"type": "boolean"}, "errors": {"type": "array", "items": err},
        "data": {"type": "object", "nullable": True}}}
    located = {"allOf": [err, {"type": "object", "properties": {
        "return": {"type": "integer"}, "department_code": nullable_str, "department": nullable_str,
        "file": {"type": "string"}, "status": {"type": "string"}}}]}

    def ok(schema: dict[str, Any], what: str) -> dict[str, Any]:
        return {"description": what, "content": {"application/json": {"schema": schema}}}

    ref = {"$ref": "#/components/schemas/Error"}
    errors = {code: {"description": text, "content": {"application/json": {"schema": ref}}}
              for code, text in (("400", "a parameter is wrong"), ("401", "no or no valid API token"),
                                 ("404", "no such round or return"))}
    rid = {"name": "rid", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
    paging = [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
              {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}]

    def op(summary: str, response: dict[str, Any], params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"get": {"summary": summary, "parameters": params or [], "responses": {"200": response, **errors}}}

    return {
        "openapi": "3.0.3",
        "info": {"title": "xltemplate collection portal API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Error": error, "Round": rnd, "Return": ret}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/rounds": op("every round, newest first", ok({"type": "array", "items": rnd}, "rounds")),
            "/api/v1/rounds/{rid}": op("one round and its totals", ok({"allOf": [rnd, {"type": "object", "properties": {
                "totals": totals}}]}, "the round"), [rid]),
            "/api/v1/rounds/{rid}/status": op("where each roster department stands", ok({
                "type": "object", "required": ["round", "departments", "totals"], "properties": {
                    "round": rnd, "departments": {"type": "array", "items": dept}, "totals": totals}}, "status"),
                [rid]),
            "/api/v1/rounds/{rid}/returns": op("current returns with their data and errors", ok(
                {"type": "array", "items": ret}, "returns"), [
                rid, {"name": "department", "in": "query", "schema": {"type": "string", "maxLength": 200}},
                {"name": "status", "in": "query", "schema": {"type": "string",
                                                             "enum": ["valid", "invalid", "unreadable"]}}, *paging]),
            "/api/v1/rounds/{rid}/errors": op("every error of the current invalid and unreadable returns", ok(
                {"type": "array", "items": located}, "errors"), [rid, *paging[:1], paging[1]]),
            "/api/v1/returns/{id}": op("one return (any copy) with data and errors", ok(ret, "the return"), [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}]),
        },
    }


def routes() -> list[Route]:
    return [
        Route("/api/openapi.json", openapi),
        Route("/api/v1/rounds", _endpoint(list_rounds)),
        Route("/api/v1/rounds/{rid:int}", _endpoint(one_round)),
        Route("/api/v1/rounds/{rid:int}/status", _endpoint(round_status)),
        Route("/api/v1/rounds/{rid:int}/returns", _endpoint(round_returns)),
        Route("/api/v1/rounds/{rid:int}/errors", _endpoint(round_errors)),
        Route("/api/v1/returns/{id:int}", _endpoint(one_return)),
    ]
