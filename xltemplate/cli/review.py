"""Review (审核) on the command line: list the returns and where their reviews stand, approve one,
send one back with reasons at its cells, show one.  The account named with ``--by`` (by default
the login name) must hold the right, as on the web: a reviewer of another 科室 is refused (exit 1)."""

from __future__ import annotations

from typing import Any

import click

from ..messages import t
from .common import actor, db_option, echo_json, echo_listing, json_option, local, opened, state

STATES = ("invalid", "unreadable", "returned", "pending", "approved")


def _account(store: Any, name: str | None) -> Any:
    from ..collect import accounts
    from ..collect.reviews import ReviewError

    who = name or actor()
    found = accounts.user(store, who)
    if found is None:
        raise ReviewError("review_no_account", "forbidden", name=who)
    return found


def _state(line: Any, lang: str) -> str:
    said = t("status_" + line.state, lang)
    if line.state == "pending" and line.stage_name:
        said += f"（{line.stage_name}）" if lang == "zh" else f" ({line.stage_name})"
    return said


@click.group(name="review")
def review_group() -> None:
    """审核：list 列出；approve 通过；return 退回修改；show 查看 / review: list, approve, return, show."""


@review_group.command(name="list")
@db_option
@click.option("--round", "round_name", default=None, help="收集轮次（默认：唯一或最新的进行中轮次）/ the round.")
@click.option("--state", "wanted", type=click.Choice(STATES), default=None,
              help="只看这一状态（pending 待审核，returned 已退回，approved 审核通过…）/ one state.")
@click.option("--office", default=None, metavar="科室", help="只看归口这个科室的部门 / one office's departments.")
@json_option
def review_list(db: str | None, round_name: str | None, wanted: str | None, office: str | None,
                as_json: bool) -> None:
    """列出报送及其审核状态 / the returns of a round and where their reviews stand."""
    from ..collect import reviews, rounds

    lang = state().lang
    with opened(db) as store:
        rnd = rounds.chosen(store, round_name)
        found = reviews.listing(store, rnd, state=wanted, office=office)

    def row(x: Any) -> list[str]:
        return [str(x.id), x.department_code or "", x.department or "", x.office or "", x.project or "",
                _state(x, lang) + (" " + t("resubmitted", lang) if x.resubmitted else ""), x.grade or "",
                str(x.warnings), local(x.received_at)]

    echo_listing(found, as_json, ("col_id", "col_code", "col_department", "col_office", "col_project", "col_status",
                                  "report_grade", "col_warnings", "col_received"), row, {0, 7})


def _said(review: Any, lang: str) -> str:
    where = t("status_" + review.state, lang)
    if review.state == "pending" and review.stage_name:
        where = t("review_now_at", lang, stage=review.stage_name)
    return t("review_done", lang, id=review.return_id, department=review.department or "",
             project=review.project or "", state=where)


@review_group.command(name="approve")
@click.argument("submission", type=int, metavar="ID")
@click.option("--grade", default=None, help="评级（表单规定的，如 优、良、中、差）/ a grade the form declares.")
@click.option("--by", "by", default=None, help="审核账号（默认：当前登录名）/ the account deciding.")
@db_option
def review_approve(submission: int, grade: str | None, by: str | None, db: str | None) -> None:
    """审核通过（在其所处的审核环节）/ approve a return at the stage it waits for."""
    from ..collect import reviews

    lang = state().lang
    with opened(db) as store:
        done = reviews.decide(store, submission, reviews.APPROVED, user=_account(store, by), grade=grade, lang=lang)
    click.echo(_said(done, lang))


@review_group.command(name="return")
@click.argument("submission", type=int, metavar="ID")
@click.option("--reason", "reasons", multiple=True, required=True, metavar='"POINTER: 意见"',
              help="审核意见，可写多次：/指针: 意见 针对某一项，只写意见针对整份报表 / a reason, repeatable: "
                   "'/pointer: words' at a field, words alone for the whole return.")
@click.option("--by", "by", default=None, help="审核账号（默认：当前登录名）/ the account deciding.")
@db_option
def review_return(submission: int, reasons: tuple[str, ...], by: str | None, db: str | None) -> None:
    """退回修改，附审核意见（部门在其链接页面和批注退回件中看到）/ send a return back with reasons."""
    from ..collect import reviews

    lang = state().lang
    with opened(db) as store:
        done = reviews.decide(store, submission, reviews.RETURNED, user=_account(store, by),
                              reasons=[reviews.parse_reason(r) for r in reasons], lang=lang)
    click.echo(_said(done, lang))
    for r in done.reasons:
        click.echo(_reason_line(r, lang))


def _reason_line(r: Any, lang: str) -> str:
    where = f"{r.sheet}!{r.cell} " if r.cell else ""
    label = r.label or t("whole_return", lang)
    changed = "" if r.changed is None else " " + t("reason_changed" if r.changed else "reason_unchanged", lang)
    return f"  {where}{label}：{r.text}{changed}"


@review_group.command(name="show")
@click.argument("submission", type=int, metavar="ID")
@db_option
@json_option
def review_show(submission: int, db: str | None, as_json: bool) -> None:
    """一份报送的审核情况：状态、历史、审核意见、与上次审核版本相比的改动 / one return's review."""
    from ..collect import reviews

    lang = state().lang
    with opened(db) as store:
        found = reviews.show(store, submission, lang)
    if as_json:
        echo_json(found)
        return
    click.echo(_said(found, lang) + (" · " + t("resubmitted", lang) if found.resubmitted else ""))
    if found.grade:
        click.echo(t("review_grade_line", lang, grade=found.grade))
    if found.reasons:
        click.echo(t("review_reasons_head", lang))
        for r in found.reasons:
            click.echo(_reason_line(r, lang))
    if found.reviewed is not None:
        click.echo(t("review_changes_head", lang, id=found.reviewed, n=len(found.changes)))
        for c in found.changes:
            where = f"{c.sheet}!{c.cell} " if c.cell else ""
            click.echo(f"  {where}{c.label}：{_value(c.old)} → {_value(c.new)}")
        if found.earlier_reasons:
            click.echo(t("review_earlier_head", lang))
            for r in found.earlier_reasons:
                click.echo(_reason_line(r, lang))
    if found.warnings:
        click.echo(t("review_warnings_head", lang, n=len(found.warnings)))
        for w in found.warnings:
            click.echo(f"  {w.sheet or ''}!{w.cell or ''} {w.label or ''}：{w.message}")
    if found.history:
        click.echo(t("review_history_head", lang))
        for d in found.history:
            click.echo(t("review_history_line", lang, at=local(d.at), stage=d.stage_name, actor=d.actor,
                         decision=t("decision_" + d.decision, lang), id=d.return_id,
                         grade=f"（{d.grade}）" if d.grade else ""))


def _value(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


COMMANDS = [review_group]
