"""Commands of the collection portal and the database under it: serve the portal, manage staff
accounts, upgrade the database."""

from __future__ import annotations

import os
import shlex
import sys

import click

from ..messages import t
from .common import CliError, actor, db_option, local, open_store, opened, state, table


@click.command()
@db_option
@click.option("--data", "data_dir", default="xltemplate-data", show_default=True, type=click.Path(file_okay=False),
              help="本进程的临时文件目录 / this process's scratch folder.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="服务进程数（默认：CPU 核数；共用同一数据库）/ server processes sharing the database "
                   "(default: one per core).")
@click.option("--base-url", "base_url", default=None, metavar="URL",
              help="本平台的对外地址，各部门链接以此开头（保存在数据库中，管理员也可在“平台设置”页修改）/ "
                   "the portal's address every department link begins with (kept in the database).")
@click.option("--forwarded-allow-ips", "forwarded_allow_ips", default=None, metavar="IPS",
              help="只相信这些反向代理（如 nginx 的 127.0.0.1，逗号分隔）发来的 X-Forwarded-For；默认谁也不信 / "
                   "the proxies whose X-Forwarded-For is believed (comma-separated); by default none.")
def serve(db: str | None, data_dir: str, host: str, port: int, workers: int | None, base_url: str | None,
          forwarded_allow_ips: str | None) -> None:
    """启动报表收集平台（网页）/ run the collection portal (web application).

    With no options: embedded, SQLite file xltemplate.db here, one process per core (SQLite in
    WAL mode serves several processes on one machine).  With --db postgresql+psycopg://... any
    number of processes, here or on other machines, share that database and nothing else.
    """
    import logging

    from ..collect import accounts, settings
    from ..collect.db import db_url
    from ..web import server  # the CLI's start-up time: only serve loads the web server

    lang = state().lang
    store = open_store(db)  # a wrong URL fails here, in one sentence; the database is upgraded once
    try:
        first = accounts.first_start(store)
        if base_url is not None:
            base_url = settings.set_base_url(store, base_url, actor())
        base_url = settings.base_url(store)
    finally:
        store.dispose()
    url = db_url(db)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(t("serving", lang, url=f"http://{host}:{port}/", db=url), err=True)
    if first:  # the one way to the first account: say it where the person starting the portal looks
        command = t("first_account_command", lang) + (f" --db {shlex.quote(db)}" if db else "")
        click.echo(t("first_start_serve", lang, command=command), err=True)
    click.echo(t("serve_base_url", lang, url=base_url) if base_url else t("serve_no_base_url", lang), err=True)
    server.run(url, str(data_dir), host=host, port=port, workers=workers or os.cpu_count() or 1,
               forwarded_allow_ips=forwarded_allow_ips)


@click.group(name="users", invoke_without_command=True)
@db_option
@click.pass_context
def users_group(ctx: click.Context, db: str | None) -> None:
    """平台的财政局工作人员账号：列出；add 添加；password 重设密码；disable 停用；enable 恢复 /
    staff accounts: list; add; password; disable; enable."""
    if ctx.invoked_subcommand is not None:
        return
    from ..collect import accounts

    lang = state().lang
    with opened(db) as store:
        found = accounts.users(store)
    if not found:
        click.echo(t("users_none", lang))
        return
    rows = [[t(k, lang) for k in ("col_user", "col_role", "col_office", "col_stages", "col_account_state",
                                  "col_last_login", "col_locked")]]
    rows += [[a.user.name, a.user.role, a.user.office or "", "、".join(a.user.stages),
              t("account_disabled" if a.disabled_at else "account_active", lang),
              local(a.last_login_at), local(a.locked_until)] for a in found]
    click.echo(table(rows))


def _read_password(name: str, lang: str) -> str:
    """From the terminal (asked twice, not shown), or the first line of standard input."""
    if sys.stdin.isatty():
        return click.prompt(t("password_prompt", lang, name=name), hide_input=True, confirmation_prompt=True,
                            err=True)
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError(t("password_empty_stdin", lang))
    return password


ROLES = ("admin", "staff", "reviewer", "viewer")  # as collect.accounts.ROLES (not imported: start-up time)


@users_group.command(name="add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="staff", show_default=True,
              help="admin 管理员；staff 经办（管理轮次，审核全部）；reviewer 审核人员；viewer 只读 / "
                   "admin; staff (runs rounds, reviews all); reviewer; viewer (reads only).")
@click.option("--office", default=None, metavar="科室",
              help="审核人员的归口科室：只审核名单中归口该科室的部门（不填：全部部门）/ a reviewer's office.")
@click.option("--stage", "stages", multiple=True, metavar="环节",
              help="审核人员负责的审核环节，可写多次（不填：全部环节）/ a stage the reviewer holds (repeatable).")
@db_option
def users_add(name: str, role: str, office: str | None, stages: tuple[str, ...], db: str | None) -> None:
    """添加账号；密码从终端读取（非终端时从标准输入）/ add an account; the password from the terminal or stdin."""
    from ..collect import accounts

    lang = state().lang
    password = _read_password(name, lang)
    with opened(db, must_exist=False) as store:
        user = accounts.add_user(store, name, password, role, lang, office=office, stages=stages)
    click.echo(t("user_added", lang, name=user.name, role=user.role, url=store.url), err=True)


@users_group.command(name="password")
@click.argument("name")
@db_option
def users_password(name: str, db: str | None) -> None:
    """重设账号密码，解除锁定并结束该账号的全部登录；密码从终端读取（非终端时从标准输入）/
    a new password (also unlocks, and ends every session of the account)."""
    from ..collect import accounts

    lang = state().lang
    password = _read_password(name, lang)
    with opened(db) as store:
        accounts.set_password(store, name, password, lang)
    click.echo(t("password_set", lang, name=name, url=store.url), err=True)


@users_group.command(name="disable")
@click.argument("name")
@db_option
def users_disable(name: str, db: str | None) -> None:
    """停用账号：不能再登录，其登录立即失效 / disable an account: no login, its sessions end."""
    from ..collect import accounts

    lang = state().lang
    with opened(db) as store:
        accounts.disable(store, name, lang)
    click.echo(t("user_disabled", lang, name=name, url=store.url), err=True)


@users_group.command(name="enable")
@click.argument("name")
@db_option
def users_enable(name: str, db: str | None) -> None:
    """恢复停用的账号 / enable a disabled account again."""
    from ..collect import accounts

    lang = state().lang
    with opened(db) as store:
        accounts.enable(store, name, lang)
    click.echo(t("user_enabled", lang, name=name, url=store.url), err=True)



@users_group.command(name="email")
@click.argument("name")
@click.argument("address", default="")
@db_option
def users_email(name: str, address: str, db: str | None) -> None:
    """设置账号的邮箱（审核人员每天的待审核汇总发往此处；不给地址则删除）/ the account's e-mail."""
    from ..collect import accounts

    lang = state().lang
    with opened(db) as store:
        found = accounts.set_email(store, name, address, lang)
    click.echo(t("user_email_set" if found else "user_email_removed", lang, name=name, email=found or ""))


@click.group(name="db")
def db_group() -> None:
    """数据库维护 / database maintenance."""


@db_group.command(name="upgrade")
@db_option
def db_upgrade(db: str | None) -> None:
    """把数据库升级到当前版本的结构（其他命令也会自动升级）/ upgrade the database in place."""
    from ..collect.db import HEAD

    with opened(db) as store:
        url = store.url
    click.echo(t("db_current", state().lang, rev=HEAD, url=url))


COMMANDS = [serve, users_group, db_group]
