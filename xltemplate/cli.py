"""``xltemplate`` command line: a thin shell over :mod:`xltemplate.api`.

Errors reach the user as one plain sentence (Chinese by default, ``--lang en``) and a non-zero
exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from . import __version__
from .messages import t


class _Ctx:
    debug = False
    lang = "zh"


class CliError(click.ClickException):
    """A problem the user must act on: one plain sentence after 错误： (``Error:`` with ``--lang en``),
    exit 1.  Click's own usage errors keep Click's wording."""

    def show(self, file: Any = None) -> None:
        click.echo(t("cli_error", _Ctx.lang, message=self.format_message()), file=file, err=file is None)


def _fail(exc: BaseException, text: str | None = None) -> None:
    """Stop with ``exc`` said as one sentence (``text`` when the caller words it)."""
    if _Ctx.debug:
        traceback.print_exc()
    raise CliError(text or str(exc)) from exc


def _form_errors() -> tuple[type[BaseException], ...]:
    from .form.forms import FormNotFound
    from .form.layout import LayoutError
    from .form.schema import SchemaError
    from .xlsx.writer import FillError

    return FormNotFound, LayoutError, SchemaError, FillError, OSError, json.JSONDecodeError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xltemplate")
@click.option("--debug", is_flag=True, help="出错时显示完整的 Python 调用栈 / show tracebacks.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="消息语言 / language of messages.")
def main(debug: bool, lang: str) -> None:
    """xltemplate：表单定义一次，生成锁定、带校验的 Excel 模板，并导入检查填好的副本。

    Forms defined once as JSON Schema -> locked, validated Excel templates -> returned copies
    imported and checked.  FORM is a bundled form id (see `xltemplate forms`) or a schema path.
    """
    _Ctx.debug, _Ctx.lang = debug, lang
    if debug:  # let the importer's unexpected errors through, with their tracebacks
        import os

        os.environ["XLTEMPLATE_DEBUG"] = "1"


@main.command()
def forms() -> None:
    """列出内置表单 / list the bundled forms."""
    from .api import forms as list_forms

    for f in list_forms():
        click.echo(f"{f['id']}\t{f['version']}\t{f['title']}")


@main.command()
@click.argument("form")
def schema(form: str) -> None:
    """输出表单的 JSON Schema / print a form's JSON Schema."""
    from .api import load_form

    try:
        model = load_form(form)
    except _form_errors() as exc:
        _fail(exc)
    click.echo(json.dumps(model.schema, ensure_ascii=False, indent=2))


@main.command()
@click.argument("form")
@click.option("--json", "as_json", is_flag=True, help="JSON 输出 / output JSON.")
def fields(form: str, as_json: bool) -> None:
    """字段与单元格对照表 / the field map: pointer, label, sheet, cell, defined name, type."""
    from .api import field_map

    try:
        rows = field_map(form)
    except _form_errors() as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        click.echo(f"{r['sheet']}!{r['range']}\t{r['name']}\t{r['type']}\t{r['pointer']}\t{r['label']}")


