"""Commands of the collection portal and the database under it: serve the portal, manage staff
accounts, upgrade the database."""

from __future__ import annotations

import os
import shlex
import sys

import click

from ..messages import t
from .common import CliError, db_option, local, open_store, opened, state, table


@click.command()
@db_option
@click.option("--data", "data_dir", default="xltemplate-data", show_default=True, type=click.Path(file_okay=False),
              help="本进程的临时文件目录 / this process's scratch folder.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="服务进程数（默认：CPU 核数；共用同一数据库）/ server processes sharing the database "
                   "(default: one per core).")
def serve(db: str | None, data_dir: str, host: str, port: int, workers: int | None) -> None:
    """启动报表收集平台（网页）/ run the collection portal (web application).

    With no options: embedded, SQLite file xltemplate.db here, one process per core (SQLite in
    WAL mode serves several processes on one machine).  With --db postgresql+psycopg://... any
    number of processes, here or on other machines, share that database and nothing else.
    """
    import logging

    import uvicorn  # the CLI's start-up time: only serve loads the web server

    from ..collect import accounts
    from ..collect.db import db_url

    store = open_store(db)  # a wrong URL fails here, in one sentence; the database is upgraded once
    try:
        first = accounts.first_start(store)
    finally:
        store.dispose()
    url = db_url(db)
    os.environ["XLTEMPLATE_DB"], os.environ["XLTEMPLATE_DATA"] = url, str(data_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lang = state().lang
    click.echo(t("serving", lang, url=f"http://{host}:{port}/", db=url), err=True)
    if first:  # the one way to the first account: say it where the person starting the portal looks
        command = t("first_account_command", lang) + (f" --db {shlex.quote(db)}" if db else "")
        click.echo(t("first_start_serve", lang, command=command), err=True)
    uvicorn.run("xltemplate.web.app:app_from_env", factory=True, host=host, port=port,
                workers=workers or os.cpu_count() or 1,
                proxy_headers=True, server_header=False, log_level="warning", timeout_graceful_shutdown=10)


@click.group(name="users", invoke_without_command=True)
@db_option
@click.pass_context
def users_group(ctx: click.Context, db: str | None) -> None:
    """平台的财政局工作人员账号：列出；add 添加；password 重设密码 / staff accounts: list; add; password."""
    if ctx.invoked_subcommand is not None:
        return
    from ..collect import accounts

    lang = state().lang
    with opened(db) as store:
        found = accounts.users(store)
    if not found:
        click.echo(t("users_none", lang))
        return
    rows = [[t(k, lang) for k in ("col_user", "col_role", "col_locked")]]
    rows += [[u.name, u.role, local(until)] for u, until in found]
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


@users_group.command(name="add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "staff"]), default="staff", show_default=True)
@db_option
def users_add(name: str, role: str, db: str | None) -> None:
    """添加账号；密码从终端读取（非终端时从标准输入）/ add an account; the password from the terminal or stdin."""
    from ..collect import accounts

    lang = state().lang
    password = _read_password(name, lang)
    with opened(db, must_exist=False) as store:
        user = accounts.add_user(store, name, password, role, lang)
    click.echo(t("user_added", lang, name=user.name, role=user.role, url=store.url), err=True)


@users_group.command(name="password")
@click.argument("name")
@db_option
def users_password(name: str, db: str | None) -> None:
    """重设账号密码并解除锁定；密码从终端读取（非终端时从标准输入）/ a new password (also unlocks)."""
    from ..collect import accounts

    lang = state().lang
    password = _read_password(name, lang)
    with opened(db) as store:
        accounts.set_password(store, name, password, lang)
    click.echo(t("password_set", lang, name=name, url=store.url), err=True)


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
