"""``xltemplate`` command line: a thin shell over :mod:`xltemplate.api`.

Errors reach the user as one plain sentence (Chinese by default, ``--lang en``) and a non-zero
exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from . import __version__


class _Ctx:
    debug = False
    lang = "zh"


def _fail(exc: BaseException) -> None:
    if _Ctx.debug:
        traceback.print_exc()
    raise click.ClickException(str(exc)) from exc


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
    click.echo(f"已生成 {out}" if _Ctx.lang == "zh" else f"wrote {out}", err=True)


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
def fill(form: str, data: Path, output: Path, submission_id: str, password: str | None, key: str | None) -> None:
    """用 JSON 数据预填模板 / prefill the template from a JSON instance."""
    from .api import fill as do_fill
    from .xlsx.writer import FillError

    try:
        _write_output(output, do_fill(form, data, submission_id=submission_id, password=password, key=key))
    except FillError as exc:
        head = f"{data}：数据无法放入模板：" if _Ctx.lang == "zh" else f"{data}: the data does not fit the template:"
        raise click.ClickException(head + "\n  " + "\n  ".join(exc.problems)) from exc
    except _form_errors() as exc:
        _fail(exc)


@main.command()
@click.argument("form")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="部门名单 CSV：code、name（部门代码、部门名称），可选 contact 及任意字段列 / roster CSV.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="输出目录 / output folder.")
@click.option("--password", default=None, envvar="XLTEMPLATE_SHEET_PASSWORD")
@click.option("--key", default=None, envvar="XLTEMPLATE_KEY",
              help="签名密钥（财政局保管；也可用环境变量 XLTEMPLATE_KEY）/ signing key (or XLTEMPLATE_KEY).")
@click.option("--progress/--no-progress", default=None)
def distribute(form: str, roster: Path, output: Path, password: str | None, key: str | None,
               progress: bool | None) -> None:
    """按部门名单批量生成预填模板 / one prefilled template per roster row, with a manifest."""
    from tqdm import tqdm

    from .api import load_form
    from .collect.distribute import RosterError, read_roster
    from .collect.distribute import distribute as run

    lang = _Ctx.lang
    try:
        model = load_form(form)
        rows = read_roster(roster)
    except (*_form_errors(), RosterError) as exc:
        _fail(exc)
    bar = tqdm(total=len(rows), desc="生成" if lang == "zh" else "write", unit="份" if lang == "zh" else "file",
               disable=(not sys.stderr.isatty()) if progress is None else not progress, file=sys.stderr)
    try:
        issued = run(model, rows, output, password=password, key=key, source=str(roster), progress=bar.update)
    except RosterError as exc:
        bar.close()
        head = "名单有问题，未生成任何文件：" if lang == "zh" else "roster problems, nothing written:"
        raise click.ClickException(head + "\n  " + "\n  ".join(exc.problems)) from exc
    bar.close()
    click.echo((f"已生成 {len(issued)} 份模板到 {output}，清单：{output / 'manifest.csv'}" if lang == "zh" else
                f"wrote {len(issued)} templates to {output}; manifest: {output / 'manifest.csv'}"), err=True)


_STATUS = {"zh": {"valid": "通过", "invalid": "有错误", "unreadable": "无法读取"},
           "en": {"valid": "valid", "invalid": "invalid", "unreadable": "unreadable"}}


def _describe(result: Any, lang: str) -> str:
    lines = [f"{result.file}: {_STATUS[lang][result.status]}"]
    for e in result.errors:
        where = f"{e.sheet}!{e.cell} " if e.cell else ""
        label = f"{e.label}：" if e.label else ""
        lines.append(f"  {where}{label}{e.message}")
    return "\n".join(lines)


_LABELS = {"zh": {"valid": "通过", "invalid": "有错误", "unreadable": "无法读取", "duplicate": "重复",
                  "superseded": "被替代", "department": "部门", "total": "合计"},
           "en": {"valid": "valid", "invalid": "invalid", "unreadable": "unreadable", "duplicate": "duplicate",
                  "superseded": "superseded", "department": "department", "total": "total"}}


def _width(text: str) -> int:
    from .xlsx.writer import display_width

    return display_width(text)


def summary_table(summary: Any, lang: str) -> str:
    """The per-department table printed at the end of a batch (CJK-aware column widths)."""
    labels = _LABELS[lang]
    keys = summary.KEYS
    rows = [[labels["department"], *(labels[k] for k in keys)]]
    for dept in sorted(summary.rows):
        rows.append([dept, *(str(summary.rows[dept][k]) for k in keys)])
    total = summary.total()
    rows.append([labels["total"], *(str(total[k]) for k in keys)])
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [r[0] + " " * (widths[0] - _width(r[0]))] + [" " * (widths[i] - _width(c)) + c
                                                           for i, c in enumerate(r[1:], start=1)]
        lines.append("  ".join(cells))
        if n == 0 or n == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


@main.command(name="import")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--form", default=None, help="只接受这个表单 / accept only this form (id or schema path).")
@click.option("--db", "db", default=None, metavar="URL",
              help="结果数据库（默认当前目录下的 SQLite 文件 xltemplate.db；PostgreSQL 用 postgresql+psycopg://...）"
                   " / database URL (default: SQLite file xltemplate.db).")
@click.option("--no-db", is_flag=True, help="不写数据库 / do not store results.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="每个文件一行 JSON 的结果文件（- 为标准输出）/ JSON lines output ('-' for stdout).")
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="为每份有错误的报表生成批注副本，放到此目录 / write annotated copies of invalid returns here.")
@click.option("-j", "--jobs", type=int, default=None, help="并行进程数（默认 CPU 核数）/ worker processes.")
@click.option("--progress/--no-progress", default=None, help="进度条（默认：终端上显示）/ progress bar.")
@click.option("-q", "--quiet", is_flag=True, help="只输出汇总 / print only the summary.")
@click.option("--key", default=None, envvar="XLTEMPLATE_KEY",
              help="校验模板签名的密钥（财政局保管；也可用环境变量 XLTEMPLATE_KEY）/ signing key (or XLTEMPLATE_KEY).")
def import_(inputs: tuple[Path, ...], form: str | None, db: str | None, no_db: bool, json_out: Path | None,
            annotate_dir: Path | None, jobs: int | None, progress: bool | None, quiet: bool, key: str | None) -> None:
    """导入并检查填好的工作簿（文件、文件夹、zip 压缩包）/ import and check returned workbooks.

    Files, folders (recursively) and .zip archives; in parallel; each file stored in its own
    transaction.  Exit 0 when every file is valid (duplicates included), 1 otherwise.
    """
    from tqdm import tqdm

    from .collect import batch

    lang = _Ctx.lang
    if form:
        from .api import load_form

        try:
            load_form(form)
        except _form_errors() as exc:
            _fail(exc)
    store = None
    if not no_db:
        from .collect.store import Store, db_url

        try:
            store = Store(db)
        except Exception as exc:  # SQLAlchemy's errors: bad URL, server down, no permission
            if _Ctx.debug:
                traceback.print_exc()
            raise click.ClickException(
                f"无法打开数据库 {db_url(db)}：{exc}" if lang == "zh" else f"cannot open database {db_url(db)}: {exc}"
            ) from exc
    sink = None
    if json_out is not None:
        sink = sys.stdout if str(json_out) == "-" else json_out.open("w", encoding="utf-8")
    bar = tqdm(total=0, desc="导入" if lang == "zh" else "import", unit="个文件" if lang == "zh" else "file",
               disable=(not sys.stderr.isatty()) if progress is None else not progress, file=sys.stderr,
               dynamic_ncols=True)

    def on_done(done: Any, outcome: Any) -> None:
        result = done.result
        if sink is not None:
            line = result.as_dict()
            line["sha256"] = done.sha256
            line["department"] = done.department
            if outcome is not None:
                line["stored"] = "duplicate" if outcome.status == "duplicate" else \
                    ("superseded" if not outcome.current else "current")
            if done.annotated:
                line["annotated"] = done.annotated
            sink.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        if not quiet and result.status != "valid":
            tqdm.write(_describe(result, lang), file=sys.stderr)

    try:
        summary = batch.run([str(p) for p in inputs], store=store, form=form, lang=lang,
                            annotate=annotate_dir, jobs=jobs, on_done=on_done, progress=bar, key=key)
    finally:
        bar.close()
        if sink is not None and sink is not sys.stdout:
            sink.close()
        if store is not None:
            store.dispose()
    click.echo(summary_table(summary, lang), err=True)
    if store is not None:
        from .collect.store import db_url

        click.echo(("结果已保存到 " if lang == "zh" else "results stored in ") + db_url(db), err=True)
    sys.exit(0 if summary.ok else 1)


@main.command()
@click.option("--db", "db", default=None, metavar="URL",
              help="结果数据库（默认当前目录下的 SQLite 文件 xltemplate.db；PostgreSQL 用 postgresql+psycopg://...）"
                   " / database URL (default: SQLite file xltemplate.db).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="报表文件：.xlsx、.csv 或 .jsonl / report file: .xlsx, .csv or .jsonl.")
@click.option("--form", default=None,
              help="表单 id 或 schema 路径（数据库中只有一种表单时可省略）/ form id or schema path "
                   "(optional when the database holds one form).")
def report(db: str | None, output: Path, form: str | None) -> None:
    """汇总报表：通过的报送、明细表和错误清单 / report: current valid returns, their tables, the errors.

    .xlsx: sheets 汇总, one per repeating table, 错误清单; .csv: one file per sheet
    (OUT, and <OUT stem>.<sheet>.csv beside it); .jsonl: one line per current valid return.
    """
    import sqlalchemy as sa

    from .collect.report import ReportError, write_report
    from .collect.store import Store, db_url

    lang = _Ctx.lang
    url = db_url(db)
    try:
        parsed = sa.make_url(url)
        missing = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).is_file()
        store = None if missing else Store(db)
    except Exception as exc:  # SQLAlchemy's errors: bad URL, server down, no permission
        if _Ctx.debug:
            traceback.print_exc()
        raise click.ClickException(
            f"无法打开数据库 {url}：{exc}" if lang == "zh" else f"cannot open database {url}: {exc}") from exc
    if store is None:  # a report never creates an empty SQLite file for a mistyped path
        raise click.ClickException(f"找不到数据库文件 {parsed.database}" if lang == "zh"
                                   else f"no database file {parsed.database}")
    try:
        counts = write_report(store, output, form=form, lang=lang)
    except (ReportError, *_form_errors()) as exc:
        _fail(exc)
    except sa.exc.SQLAlchemyError as exc:
        if _Ctx.debug:
            traceback.print_exc()
        raise click.ClickException(
            f"读取数据库 {url} 出错：{exc}" if lang == "zh" else f"cannot read database {url}: {exc}") from exc
    finally:
        store.dispose()
    for name, n in counts.items():
        click.echo(f"{name}\t{n}", err=True)
    click.echo(f"已生成 {output}" if lang == "zh" else f"wrote {output}", err=True)


if __name__ == "__main__":
    main()