def _write_output(out: Path, data: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    click.echo(t("wrote", _Ctx.lang, path=out), err=True)


@main.command()
@click.argument("form")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--submission-id", default="", help="写入元数据的报送编号 / submission id for the metadata.")
@click.option("--password", default=None, envvar="XLTEMPLATE_SHEET_PASSWORD",
              help="工作表保护密码（默认无密码）/ sheet protection password (default: none).")
@click.option("--key", default=None, envvar="XLTEMPLATE_KEY",
              help="签名密钥（财政局保管；也可用环境变量 XLTEMPLATE_KEY）/ signing key (or XLTEMPLATE_KEY).")
def generate(form: str, output: Path, submission_id: str, password: str | None, key: str | None) -> None:
    """生成空白模板 / generate the blank template."""
    from .api import generate as gen

    try:
        _write_output(output, gen(form, submission_id=submission_id, password=password, key=key))
    except _form_errors() as exc:
        _fail(exc)


@main.command()
@click.argument("form")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--submission-id", default="")
@click.option("--password", default=None, envvar="XLTEMPLATE_SHEET_PASSWORD")
@click.option("--key", default=None, envvar="XLTEMPLATE_KEY",
              help="签名密钥（财政局保管；也可用环境变量 XLTEMPLATE_KEY）/ signing key (or XLTEMPLATE_KEY).")
@click.option("--as", "template", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="按这份下发的模板填写（报送编号、部门、年度取自它）/ fill as this issued template.")
def fill(form: str, data: Path, output: Path, submission_id: str, password: str | None, key: str | None,
         template: Path | None) -> None:
    """用 JSON 数据预填模板 / prefill the template from a JSON instance."""
    from .api import fill as do_fill
    from .xlsx.reader import ReadError
    from .xlsx.writer import FillError

    try:
        _write_output(output, do_fill(form, data, submission_id=submission_id, password=password, key=key,
                                      template=template))
    except ReadError as exc:
        from .messages import message

        raise CliError(f"{template}：" + message(exc.code, _Ctx.lang, detail=exc.detail)) from exc
    except FillError as exc:
        head = t("fill_does_not_fit", _Ctx.lang, path=data)
        raise CliError(head + "\n  " + "\n  ".join(exc.problems)) from exc
    except _form_errors() as exc:
        _fail(exc)


def _db_option(f: Any) -> Any:
    return click.option("--db", "db", default=None, metavar="URL",
                        help="数据库（默认当前目录下的 SQLite 文件 xltemplate.db；PostgreSQL 用 "
                             "postgresql+psycopg://...）/ database URL (default: SQLite file xltemplate.db).")(f)


def _store(db: str | None, *, must_exist: bool = False) -> Any:
    """Open (and, when needed, upgrade) the database; a plain sentence when it cannot be."""
    import sqlalchemy as sa

    from .collect.db import db_url
    from .collect.store import Store

    url, lang = db_url(db), _Ctx.lang
    try:
        parsed = sa.make_url(url)
        if must_exist and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
                and not Path(parsed.database).is_file():  # never create an empty database for a mistyped path
            raise CliError(t("db_missing", lang, path=parsed.database))
        store = Store(db)
    except CliError:
        raise
    except Exception as exc:  # SQLAlchemy's errors: bad URL, server down, no permission
        if _Ctx.debug:
            traceback.print_exc()
        raise CliError(t("db_open_failed", lang, url=url, detail=exc)) from exc
    before, after = store.upgraded
    if before is not None and before != after:
        click.echo(t("db_upgraded", lang, before=before, after=after), err=True)
    return store


@contextlib.contextmanager
def _opened(db: str | None) -> Iterator[Any]:
    """An existing database for a command that reads or changes rounds; closed after, and a
    round or return that cannot be found or changed becomes one plain sentence."""
    from .collect.rounds import RoundError

    store = _store(db, must_exist=True)
    try:
        yield store
    except RoundError as exc:
        _fail(exc, exc.message(_Ctx.lang))
    finally:
        store.dispose()


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=1))


def _date(value: str | None) -> Any:
    import datetime as dt

    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise click.BadParameter(t("bad_date", _Ctx.lang, value=value)) from exc


def _local(stamp: Any) -> str:
    from .collect.db import local_time

    return local_time(stamp)


def _actor() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a container
        return ""


@main.command()
@click.argument("form")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="部门名单 CSV：code、name（部门代码、部门名称），可选 contact、项目名称及任意字段列 / roster CSV.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="输出目录 / output folder.")
@_db_option
@click.option("--no-db", is_flag=True, help="不记录收集轮次 / do not record a round.")
@click.option("--round", "round_name", default=None, help="轮次名称（默认：年度 + 表单名称）/ round name.")
@click.option("--year", type=click.IntRange(1990, 2100), default=None, help="预算年度，写入模板 / budget year.")
@click.option("--deadline", default=None, metavar="YYYY-MM-DD", help="报送截止日期 / deadline.")
@click.option("--carry-from", default=None, metavar="ROUND",
              help="为上一轮通过的延续项目各生成一份预填模板 / carry continuing projects forward from ROUND.")
@click.option("--password", default=None, envvar="XLTEMPLATE_SHEET_PASSWORD")
@click.option("--key", default=None, envvar="XLTEMPLATE_KEY",
              help="签名密钥（财政局保管；也可用环境变量 XLTEMPLATE_KEY）/ signing key (or XLTEMPLATE_KEY).")
@click.option("--progress/--no-progress", default=None)
@click.option("--base-url", default=None, metavar="URL",
              help="平台地址，manifest.csv 的 link 列写成完整链接 / the portal's address, for absolute links.")
