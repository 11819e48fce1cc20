"""Commands about rounds and the returns in them: list and close rounds, who stands where, list,
withdraw and restore returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..messages import t
from .common import actor, db_option, echo_json, echo_listing, json_option, local, opened, state, table

if TYPE_CHECKING:
    from ..collect.rounds import Round


def _round_line(rnd: Round, lang: str) -> str:
    year = t("year_part", lang, year=rnd.year) if rnd.year else ""
    state_ = t("round_open" if rnd.status == "open" else "round_closed_state", lang)
    return t("round_line", lang, name=rnd.name, form=rnd.form_id, version=rnd.form_version, year=year,
             deadline=rnd.deadline.isoformat() if rnd.deadline else "—", state=state_)


@click.command()
@db_option
@click.option("--round", "round_name", default=None, help="收集轮次（默认：唯一或最新的进行中轮次）/ the round.")
@json_option
def status(db: str | None, round_name: str | None, as_json: bool) -> None:
    """各部门报送情况：未报送 / 有错误 / 无法读取 / 已退回 / 待审核 / 审核通过 / where each roster department stands."""
    from ..collect import departments, rounds

    lang = state().lang
    with opened(db) as store:
        found = departments.round_status(store, rounds.chosen(store, round_name))
    if as_json:
        echo_json(found)
        return
    rows = [[t(k, lang) for k in ("col_code", "col_department", "col_status", "col_returns", "col_approved",
                                  "col_last_sent", "col_office")]]
    for d in found.departments:
        rows.append([d.code, d.name, t("status_" + d.status, lang), str(d.returns), str(d.counts.approved),
                     local(d.last_sent), d.office or ""])
    click.echo(_round_line(found.round, lang))
    click.echo(table(rows, {3, 4}))
    click.echo(t("status_totals", lang, **{f: getattr(found.totals, f) for f in found.totals.__struct_fields__}))


@click.group(name="rounds", invoke_without_command=True)
@db_option
@json_option
@click.pass_context
def rounds_group(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """列出收集轮次；close / reopen 关闭或重新开放 / list rounds; close or reopen one."""
    ctx.meta["db"] = db
    if ctx.invoked_subcommand is not None:
        return
    from ..collect import departments

    lang = state().lang
    with opened(db) as store:
        found = departments.overview(store)
    if as_json:
        echo_json([rnd for rnd, _totals in found])
        return
    if not found:
        click.echo(t("no_rounds_listed", lang))
        return
    rows = [[t(k, lang) for k in ("col_id", "col_round", "col_form", "col_year", "col_deadline", "col_status",
                                  "col_department", "col_created")]]
    for x, totals in found:
        rows.append([str(x.id), x.name, f"{x.form_id} {x.form_version}", str(x.year or ""),
                     x.deadline.isoformat() if x.deadline else "",
                     t("round_open" if x.status == "open" else "round_closed_state", lang), str(totals.departments),
                     local(x.created_at)])
    click.echo(table(rows, {0, 6}))


def _set_round(ctx: click.Context, name: str, new_state: str) -> None:
    from ..collect import rounds

    with opened(ctx.meta["db"]) as store:
        rnd = rounds.set_status(store, name, new_state, actor=actor())
    lang = state().lang
    click.echo(t("round_state_set", lang, name=rnd.name,
                 state=t("round_open" if new_state == "open" else "round_closed_state", lang)))


@rounds_group.command(name="close")
@click.argument("name")
@click.pass_context
def close_round(ctx: click.Context, name: str) -> None:
    """截止关闭一轮：不再接收报送 / close a round: no more returns are taken."""
    _set_round(ctx, name, "closed")


@rounds_group.command(name="reopen")
@click.argument("name")
@click.pass_context
def reopen_round(ctx: click.Context, name: str) -> None:
    """重新开放一轮 / reopen a round."""
    _set_round(ctx, name, "open")


@click.command(name="returns")
@db_option
@click.option("--round", "round_name", default=None, help="收集轮次（默认：唯一或最新的进行中轮次）/ the round.")
@click.option("--department", default=None, metavar="CODE", help="只看这个部门代码 / one department.")
@click.option("--history", is_flag=True, help="包括被替代的副本 / include superseded copies.")
@json_option
def returns_(db: str | None, round_name: str | None, department: str | None, history: bool, as_json: bool) -> None:
    """列出报送（记录号用于 withdraw）/ list returns (the id is what withdraw takes)."""
    from ..collect import returns, rounds

    lang = state().lang
    with opened(db) as store:
        rnd = rounds.chosen(store, round_name)
        found = returns.query(store, round_id=rnd.id, department=department, history=history)

    def row(x: Any) -> list[str]:
        st = "state_withdrawn" if x.withdrawn_at else ("state_current" if x.current else "state_superseded")
        return [str(x.id), x.department_code or "", x.department or "", x.project or "", t("status_" + x.state, lang),
                str(x.error_count), t(st, lang), local(x.received_at), x.file]

    echo_listing(found, as_json, ("col_id", "col_code", "col_department", "col_project", "col_status", "col_errors",
                                  "col_state", "col_received", "col_file"), row, {0, 5}, before=_round_line(rnd, lang))


@click.command()
@click.argument("submission", type=int, metavar="ID")
@click.option("--reason", required=True, help="撤回原因 / why.")
@click.option("--by", "by", default=None, help="操作人（默认：当前用户）/ who (default: this user).")
@db_option
def withdraw(submission: int, reason: str, by: str | None, db: str | None) -> None:
    """撤回误报的报送（保留在历史中，可恢复）/ withdraw a return filed by mistake (kept, restorable)."""
    from ..collect import returns

    with opened(db) as store:
        row = returns.withdraw(store, submission, reason, by or actor())
    click.echo(t("withdrawn_done", state().lang, id=row.id, department=row.department or "",
                 project=row.project or "", reason=row.withdraw_reason))


@click.command()
@click.argument("submission", type=int, metavar="ID")
@click.option("--by", "by", default=None, help="操作人（默认：当前用户）/ who (default: this user).")
@db_option
def restore(submission: int, by: str | None, db: str | None) -> None:
    """恢复撤回的报送 / restore a withdrawn return."""
    from ..collect import returns

    with opened(db) as store:
        row = returns.restore(store, submission, by or actor())
    click.echo(t("restored_done", state().lang, id=row.id, department=row.department or "", project=row.project or ""))


COMMANDS = [status, rounds_group, returns_, withdraw, restore]
