"""The JSON API for integrators (the budget system pulling results), described by the OpenAPI
document it serves at ``/api/openapi.json``.

Every call but the document needs ``Authorization: Bearer <token>`` with a token that staff made
(page 接口令牌).  A review decision (``POST /api/v1/returns/{id}/review``) is made as the account
the token belongs to, which must hold the right, as on the web (else 403).  The answers are the
domain's own types in their one shape (:mod:`xltemplate.collect.shapes`): the same objects the
command line prints with ``--json``, and the document's schemas are derived from those types,
never written by hand.  Errors are ``{"error": {"status", "message"}}`` with the message in Chinese.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..collect import accounts, departments, returns, reviews, rounds, shapes
from ..messages import t
from .auth import api_token
from .responses import portal, refused
from .security import FORM_LIMIT, limited

MAX_ID = 999_999_999  # ids are 1-9 digits in paths (the ``id`` convertor): larger is 404
MAX_LIMIT = 1000


class ErrorBody(msgspec.Struct):
    status: int
    message: str


class ApiError(msgspec.Struct):
    """What every failed call answers."""

    error: ErrorBody


class RoundTotals(msgspec.Struct, kw_only=True):
    """A round and its totals."""

    round: rounds.Round
    totals: departments.Totals


def _json(data: Any, status: int = 200) -> Response:
    return Response(shapes.encode(data), status_code=status, media_type="application/json")


def _authorised(request: Request) -> None:
    if accounts.check_api_token(portal(request).store, api_token(request)) is None:
        raise HTTPException(401, t("err_api_token"), headers={"www-authenticate": "Bearer"})


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
    found = rounds.get(portal(request).store, request.path_params["rid"])
    if found is None:
        raise HTTPException(404)
    return found


# -- the calls -----------------------------------------------------------------------------------

def list_rounds(request: Request) -> list[rounds.Round]:
    return rounds.rounds(portal(request).store)


def one_round(request: Request) -> RoundTotals:
    rnd = _round(request)
    return RoundTotals(round=rnd, totals=departments.round_totals(portal(request).store, rnd))


def round_status(request: Request) -> departments.Status:
    return departments.round_status(portal(request).store, _round(request))


def _choice(request: Request, name: str, choices: tuple[str, ...]) -> str | None:
    value = _text(request, name)
    if value is not None and value not in choices:
        raise HTTPException(400, t("err_api_param", name=name))
    return value


def round_returns(request: Request) -> list[returns.Return]:
    rnd = _round(request)
    return returns.query(portal(request).store, round_id=rnd.id, department=_text(request, "department"),
                         status=_choice(request, "status", returns.STATUSES),
                         state=_choice(request, "state", returns.STATES), withdrawn=False, with_data=True,
                         by_id=True, limit=_int(request, "limit", 100, 1, MAX_LIMIT),
                         offset=_int(request, "offset", 0, 0, MAX_ID))


def round_reviews(request: Request) -> list[reviews.Line]:
    rnd = _round(request)
    return reviews.listing(portal(request).store, rnd, state=_choice(request, "state", returns.STATES),
                           office=_text(request, "office"))


def one_review(request: Request) -> reviews.Review:
    try:
        return reviews.show(portal(request).store, request.path_params["id"])
    except reviews.ReviewError as exc:
        raise HTTPException(404) from exc


def round_errors(request: Request) -> list[returns.LocatedError]:
    rnd = _round(request)
    return returns.errors_of_round(portal(request).store, rnd.id, _int(request, "limit", 1000, 1, 10000),
                                   _int(request, "offset", 0, 0, MAX_ID))


def one_return(request: Request) -> returns.Return:
    found = returns.one(portal(request).store, request.path_params["id"], with_data=True)
    if found is None:
        raise HTTPException(404)
    return found


# -- the document ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One GET of the API: its path, handler, answer type, summary and parameters."""

    path: str
    handler: Callable[[Request], Any]
    answers: Any
    summary: str
    params: tuple[dict[str, Any], ...] = ()


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0,
                                                                       "maximum": MAX_ID}}


_PAGING = ({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
           {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID}})

