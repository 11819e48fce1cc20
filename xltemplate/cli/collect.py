"""Commands of a collection's flow: distribute templates, import returns, write the 汇总."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..messages import t
from .common import (
    CliError,
    Headed,
    actor,
    db_option,
    key_option,
    open_store,
    parse_date,
    progress_bar,
    state,
    table,
    verify_key_option,
)


@click.command()
@click.argument("form")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="部门名单 CSV：code、name（部门代码、部门名称），可选 contact、项目名称及任意字段列 / roster CSV.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="输出目录 / output folder.")
@db_option
@click.option("--no-db", is_flag=True, help="不记录收集轮次 / do not record a round.")
@click.option("--round", "round_name", default=None, help="轮次名称（默认：年度 + 表单名称）/ round name.")
@click.option("--year", type=click.IntRange(1990, 2100), default=None, help="预算年度，写入模板 / budget year.")
@click.option("--deadline", default=None, metavar="YYYY-MM-DD", help="报送截止日期 / deadline.")
@click.option("--stages", default=None, metavar="初审,复审",
              help="本轮的审核环节，逗号分隔（默认一个环节：审核）/ the round's review stages, comma-separated "
                   "(default one: 审核).")
@click.option("--carry-from", default=None, metavar="ROUND",
              help="为上一轮通过的延续项目各生成一份预填模板 / carry continuing projects forward from ROUND.")
@click.option("--password", default=None, envvar="XLTEMPLATE_SHEET_PASSWORD")
@key_option
@click.option("--progress/--no-progress", default=None)
@click.option("--base-url", default=None, metavar="URL",
              help="平台地址，manifest.csv 的 link 列写成完整链接（默认：数据库中“平台设置”的地址）/ "
                   "the portal's address, for absolute links (default: the one set for the portal).")
def distribute(form: str, roster: Path, output: Path, db: str | None, no_db: bool, round_name: str | None,
               year: int | None, deadline: str | None, carry_from: str | None, password: str | None,
               key: str | None, progress: bool | None, base_url: str | None, stages: str | None) -> None:
    """按名单生成预填模板并记录收集轮次 / one prefilled template per roster line; records the round.

    The round (roster, templates issued, year, deadline) is recorded in the database, so that
    `xltemplate status` shows who has not returned.  A roster with a 项目名称 column lists
    projects: one template per project; a column 归口科室 (or office) assigns each department to
    the 科室 that reviews its returns.
    """
    from ..api import load_form
    from ..collect.distribute import RosterError, read_roster
    from ..collect.distribute import distribute as run
    from ..collect.rounds import rounds

    lang = state().lang
    when = parse_date(deadline)
    if no_db and (round_name or carry_from or stages):
        raise CliError(t("round_needs_db", lang, option="--round/--carry-from/--stages"))
    model = load_form(form)
    rows = read_roster(roster, lang)
    store = None if no_db else open_store(db)
    if store is not None and base_url is None:
        from ..collect.settings import base_url as portal_address

        base_url = portal_address(store)  # the links point where the portal's do
    bar = progress_bar(len(rows), "bar_write", "bar_write_unit", progress)
    try:
        issued = run(model, rows, output, password=password, key=key, source=str(roster), progress=bar.update,
                     store=store, round_name=round_name, year=year, deadline=when, carry_from=carry_from,
                     created_by=actor(), lang=lang, base_url=base_url, stages=stages)
        bar.close()
        click.echo(t("distributed", lang, n=len(issued), path=output, manifest=output / "manifest.csv"), err=True)
        if store is not None:
            newest = rounds(store)[0]
            click.echo(t("round_recorded", lang, name=newest.name, n=len({i.code for i in issued}),
                         templates=len(issued), url=store.url), err=True)
            click.echo(t("link_column_note", lang), err=True)
    except RosterError as exc:
        bar.close()
        raise Headed(t("roster_problems", lang), exc) from exc
    finally:
        if store is not None:
            store.dispose()


def _describe(result: Any, lang: str) -> str:
    lines = [f"{result.file}: {t('status_' + result.status, lang)}"]
    for e in result.errors:
        where = f"{e.sheet}!{e.cell} " if e.cell else ""
        label = f"{e.label}：" if e.label else ""
        lines.append(f"  {where}{label}{e.message}")
    for w in result.warnings:
        where = f"{w.sheet}!{w.cell} " if w.cell else ""
        lines.append(t("warning_line", lang, where=where, label=f"{w.label}：" if w.label else "", message=w.message))
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


@click.command(name="import")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--form", default=None, help="只接受这个表单 / accept only this form (id or schema path).")
@db_option
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
@verify_key_option
def import_(inputs: tuple[Path, ...], form: str | None, db: str | None, no_db: bool, round_name: str | None,
            json_out: Path | None, annotate_dir: Path | None, jobs: int | None, progress: bool | None, quiet: bool,
            key: str | None) -> None:
    """导入并检查填好的工作簿（文件、文件夹、zip 压缩包）/ import and check returned workbooks.

    Files, folders (recursively) and .zip archives; in parallel; stored several files per
    transaction, each return in its round.  Exit 0 when every file is valid (duplicates
    included), 1 otherwise.
    """
    from tqdm import tqdm

    from ..api import load_form
    from ..collect import batch, returns, shapes

    lang = state().lang
    if no_db and round_name:
        raise CliError(t("round_needs_db", lang, option="--round"))
    if form:
        load_form(form)
    store = None if no_db else open_store(db)
    sink = None
    if json_out is not None:
        sink = sys.stdout if str(json_out) == "-" else json_out.open("w", encoding="utf-8")
    bar = progress_bar(0, "bar_import", "bar_import_unit", progress, dynamic_ncols=True)

    def on_done(done: Any, outcome: Any) -> None:
        result = done.result
        if sink is not None:
            line = returns.receipt_of(result, outcome, identity=done.identity, notes=done.notes, sha256=done.sha256,
                                      annotated=done.annotated)
            sink.write(shapes.encode(line).decode() + "\n")
        if not quiet and (result.status != "valid" or done.notes or result.warnings):
            text = _describe(result, lang)
            notes = [t("note_line", lang, message=n["message"]) for n in done.notes]
            tqdm.write("\n".join([text, *notes]), file=sys.stderr)

    try:
        summary = batch.run([str(p) for p in inputs], store=store, form=form, lang=lang,
                            annotate=annotate_dir, jobs=jobs, on_done=on_done, progress=bar, key=key,
                            round_name=round_name)
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


@click.command()
@db_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="报表文件：.xlsx、.csv 或 .jsonl / report file: .xlsx, .csv or .jsonl.")
@click.option("--form", default=None,
              help="表单 id 或 schema 路径（数据库中只有一种表单时可省略）/ form id or schema path "
                   "(optional when the database holds one form).")
@click.option("--round", "round_name", default=None,
              help="收集轮次（默认：该表单唯一或最新的进行中轮次）/ the round (default: the open one).")
@click.option("--approved-only", is_flag=True,
              help="只汇总审核通过的报送（各表名注明“审核通过”）/ only the approved returns (the sheets say so).")
def report(db: str | None, output: Path, form: str | None, round_name: str | None, approved_only: bool) -> None:
    """汇总报表：检查无误的报送及其审核状态和评级、明细表、错误清单、报送情况 / report: returns that pass the
    check with their review state and grade, tables, errors, status.

    .xlsx: sheets 汇总, one per repeating table, 错误清单, and for a round 报送情况 and 未报送;
    .csv: one file per sheet (OUT, and <OUT stem>.<sheet>.csv beside it); .jsonl: one line per
    current return that passed the check.  --approved-only: the approved returns alone.
    """
    from ..collect.report import write_report

    lang = state().lang
    store = open_store(db, must_exist=True)
    try:
        counts = write_report(store, output, form=form, lang=lang, round_name=round_name, approved_only=approved_only)
    finally:
        store.dispose()
    for name, n in counts.items():
        click.echo(f"{name}\t{n}", err=True)
    click.echo(t("wrote", lang, path=output), err=True)


COMMANDS = [distribute, import_, report]
