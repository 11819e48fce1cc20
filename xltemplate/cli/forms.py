"""Commands about a form itself: list, show, generate and fill templates, design one from a
bureau's own workbook."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..messages import t
from .common import CliError, Headed, key_option, said, state


@click.command()
def forms() -> None:
    """列出内置表单 / list the bundled forms."""
    from ..api import forms as list_forms

    for f in list_forms():
        click.echo(f"{f['id']}\t{f['version']}\t{f['title']}")


@click.command()
@click.argument("form")
def schema(form: str) -> None:
    """输出表单的 JSON Schema / print a form's JSON Schema."""
    from ..api import load_form

    click.echo(json.dumps(load_form(form).schema, ensure_ascii=False, indent=2))


@click.command()
@click.argument("form")
@click.option("--json", "as_json", is_flag=True, help="JSON 输出 / output JSON.")
def fields(form: str, as_json: bool) -> None:
    """字段与单元格对照表 / the field map: pointer, label, sheet, cell, defined name, type."""
    from ..api import field_map

    rows = field_map(form)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        click.echo(f"{r['sheet']}!{r['range']}\t{r['name']}\t{r['type']}\t{r['pointer']}\t{r['label']}")


def _write_output(out: Path, data: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    click.echo(t("wrote", state().lang, path=out), err=True)


@click.command()
@click.argument("form")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--submission-id", default="", help="写入元数据的报送编号 / submission id for the metadata.")
@click.option("--password", default=None, envvar="XLTEMPLATE_SHEET_PASSWORD",
              help="工作表保护密码（默认无密码）/ sheet protection password (default: none).")
@key_option
def generate(form: str, output: Path, submission_id: str, password: str | None, key: str | None) -> None:
    """生成空白模板 / generate the blank template."""
    from ..api import generate as gen

    _write_output(output, gen(form, submission_id=submission_id, password=password, key=key))


@click.command()
@click.argument("form")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--submission-id", default="")
@click.option("--password", default=None, envvar="XLTEMPLATE_SHEET_PASSWORD")
@key_option
@click.option("--as", "template", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="按这份下发的模板填写（报送编号、部门、年度取自它）/ fill as this issued template.")
def fill(form: str, data: Path, output: Path, submission_id: str, password: str | None, key: str | None,
         template: Path | None) -> None:
    """用 JSON 数据预填模板 / prefill the template from a JSON instance."""
    from ..api import fill as do_fill
    from ..xlsx.reader import ReadError
    from ..xlsx.writer import FillError

    lang = state().lang
    try:
        content = do_fill(form, data, submission_id=submission_id, password=password, key=key, template=template)
    except ReadError as exc:
        raise CliError(f"{template}：{said(exc, lang)}") from exc
    except FillError as exc:
        raise Headed(t("fill_does_not_fit", lang, path=data), exc) from exc
    _write_output(output, content)


@click.command()
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
    from ..api import design as run

    st = state()
    if lang:
        st.lang = lang
    made = run(workbook, output, form_id=form_id, version=form_version, schema=edited, lang=st.lang)
    if made.notes:
        click.echo(t("design_notes", st.lang) + "\n  " + "\n  ".join(made.notes), err=True)
    if made.titles:
        click.echo(t("design_titles", st.lang) + "\n  " + "\n  ".join(made.titles), err=True)
    click.echo(t("design_wrote", st.lang, schema=made.schema_path, layout=made.layout_path, fields=made.fields,
                 tables=made.tables), err=True)


COMMANDS = [forms, schema, fields, generate, fill, design]