def distribute(form: str, roster: Path, output: Path, db: str | None, no_db: bool, round_name: str | None,
               year: int | None, deadline: str | None, carry_from: str | None, password: str | None,
               key: str | None, progress: bool | None, base_url: str | None) -> None:
    """按名单生成预填模板并记录收集轮次 / one prefilled template per roster line; records the round.

    The round (roster, templates issued, year, deadline) is recorded in the database, so that
    `xltemplate status` shows who has not returned.  A roster with a 项目名称 column lists
    projects: one template per project.
    """
    from tqdm import tqdm

    from .api import load_form
    from .collect.distribute import RosterError, read_roster
    from .collect.distribute import distribute as run

    lang = _Ctx.lang
    when = _date(deadline)
    if no_db and (round_name or carry_from):
        raise CliError(t("round_needs_db", lang, option="--round/--carry-from"))
    try:
        model = load_form(form)
        rows = read_roster(roster, lang)
    except (*_form_errors(), RosterError) as exc:
        _fail(exc)
    store = None if no_db else _store(db)
    bar = tqdm(total=len(rows), desc=t("bar_write", lang), unit=t("bar_write_unit", lang),
               disable=(not sys.stderr.isatty()) if progress is None else not progress, file=sys.stderr)
    try:
        issued = run(model, rows, output, password=password, key=key, source=str(roster), progress=bar.update,
                     store=store, round_name=round_name, year=year, deadline=when, carry_from=carry_from,
                     created_by=_actor(), lang=lang, base_url=base_url)
        bar.close()
        click.echo(t("distributed", lang, n=len(issued), path=output, manifest=output / "manifest.csv"), err=True)
        if store is not None:
            from .collect.rounds import rounds

            newest = rounds(store)[0]
            click.echo(t("round_recorded", lang, name=newest.name, n=len({i.code for i in issued}),
                         templates=len(issued), url=store.url), err=True)
            click.echo(t("link_column_note", lang), err=True)
    except RosterError as exc:
        bar.close()
        raise CliError(t("roster_problems", lang) + "\n  " + "\n  ".join(exc.problems)) from exc
    finally:
        if store is not None:
            store.dispose()


def _describe(result: Any, lang: str) -> str:
    lines = [f"{result.file}: {t('status_' + result.status, lang)}"]
    for e in result.errors:
        where = f"{e.sheet}!{e.cell} " if e.cell else ""
        label = f"{e.label}：" if e.label else ""
        lines.append(f"  {where}{label}{e.message}")
    return "\n".join(lines)


def _width(text: str) -> int:
    from .xlsx.writer import display_width

    return display_width(text)


