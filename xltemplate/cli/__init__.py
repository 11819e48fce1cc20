"""``xltemplate`` command line: a thin click shell over :mod:`xltemplate.api` and the domain
modules of :mod:`xltemplate.collect`, one module per group of commands.

Errors reach the user as one plain sentence (Chinese by default, ``--lang en``) and a non-zero
exit; ``--debug`` shows the traceback instead.  Which error becomes which sentence is decided in
one place, :func:`xltemplate.cli.common.said`; commands raise domain errors and never word them.

Imports of the package's heavier parts happen inside the commands: ``xltemplate --help`` and a
mistyped option answer at once (start-up time; measured by ``benchmarks``).
"""

from __future__ import annotations

import os

import click

from .. import __version__
from . import collect, forms, mail, portal, review, rounds
from .common import DomainGroup, State


@click.group(cls=DomainGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xltemplate")
@click.option("--debug", is_flag=True, help="出错时显示完整的 Python 调用栈 / show tracebacks.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="消息语言 / language of messages.")
@click.pass_context
def main(ctx: click.Context, debug: bool, lang: str) -> None:
    """xltemplate：表单定义一次，生成锁定、带校验的 Excel 模板，并导入检查填好的副本。

    Forms defined once as JSON Schema -> locked, validated Excel templates -> returned copies
    imported and checked.  FORM is a bundled form id (see `xltemplate forms`) or a schema path.
    """
    ctx.obj = State(lang=lang, debug=debug)
    if debug:  # let the importer's unexpected errors through, with their tracebacks
        os.environ["XLTEMPLATE_DEBUG"] = "1"


for _module in (forms, collect, rounds, review, portal, mail):
    for _command in _module.COMMANDS:
        main.add_command(_command)

__all__ = ["main"]
