"""The portal's own help, in Chinese, served with no internet: one page for the departments' clerks
(how to fill the template, what the checks say, how to send a correction, whom to ask) and one for
the bureau's staff (a round from start to finish).  Both are public: a clerk has no account, and
the staff page holds nothing a clerk may not read.  ``base.html`` links them from every page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .responses import render

CLERK = "/help/clerk"
STAFF = "/help/staff"


async def clerk_help(request: Request) -> Response:
    return render(request, "help_clerk.html")


async def staff_help(request: Request) -> Response:
    return render(request, "help_staff.html")


def routes() -> list[Route]:
    return [Route(CLERK, clerk_help, methods=["GET"], name="help_clerk"),
            Route(STAFF, staff_help, methods=["GET"], name="help_staff")]