def table(rows: list[list[str]], numeric: set[int] = frozenset(), rule_before_last: bool = False) -> str:
    """Rows as a plain-text table: a header, a rule under it, columns padded for CJK widths
    (numbers right-aligned); optionally a rule above the last row (a total)."""
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [" " * (widths[i] - _width(c)) + c if i in numeric else c + " " * (widths[i] - _width(c))
                 for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
        if n == 0 or (rule_before_last and n == len(rows) - 2):
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_table(summary: Any, lang: str) -> str:
    """The per-department table printed at the end of a batch."""
    keys = summary.KEYS
    label = {k: t(f"summary_{k}", lang) for k in (*keys, "department", "total")}
    rows = [[label["department"], *(label[k] for k in keys)]]
    for dept in sorted(summary.rows):
        rows.append([dept, *(str(summary.rows[dept][k]) for k in keys)])
    total = summary.total()
    rows.append([label["total"], *(str(total[k]) for k in keys)])
    return table(rows, set(range(1, len(keys) + 1)), rule_before_last=True)


@main.command(name="import")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--form", default=None, help="只接受这个表单 / accept only this form (id or schema path).")
@_db_option
@click.option("--no-db", is_flag=True, help="不写数据库 / do not store results.")
@click.option("--round", "round_name", default=None,
              help="收集轮次（默认：模板所属的轮次，否则该表单唯一或最新的进行中轮次）/ the round.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="每个文件一行 JSON 的结果文件（- 为标准输出）/ JSON lines output ('-' for stdout).")
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="为每份有错误的报表生成批注副本，放到此目录 / write annotated copies of invalid returns here.")
@click.option("-j", "--jobs", type=int, default=None, help="并行进程数（默认 CPU 核数）/ worker processes.")
@click.option("--progress/--no-progress", default=None, help="进度条（默认：终端上显示）/ progress bar.")
@click.option("-q", "--quiet", is_flag=True, help="只输出汇总 / print only the summary.")
@click.option("--key", default=None, envvar="XLTEMPLATE_KEY",
              help="校验模板签名的密钥（财政局保管；也可用环境变量 XLTEMPLATE_KEY）/ signing key (or XLTEMPLATE_KEY).")
def import_(inputs: tuple[Path, ...], form: str | None, db: str | None, no_db: bool, round_name: str | None,
            json_out: Path | None, annotate_dir: Path | None, jobs: int | None, progress: bool | None, quiet: bool,
            key: str | None) -> None:
    """导入并检查填好的工作簿（文件、文件夹、zip 压缩包）/ import and check returned workbooks.

    Files, folders (recursively) and .zip archives; in parallel; stored several files per
    transaction, each return in its round.  Exit 0 when every file is valid (duplicates
    included), 1 otherwise.
    """
    from tqdm import tqdm

    from .collect import batch
    from .collect.rounds import RoundError

    lang = _Ctx.lang
    if no_db and round_name:
        raise CliError(t("round_needs_db", lang, option="--round"))
    if form:
        from .api import load_form

        try:
            load_form(form)
        except _form_errors() as exc:
            _fail(exc)
    store = None if no_db else _store(db)
    sink = None
    if json_out is not None:
        sink = sys.stdout if str(json_out) == "-" else json_out.open("w", encoding="utf-8")
    bar = tqdm(total=0, desc=t("bar_import", lang), unit=t("bar_import_unit", lang),
               disable=(not sys.stderr.isatty()) if progress is None else not progress, file=sys.stderr,
               dynamic_ncols=True)

    def on_done(done: Any, outcome: Any) -> None:
        result = done.result
        if sink is not None:
            line = result.as_dict()
            line["sha256"] = done.sha256
            line["department"] = done.department
            line["department_code"] = done.department_code
            if done.identity is not None:
                line["round_id"] = done.identity.round_id
                line["project"] = done.identity.key_text
            if done.notes:
                line["notes"] = done.notes
            if outcome is not None:
                line["id"] = outcome.id
                line["stored"] = "duplicate" if outcome.status == "duplicate" else \
                    ("superseded" if not outcome.current else "current")
                line["replaces"] = outcome.superseded
            if done.annotated:
                line["annotated"] = done.annotated
            sink.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        if not quiet and (result.status != "valid" or done.notes):
            text = _describe(result, lang)
            notes = [t("note_line", lang, message=n["message"]) for n in done.notes]
            tqdm.write("\n".join([text, *notes]), file=sys.stderr)

    try:
        summary = batch.run([str(p) for p in inputs], store=store, form=form, lang=lang,
                            annotate=annotate_dir, jobs=jobs, on_done=on_done, progress=bar, key=key,
                            round_name=round_name)
    except RoundError as exc:
        _fail(exc, exc.message(_Ctx.lang))
    finally:
        bar.close()
        if sink is not None and sink is not sys.stdout:
            sink.close()
        if store is not None:
            store.dispose()
    click.echo(summary_table(summary, lang), err=True)
    if store is not None:
        click.echo(t("stored_in", lang, url=store.url), err=True)
    sys.exit(0 if summary.ok else 1)


@main.command()
@_db_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="报表文件：.xlsx、.csv 或 .jsonl / report file: .xlsx, .csv or .jsonl.")
@click.option("--form", default=None,
              help="表单 id 或 schema 路径（数据库中只有一种表单时可省略）/ form id or schema path "
                   "(optional when the database holds one form).")
@click.option("--round", "round_name", default=None,
              help="收集轮次（默认：该表单唯一或最新的进行中轮次）/ the round (default: the open one).")
def report(db: str | None, output: Path, form: str | None, round_name: str | None) -> None:
    """汇总报表：通过的报送、明细表、错误清单、报送情况 / report: valid returns, tables, errors, status.

    .xlsx: sheets 汇总, one per repeating table, 错误清单, and for a round 报送情况 and 未报送;
    .csv: one file per sheet (OUT, and <OUT stem>.<sheet>.csv beside it); .jsonl: one line per
    current valid return.
    """
    import sqlalchemy as sa

    from .collect.report import ReportError, write_report

    lang = _Ctx.lang
    store = _store(db, must_exist=True)
    try:
        counts = write_report(store, output, form=form, lang=lang, round_name=round_name)
    except (ReportError, *_form_errors()) as exc:
        _fail(exc)
    except sa.exc.SQLAlchemyError as exc:
        if _Ctx.debug:
            traceback.print_exc()
        raise CliError(t("db_read_failed", lang, url=store.url, detail=exc)) from exc
    finally:
        store.dispose()
    for name, n in counts.items():
        click.echo(f"{name}\t{n}", err=True)
    click.echo(t("wrote", lang, path=output), err=True)


