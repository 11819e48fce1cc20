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
    from .forms import FormNotFound
    from .layout import LayoutError
    from .schema import SchemaError
    from .writer import FillError

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
def generate(form: str, output: Path, submission_id: str, password: str | None) -> None:
    """生成空白模板 / generate the blank template."""
    from .api import generate as gen

    try:
        _write_output(output, gen(form, submission_id=submission_id, password=password))
    except _form_errors() as exc:
        _fail(exc)


@main.command()
@click.argument("form")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--submission-id", default="")
@click.option("--password", default=None, envvar="XLTEMPLATE_SHEET_PASSWORD")
def fill(form: str, data: Path, output: Path, submission_id: str, password: str | None) -> None:
    """用 JSON 数据预填模板 / prefill the template from a JSON instance."""
    from .api import fill as do_fill
    from .writer import FillError

    try:
        _write_output(output, do_fill(form, data, submission_id=submission_id, password=password))
    except FillError as exc:
        head = f"{data}：数据无法放入模板：" if _Ctx.lang == "zh" else f"{data}: the data does not fit the template:"
        raise click.ClickException(head + "\n  " + "\n  ".join(exc.problems)) from exc
    except _form_errors() as exc:
        _fail(exc)


_STATUS = {"zh": {"valid": "通过", "invalid": "有错误", "unreadable": "无法读取"},
           "en": {"valid": "valid", "invalid": "invalid", "unreadable": "unreadable"}}


def _describe(result: Any, lang: str) -> str:
    lines = [f"{result.file}: {_STATUS[lang][result.status]}"]
    for e in result.errors:
        where = f"{e.sheet}!{e.cell} " if e.cell else ""
        label = f"{e.label}：" if e.label else ""
        lines.append(f"  {where}{label}{e.message}")
    return "\n".join(lines)


@main.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--form", default=None, help="只接受这个表单 / accept only this form (id or schema path).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="每个文件一行 JSON 的结果文件（- 为标准输出）/ JSON lines output ('-' for stdout).")
@click.option("-q", "--quiet", is_flag=True, help="只输出汇总 / print only the summary.")
def import_(files: tuple[Path, ...], form: str | None, json_out: Path | None, quiet: bool) -> None:
    """导入并检查填好的工作簿 / import and check returned workbooks.

    Exit 0 when every file is valid, 1 when any is invalid or unreadable.
    """
    from .api import import_workbook, load_form

    lang = _Ctx.lang
    expected = None
    if form:
        try:
            expected = load_form(form)
        except _form_errors() as exc:
            _fail(exc)
    counts = {"valid": 0, "invalid": 0, "unreadable": 0}
    sink = None
    if json_out is not None:
        sink = sys.stdout if str(json_out) == "-" else json_out.open("w", encoding="utf-8")
    try:
        for path in files:
            result = import_workbook(path, expected, lang)
            counts[result.status] += 1
            if sink is not None:
                sink.write(json.dumps(result.as_dict(), ensure_ascii=False, default=str) + "\n")
            if not quiet:
                click.echo(_describe(result, lang), err=True)
    finally:
        if sink is not None and sink is not sys.stdout:
            sink.close()
    summary = ("合计 {n} 个文件：通过 {valid}，有错误 {invalid}，无法读取 {unreadable}" if lang == "zh" else
               "{n} files: {valid} valid, {invalid} invalid, {unreadable} unreadable")
    click.echo(summary.format(n=len(files), **counts), err=True)
    sys.exit(0 if counts["valid"] == len(files) else 1)


if __name__ == "__main__":
    main()
