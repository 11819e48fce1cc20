"""What every command shares: the state in click's ``ctx.obj``, the one mapping of domain errors
to sentences, opening the database, plain-text tables and JSON output."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from ..messages import t

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class State:
    """The options of ``xltemplate`` itself, for every command (``ctx.obj``)."""

    lang: str = "zh"
    debug: bool = False
    db_url: str | None = None  # the database a command opened, for messages about it


def state() -> State:
    """The running command's state (defaults when a command is invoked outside ``main``)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(State) if ctx is not None else None
    return found or State()


class CliError(click.ClickException):
    """A problem the user must act on: one plain sentence after 错误： (``Error:`` with ``--lang en``),
    exit 1.  Click's own usage errors keep Click's wording."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lang = state().lang  # said after the command's context is gone

    def show(self, file: Any = None) -> None:
        click.echo(t("cli_error", self.lang, message=self.format_message()), file=file, err=file is None)


class Headed(Exception):
    """A domain error said under a head of the command's (which file it was about)."""

    def __init__(self, head: str, error: BaseException):
        super().__init__(head)
        self.head, self.error = head, error


def said(exc: BaseException, lang: str) -> str | None:
    """The sentence a user reads for a domain error, or None for an error that is not one (a bug,
    which keeps its traceback).  The one place where errors become words."""
    # imported here, when something went wrong: the start of every command stays light
    import sqlalchemy as sa

    from ..collect.accounts import AccountError
    from ..collect.report import ReportError
    from ..form.forms import FormNotFound
    from ..form.layout import LayoutError
    from ..form.schema import SchemaError
    from ..messages import message
    from ..xlsx.reader import ReadError

    if isinstance(exc, Headed):
        inner = said(exc.error, lang)
        return None if inner is None else f"{exc.head}\n  {inner}" if "\n" not in inner else \
            exc.head + "\n  " + inner.replace("\n", "\n  ")
    if callable(getattr(exc, "message", None)):  # RoundError and its kind: a catalog key and parameters
        return str(exc.message(lang))
    problems = getattr(exc, "problems", None)
    if isinstance(problems, list):  # RosterError, DesignError, FillError: every problem, each at its place
        head = getattr(exc, "head", "")
        return "\n  ".join([head, *problems] if head else problems)
    if isinstance(exc, ReadError):
        return message(exc.code, lang, detail=exc.detail)
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return t("db_read_failed", lang, url=state().db_url or "", detail=exc)
    if isinstance(exc, FormNotFound | LayoutError | SchemaError | AccountError | ReportError | OSError
                  | json.JSONDecodeError):
        return str(exc)
    return None


class DomainGroup(click.Group):
    """The top command group: a domain error raised by any command ends it with its sentence."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            st = ctx.find_object(State) or State()
            text = said(exc, st.lang)
            if text is None:
                raise
            if st.debug:
                traceback.print_exc()
            error = CliError(text)
            error.lang = st.lang
            raise error from exc


def db_option(f: F) -> F:
    return click.option("--db", "db", default=None, metavar="URL",
                        help="数据库（默认当前目录下的 SQLite 文件 xltemplate.db；PostgreSQL 用 "
                             "postgresql+psycopg://...）/ database URL (default: SQLite file xltemplate.db).")(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="JSON 输出 / output JSON.")(f)


def open_store(db: str | None, *, must_exist: bool = False) -> Any:
    """Open (and, when needed, upgrade) the database; a plain sentence when it cannot be."""
    import sqlalchemy as sa  # the CLI's start-up time: only commands that use a database load it

    from ..collect.db import db_url
    from ..collect.store import Store

    st = state()
    url = st.db_url = db_url(db)
    try:
        parsed = sa.make_url(url)
        if must_exist and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
                and not Path(parsed.database).is_file():  # never create an empty database for a mistyped path
            raise CliError(t("db_missing", st.lang, path=parsed.database))
        store = Store(db)
    except CliError:
        raise
    except Exception as exc:  # SQLAlchemy's errors: bad URL, server down, no permission
        if st.debug:
            traceback.print_exc()
        raise CliError(t("db_open_failed", st.lang, url=url, detail=exc)) from exc
    before, after = store.upgraded
    if before is not None and before != after:
        click.echo(t("db_upgraded", st.lang, before=before, after=after), err=True)
    return store


@contextlib.contextmanager
def opened(db: str | None, *, must_exist: bool = True) -> Iterator[Any]:
    """The database for the length of a command, closed after."""
    store = open_store(db, must_exist=must_exist)
    try:
        yield store
    finally:
        store.dispose()


def echo_json(value: Any) -> None:
    """A domain object (or list, or dict of them) as JSON, in its one shape."""
    from ..collect.shapes import to_builtins

    click.echo(json.dumps(to_builtins(value), ensure_ascii=False, indent=1))


def parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise click.BadParameter(t("bad_date", state().lang, value=value)) from exc


def local(stamp: Any) -> str:
    from ..collect.shapes import local_time

    return local_time(stamp)


def actor() -> str:
    """Who runs the command (the login name), for the audit log."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a container
        return ""


def progress_bar(total: int, desc_key: str, unit_key: str, progress: bool | None, **kw: Any) -> Any:
    """A tqdm bar on standard error: shown on a terminal unless ``--no-progress`` (or when asked)."""
    from tqdm import tqdm

    lang = state().lang
    return tqdm(total=total, desc=t(desc_key, lang), unit=t(unit_key, lang),
                disable=(not sys.stderr.isatty()) if progress is None else not progress, file=sys.stderr, **kw)


def display_width(text: str) -> int:
    from ..xlsx.writer import display_width as width

    return width(text)


def table(rows: list[list[str]], numeric: set[int] = frozenset(), rule_before_last: bool = False) -> str:
    """Rows as a plain-text table: a header, a rule under it, columns padded for CJK widths
    (numbers right-aligned); optionally a rule above the last row (a total)."""
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [" " * (widths[i] - display_width(c)) + c if i in numeric else c + " " * (widths[i] - display_width(c))
                 for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
        if n == 0 or (rule_before_last and n == len(rows) - 2):
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def echo_listing(found: list[Any], as_json: bool, columns: tuple[str, ...], row: Callable[[Any], list[str]],
                 numeric: set[int], before: str | None = None) -> None:
    """A listing of domain objects: with ``--json`` in their one JSON shape; else a table titled by
    the catalog's ``columns``, a line per object (``row``), ``before`` above it; a sentence when
    there is none."""
    lang = state().lang
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo(t("no_returns", lang))
        return
    if before is not None:
        click.echo(before)
    click.echo(table([[t(k, lang) for k in columns], *(row(x) for x in found)], numeric))


def key_option(f: F) -> F:
    """``--key``: the key issued templates are signed with."""
    return click.option("--key", default=None, envvar="XLTEMPLATE_KEY",
                        help="签名密钥（财政局保管；也可用环境变量 XLTEMPLATE_KEY）/ "
                             "signing key (or XLTEMPLATE_KEY).")(f)


def verify_key_option(f: F) -> F:
    """``--key``: the key templates' signatures are checked with."""
    return click.option("--key", default=None, envvar="XLTEMPLATE_KEY",
                        help="校验模板签名的密钥（财政局保管；也可用环境变量 XLTEMPLATE_KEY）/ "
                             "signing key (or XLTEMPLATE_KEY).")(f)