def _round(store: Any, name: str | None) -> Any:
    """The round named, else the only or latest open one; a sentence when there is none."""
    from .collect.rounds import default_round, find_round, rounds

    if name:
        return find_round(store, name)
    rnd = default_round(rounds(store), None) or next(iter(rounds(store)), None)
    if rnd is None:
        raise CliError(t("no_round", _Ctx.lang))
    return rnd


def _round_line(rnd: Any, lang: str) -> str:
    year = t("year_part", lang, year=rnd.year) if rnd.year else ""
    state = t("round_open" if rnd.status == "open" else "round_closed_state", lang)
    return t("round_line", lang, name=rnd.name, form=rnd.form_id, version=rnd.form_version, year=year,
             deadline=rnd.deadline.isoformat() if rnd.deadline else "—", state=state)


@main.command()
@_db_option
@click.option("--round", "round_name", default=None, help="收集轮次（默认：唯一或最新的进行中轮次）/ the round.")
@click.option("--json", "as_json", is_flag=True, help="JSON 输出 / output JSON.")
def status(db: str | None, round_name: str | None, as_json: bool) -> None:
    """各部门报送情况：未报送 / 有错误 / 通过 / 无法读取 / where each roster department stands."""
    from .collect import rounds

    lang = _Ctx.lang
    with _opened(db) as store:
        rnd = _round(store, round_name)
        lines = rounds.status(store, rnd)
    totals = rounds.totals(lines)
    if as_json:
        _echo_json({"round": rnd.as_dict(), "departments": [d.as_dict() for d in lines], "totals": totals})
        return
    rows = [[t(k, lang) for k in ("col_code", "col_department", "col_status", "col_returns", "col_valid",
                                  "col_last_sent")]]
    for d in lines:
        rows.append([d.code, d.name, t("status_" + d.status, lang), str(d.returns), str(d.valid),
                     _local(d.last_sent)])
    click.echo(_round_line(rnd, lang))
    click.echo(table(rows, {3, 4}))
    click.echo(t("status_totals", lang, **totals))