CALLS = (
    Call("/api/v1/rounds", list_rounds, list[rounds.Round], "every round, newest first"),
    Call("/api/v1/rounds/{rid}", one_round, RoundTotals, "one round and its totals", (_path_id("rid"),)),
    Call("/api/v1/rounds/{rid}/status", round_status, departments.Status, "where each roster department stands",
         (_path_id("rid"),)),
    Call("/api/v1/rounds/{rid}/returns", round_returns, list[returns.Return],
         "current returns with their data and errors", (
             _path_id("rid"), {"name": "department", "in": "query", "schema": {"type": "string", "maxLength": 200}},
             {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(returns.STATUSES)}},
             {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(returns.STATES)}},
             *_PAGING)),
    Call("/api/v1/rounds/{rid}/errors", round_errors, list[returns.LocatedError],
         "every error of the current invalid and unreadable returns", (
             _path_id("rid"), {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                         "maximum": 10000}}, _PAGING[1])),
    Call("/api/v1/returns/{id}", one_return, returns.Return, "one return (any copy) with data and errors",
         (_path_id("id"),)),
    Call("/api/v1/rounds/{rid}/reviews", round_reviews, list[reviews.Line],
         "the round's current returns and where their reviews stand", (
             _path_id("rid"), {"name": "state", "in": "query", "schema": {"type": "string",
                                                                         "enum": list(returns.STATES)}},
             {"name": "office", "in": "query", "schema": {"type": "string", "maxLength": 200}})),
    Call("/api/v1/returns/{id}/review", one_review, reviews.Review,
         "one return's review: state, stage, grade, reasons with their cells, changes since the last review, "
         "history", (_path_id("id"),)),
)


# -- the one change: a review decision -------------------------------------------------------------

class ReasonIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A reason: at a field (its JSON pointer into the return's data) or, without one, the whole return."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=reviews.MAX_REASON)]
    pointer: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class ReviewRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A review decision at the stage the return waits for: approve (with a grade the form declares),
    or send back with at least one reason."""

    decision: Literal["approved", "returned"]
    grade: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    reasons: Annotated[list[ReasonIn], msgspec.Meta(max_length=reviews.MAX_REASONS)] = msgspec.field(
        default_factory=list)


_DECIDE = "/api/v1/returns/{id}/review"


def decide(request: Request, body: bytes) -> reviews.Review:
    user = accounts.api_user(portal(request).store, api_token(request))
    if user is None:
        raise HTTPException(403, t("err_api_no_account"))
    try:
        wanted = msgspec.json.decode(body, type=ReviewRequest)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise HTTPException(400, t("err_api_body", detail=str(exc)[:200])) from exc
    try:
        return reviews.decide(portal(request).store, request.path_params["id"], wanted.decision, user=user,
                              grade=wanted.grade, reasons=[(r.pointer, r.text) for r in wanted.reasons],
                              address=request.client.host if request.client else None)
    except reviews.ReviewError as exc:
        raise refused(exc) from exc


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the API, its schemas derived from the answer types."""
    refs, components = shapes.components([c.answers for c in CALLS] + [ReviewRequest, ApiError])
    error_ref, request_ref = refs[-1], refs[-2]

    def errors(*codes: tuple[str, str]) -> dict[str, Any]:
        return {code: {"description": text, "content": {"application/json": {"schema": error_ref}}}
                for code, text in (("400", "a parameter is wrong"), ("401", "no or no valid API token"),
                                   ("404", "no such round or return"), *codes)}

    paths: dict[str, Any] = {c.path: {"get": {"summary": c.summary, "parameters": list(c.params), "responses": {
        "200": {"description": c.summary, "content": {"application/json": {"schema": ref}}}, **errors()}}}
        for c, ref in zip(CALLS, refs, strict=False)}
    review_ref = refs[[c.path for c in CALLS].index(_DECIDE)]
    paths[_DECIDE]["post"] = {
        "summary": "decide the review of a return at the stage it waits for, as the token's account",
        "parameters": [_path_id("id")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": request_ref}}},
        "responses": {"200": {"description": "the review after the decision",
                              "content": {"application/json": {"schema": review_ref}}},
                      **errors(("403", "the token's account may not decide this review"),
                               ("409", "decided already, or changed meanwhile"),
                               ("413", "the body is too large"))}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "xltemplate collection portal API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": components},
        "security": [{"bearer": []}],
        "paths": paths,
    }


async def openapi(request: Request) -> Response:
    return _json(document())


def _endpoint(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        def run() -> Response:
            _authorised(request)
            return _json(fn(request))

        return await run_in_threadpool(run)

    endpoint.__name__ = fn.__name__
    return endpoint


def _route_path(path: str) -> str:
    return path.replace("{rid}", "{rid:id}").replace("{id}", "{id:id}")


@limited(FORM_LIMIT)
async def decide_endpoint(request: Request) -> Response:
    """``POST /api/v1/returns/{id}/review``: the token first, then the body (at most FORM_LIMIT)."""
    await run_in_threadpool(_authorised, request)
    body = await request.body()
    return await run_in_threadpool(lambda: _json(decide(request, body)))


def routes() -> list[Route]:
    return [Route("/api/openapi.json", openapi, name="openapi"),
            Route(_route_path(_DECIDE), decide_endpoint, methods=["POST"], name="api_decide"),
            *(Route(_route_path(c.path), _endpoint(c.handler), name="api_" + c.handler.__name__) for c in CALLS)]