@main.group(invoke_without_command=True)
@_db_option
@click.option("--json", "as_json", is_flag=True, help="JSON 输出 / output JSON.")
@click.pass_context
def rounds(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """列出收集轮次；close / reopen 关闭或重新开放 / list rounds; close or reopen one."""
    ctx.obj = {"db": db}
    if ctx.invoked_subcommand is not None:
        return
    from .collect import rounds as r

    lang = _Ctx.lang
    with _opened(db) as store:
        found = r.rounds(store)
        counts = {rnd.id: r.totals(r.status(store, rnd))["departments"] for rnd in found}
    if as_json:
        _echo_json([x.as_dict() for x in found])
        return
    if not found:
        click.echo(t("no_rounds_listed", lang))
        return
    rows = [[t(k, lang) for k in ("col_id", "col_round", "col_form", "col_year", "col_deadline", "col_status",
                                  "col_department", "col_created")]]
    for x in found:
        rows.append([str(x.id), x.name, f"{x.form_id} {x.form_version}", str(x.year or ""),
                     x.deadline.isoformat() if x.deadline else "",
                     t("round_open" if x.status == "open" else "round_closed_state", lang), str(counts[x.id]),
                     _local(x.created_at)])
    click.echo(table(rows, {0, 6}))


def _set_round(ctx: click.Context, name: str, state: str) -> None:
    from .collect import rounds as r

    with _opened(ctx.obj["db"]) as store:
        rnd = r.set_status(store, name, state, actor=_actor())
    click.echo(t("round_state_set", _Ctx.lang, name=rnd.name,
                 state=t("round_open" if state == "open" else "round_closed_state", _Ctx.lang)))


@rounds.command(name="close")
@click.argument("name")
@click.pass_context
def close_round(ctx: click.Context, name: str) -> None:
    """截止关闭一轮：不再接收报送 / close a round: no more returns are taken."""
    _set_round(ctx, name, "closed")


@rounds.command(name="reopen")
@click.argument("name")
@click.pass_context
def reopen_round(ctx: click.Context, name: str) -> None:
    """重新开放一轮 / reopen a round."""
    _set_round(ctx, name, "open")


@main.command(name="returns")
@_db_option
@click.option("--round", "round_name", default=None, help="收集轮次（默认：唯一或最新的进行中轮次）/ the round.")
@click.option("--department", default=None, metavar="CODE", help="只看这个部门代码 / one department.")
@click.option("--history", is_flag=True, help="包括被替代的副本 / include superseded copies.")
@click.option("--json", "as_json", is_flag=True, help="JSON 输出 / output JSON.")
def returns_(db: str | None, round_name: str | None, department: str | None, history: bool, as_json: bool) -> None:
    """列出报送（记录号用于 withdraw）/ list returns (the id is what withdraw takes)."""
    from .collect import rounds as r

    lang = _Ctx.lang
    with _opened(db) as store:
        rnd = _round(store, round_name)
        found = r.returns(store, rnd, department, history)
    if as_json:
        _echo_json([x.as_dict() for x in found])
        return
    if not found:
        click.echo(t("no_returns", lang))
        return
    rows = [[t(k, lang) for k in ("col_id", "col_code", "col_department", "col_project", "col_status", "col_errors",
                                  "col_state", "col_received", "col_file")]]
    for x in found:
        state = "state_withdrawn" if x.withdrawn_at else ("state_current" if x.current else "state_superseded")
        rows.append([str(x.id), x.department_code or "", x.department or "", x.key_text or "",
                     t("status_" + x.status, lang), str(x.errors), t(state, lang), _local(x.received_at), x.file])
    click.echo(_round_line(rnd, lang))
    click.echo(table(rows, {0, 5}))


@main.command()
@click.argument("submission", type=int, metavar="ID")
@click.option("--reason", required=True, help="撤回原因 / why.")
@click.option("--by", "actor", default=None, help="操作人（默认：当前用户）/ who (default: this user).")
@_db_option
def withdraw(submission: int, reason: str, actor: str | None, db: str | None) -> None:
    """撤回误报的报送（保留在历史中，可恢复）/ withdraw a return filed by mistake (kept, restorable)."""
    from .collect import rounds as r

    with _opened(db) as store:
        row = r.withdraw(store, submission, reason, actor or _actor())
    click.echo(t("withdrawn_done", _Ctx.lang, id=row.id, department=row.department or "",
                 project=row.key_text or "", reason=row.withdraw_reason))


@main.command()
@click.argument("submission", type=int, metavar="ID")
@click.option("--by", "actor", default=None, help="操作人（默认：当前用户）/ who (default: this user).")
@_db_option
def restore(submission: int, actor: str | None, db: str | None) -> None:
    """恢复撤回的报送 / restore a withdrawn return."""
    from .collect import rounds as r

    with _opened(db) as store:
        row = r.restore(store, submission, actor or _actor())
    click.echo(t("restored_done", _Ctx.lang, id=row.id, department=row.department or "", project=row.key_text or ""))


@main.group(name="db")
def db_group() -> None:
    """数据库维护 / database maintenance."""


@db_group.command(name="upgrade")
@_db_option
def db_upgrade(db: str | None) -> None:
    """把数据库升级到当前版本的结构（其他命令也会自动升级）/ upgrade the database in place."""
    store = _store(db, must_exist=True)
    store.dispose()
    from .collect.db import HEAD

    click.echo(t("db_current", _Ctx.lang, rev=HEAD, url=store.url))


# -- design: a bureau's own workbook, its input cells marked -> the form (schema + layout) ----------
@main.command()
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="输出目录：写入 <id>.schema.json 和 <id>.layout.json / output folder.")
@click.option("--id", "form_id", default=None, help="表单标识（英文，如 ordos-perf-target；默认取文件名）/ form id.")
@click.option("--version", "form_version", default=None, help="表单版本（默认 1）/ form version (default 1).")
@click.option("--schema", "edited", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="修改过的 schema：保留其中的说明、规则等修改 / an edited schema whose edits are kept.")
@click.option("--lang", "lang", type=click.Choice(["zh", "en"]), default=None, help="消息语言 / language of messages.")
def design(workbook: Path, output: Path, form_id: str | None, form_version: str | None, edited: Path | None,
           lang: str | None) -> None:
    """把财政局自己的工作簿（在填写处写上标记）变成表单 / turn a marked workbook into a form.

    Markers such as {项目名称}, {/cover/year:integer}, {.明细项目名称} or {金额:number>=0,2位小数}
    in the input cells; every other cell, its look and the page set-up are kept as drawn.
    """
    from .api import design as run
    from .form.design import DesignError
    from .messages import t

    lang = lang or _Ctx.lang
    try:
        made = run(workbook, output, form_id=form_id, version=form_version, schema=edited, lang=lang)
    except (DesignError, OSError) as exc:
        if _Ctx.debug:
            traceback.print_exc()
        problems = getattr(exc, "problems", [str(exc)])
        head = getattr(exc, "head", "")
        raise CliError("\n  ".join([head, *problems] if head else problems)) from exc
    if made.notes:
        click.echo(t("design_notes", lang) + "\n  " + "\n  ".join(made.notes), err=True)
    click.echo(t("design_wrote", lang, schema=made.schema_path, layout=made.layout_path, fields=made.fields,
                 tables=made.tables), err=True)


# -- the collection portal ---------------------------------------------------------------------

@main.command()
@_db_option
@click.option("--data", "data_dir", default="xltemplate-data", show_default=True, type=click.Path(file_okay=False),
              help="本进程的临时文件目录 / this process's scratch folder.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="服务进程数（共用同一数据库）/ server processes sharing the database.")
def serve(db: str | None, data_dir: str, host: str, port: int, workers: int) -> None:
    """启动报表收集平台（网页）/ run the collection portal (web application).

    With no options: embedded, SQLite file xltemplate.db here, one process.  With
    --db postgresql+psycopg://... any number of processes, here or on other machines, share
    that database and nothing else.
    """
    import logging
    import os

    import uvicorn

    from .collect.db import db_url

    store = _store(db)  # a wrong URL fails here, in one sentence; the database is upgraded once
    store.dispose()
    url = db_url(db)
    os.environ["XLTEMPLATE_DB"], os.environ["XLTEMPLATE_DATA"] = url, str(data_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(t("serving", _Ctx.lang, url=f"http://{host}:{port}/", db=url), err=True)
    uvicorn.run("xltemplate.web.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, server_header=False, log_level="warning", timeout_graceful_shutdown=10)


@main.group(name="users", invoke_without_command=True)
@_db_option
@click.pass_context
def users_group(ctx: click.Context, db: str | None) -> None:
    """平台的财政局工作人员账号：列出；add 添加；password 重设密码 / staff accounts: list; add; password."""
    if ctx.invoked_subcommand is not None:
        return
    from .collect import accounts

    lang = _Ctx.lang
    store = _store(db, must_exist=True)
    try:
        found = accounts.users(store)
    finally:
        store.dispose()
    if not found:
        click.echo(t("users_none", lang))
        return
    rows = [[t(k, lang) for k in ("col_user", "col_role", "col_locked")]]
    rows += [[u.name, u.role, _local(until)] for u, until in found]
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
@_db_option
def users_add(name: str, role: str, db: str | None) -> None:
    """添加账号；密码从终端读取（非终端时从标准输入）/ add an account; the password from the terminal or stdin."""
    from .collect import accounts

    lang = _Ctx.lang
    password = _read_password(name, lang)
    store = _store(db)
    try:
        user = accounts.add_user(store, name, password, role, lang)
    except accounts.AccountError as exc:
        _fail(exc)
    finally:
        store.dispose()
    click.echo(t("user_added", lang, name=user.name, role=user.role, url=store.url), err=True)


@users_group.command(name="password")
@click.argument("name")
@_db_option
def users_password(name: str, db: str | None) -> None:
    """重设账号密码并解除锁定；密码从终端读取（非终端时从标准输入）/ a new password (also unlocks)."""
    from .collect import accounts

    lang = _Ctx.lang
    password = _read_password(name, lang)
    store = _store(db, must_exist=True)
    try:
        accounts.set_password(store, name, password, lang)
    except accounts.AccountError as exc:
        _fail(exc)
    finally:
        store.dispose()
    click.echo(t("password_set", lang, name=name, url=store.url), err=True)


if __name__ == "__main__":
    main()
