"""MkDocs hook of the manual: the reference pages are generated from the code at build time.

- ``reference/cli.md`` walks the click command tree that the ``xltemplate`` console script runs
  (found through its entry point, so it follows the commands wherever they are defined);
- ``reference/api.md`` renders the OpenAPI document, from the same function the portal's
  ``/api/openapi.json`` route serves;
- ``reference/figures.md`` renders ``benchmarks/results.json`` and ``benchmarks/portal-results.json``;
- in any page, ``{{ results:import.rate|,.0f }}`` (or ``portal:``) is replaced by that value of the
  benchmark files, formatted; an unknown key fails the build, so prose never carries a stale figure;
- the site stays offline: Material's ``offline`` plugin adds a polyfill from a CDN for search from
  ``file://``; it is replaced by our own (``docs/assets/file-worker.js``).
"""

from __future__ import annotations

import ast
import html
import importlib.metadata
import json
import re
from pathlib import Path
from typing import Any

import click
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results.json"
PORTAL_RESULTS = ROOT / "benchmarks" / "portal-results.json"
PORTAL_SCRIPT = ROOT / "benchmarks" / "portal.py"
GENERATED = {"reference/cli.md", "reference/api.md", "reference/figures.md"}
FILE_WORKER = "assets/file-worker.js"


# -- the site stays offline ----------------------------------------------------------------------

@event_priority(-100)  # after Material's offline plugin has added its CDN polyfill
def on_config(config: Any) -> Any:
    polyfills = [p for p in config.extra.get("polyfills", []) if "://" not in str(p)]
    config.extra["polyfills"] = [*polyfills, FILE_WORKER]
    return config


# -- generated pages -----------------------------------------------------------------------------

def on_files(files: Files, config: Any) -> Files:
    pages = {"reference/cli.md": cli_page(), "reference/api.md": api_page(), "reference/figures.md": figures_page()}
    for path, text in pages.items():
        files.append(File.generated(config, path, content=text))
    return files


_PLACEHOLDER = re.compile(r"\{\{\s*(=[^|}]+|(?:results|portal):[\w.\-]+)\s*(?:\|\s*([^}]*?))?\s*\}\}")
_REFERENCE = re.compile(r"(results|portal):([\w.\-]+)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """``{{ results:KEY|FORMAT }}`` is a value of the benchmark results; ``{{ = EXPR|FORMAT }}`` is
    arithmetic (``+ - * /``, parentheses, numbers) over such values."""
    data = {"results": _load(RESULTS), "portal": _load(PORTAL_RESULTS)}

    def ref(source: str, key: str) -> Any:
        try:
            return lookup(data[source], key)
        except KeyError:
            raise PluginError(f"{page.file.src_path}: {source}:{key} is not in the benchmark results") from None

    def value(m: re.Match[str]) -> str:
        body, spec = m.group(1).strip(), (m.group(2) or "").strip()
        if body.startswith("="):
            found: Any = _arithmetic(_REFERENCE.sub(lambda r: repr(float(ref(r.group(1), r.group(2)))), body[1:]),
                                     page.file.src_path)
        else:
            found = ref(*body.split(":", 1))
        return format(found, spec) if spec else str(found)

    return _PLACEHOLDER.sub(value, markdown)


def _arithmetic(text: str, where: str) -> float:
    """A number from ``+ - * /``, parentheses and numbers: nothing else is evaluated."""
    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            a, b = ev(node.left), ev(node.right)
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(node.op), a / b if b else float("nan"))
        raise PluginError(f"{where}: only + - * / and numbers in a {{{{ = … }}}} figure: {text!r}")

    try:
        return ev(ast.parse(text.strip(), mode="eval"))
    except SyntaxError:
        raise PluginError(f"{where}: not arithmetic: {text!r}") from None


def lookup(data: Any, key: str) -> Any:
    """``import.rate`` → ``data["import"]["rate"]``; KeyError when any step is missing."""
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            raise KeyError(key)
        data = data[part]
    if isinstance(data, dict | list):
        raise KeyError(key)
    return data


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _cell(text: Any) -> str:
    """Text for a Markdown table cell: escaped, one line, no column bars."""
    return html.escape(" ".join(str(text).split())).replace("|", "&#124;")


def _code(text: Any) -> str:
    """Code in a Markdown table cell (raw HTML, so that ``|`` and quotes stay as they are)."""
    return f"<code>{_cell(text)}</code>"


# -- the command line ----------------------------------------------------------------------------

def console_group() -> click.Command:
    """The click command that the ``xltemplate`` console script runs."""
    found = importlib.metadata.entry_points(group="console_scripts", name="xltemplate")
    if not found:
        raise PluginError("no console script named xltemplate: install the package (pip install -e .)")
    command = next(iter(found)).load()
    if not isinstance(command, click.Command):
        raise PluginError(f"the xltemplate console script runs {command!r}, not a click command")
    return command


def walk(command: click.Command, ctx: click.Context) -> list[tuple[click.Command, click.Context]]:
    """The command and every subcommand below it, depth first, each with its context."""
    out = [(command, ctx)]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out += walk(sub, click.Context(sub, info_name=name, parent=ctx))
    return out


def cli_page() -> str:
    root = console_group()
    lines = ["# Command-line reference", "",
             "Generated from the commands themselves (`xltemplate --help` and each command's `--help` say the "
             "same). See [Command line](../cli.md) for what the commands share: forms, databases, keys, "
             "the JSON each prints.", ""]
    commands = walk(root, click.Context(root, info_name="xltemplate"))
    lines += ["| command | what it does |", "|---|---|"]
    for cmd, ctx in commands[1:]:
        lines.append(f"| [`{ctx.command_path}`](#{_anchor(ctx.command_path)}) | {_cell(cmd.get_short_help_str(200))} |")
    lines.append("")
    for cmd, ctx in commands:
        lines += _command(cmd, ctx)
    return "\n".join(lines) + "\n"


def _anchor(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def _command(cmd: click.Command, ctx: click.Context) -> list[str]:
    level = "#" * min(2 + ctx.command_path.count(" ") - 1, 4) if ctx.parent else "##"
    out = [f"{level} `{ctx.command_path}` {{ #{_anchor(ctx.command_path)} }}", "",
           "```text", cmd.get_usage(ctx).strip(), "```", ""]
    if cmd.help:
        out += [html.escape(click.unstyle(_dedent(cmd.help))).replace("\n\n", "\n\n"), ""]
    rows = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        rows.append(f"| {_code(names)} | {_cell(text)} |")
    if rows:
        out += ["| option | meaning |", "|---|---|", *rows, ""]
    return out


def _dedent(text: str) -> str:
    import inspect

    return inspect.cleandoc(text)


# -- the API -------------------------------------------------------------------------------------

def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, as the portal's ``/api/openapi.json`` route makes it."""
    from xltemplate.web import api

    return api.document()


def api_page() -> str:
    doc = openapi_document()
    info = doc.get("info", {})
    lines = ["# API reference", "",
             f"Generated from the OpenAPI {doc.get('openapi', '')} document the portal serves at "
             f"`GET /api/openapi.json` ({_cell(info.get('title', ''))}, version {_cell(info.get('version', ''))}). "
             "See [The collection portal](../portal.md#the-api) for tokens and examples.", ""]
    schemes = doc.get("components", {}).get("securitySchemes", {})
    if schemes:
        lines += ["Every call is authorised: " + ", ".join(
            f"{_cell(s.get('type', ''))} {_cell(s.get('scheme', ''))}".strip() for s in schemes.values())
            + " (`Authorization: Bearer <token>`).", ""]
    lines += ["| method | path | summary |", "|---|---|---|"]
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method in {"get", "put", "post", "delete", "patch"}:
                lines.append(f"| {method.upper()} | [{_code(path)}](#{_anchor(method + ' ' + path)}) | "
                             f"{_cell(op.get('summary', ''))} |")
    lines.append("")
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in {"get", "put", "post", "delete", "patch"}:
                continue
            about = _cell(op.get("summary", "")) + (" — " + _cell(op["description"]) if op.get("description") else "")
            lines += [f"## {method.upper()} `{path}` {{ #{_anchor(method + ' ' + path)} }}", "", about, ""]
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            if params:
                lines += ["| parameter | in | required | schema |", "|---|---|---|---|"]
                for p in params:
                    lines.append(f"| {_code(p.get('name'))} | {_cell(p.get('in'))} | "
                                 f"{'yes' if p.get('required') else 'no'} | "
                                 f"{_code(json.dumps(p.get('schema', {}), ensure_ascii=False))} |")
                lines.append("")
            if op.get("requestBody"):
                lines += ["Request body:", "", "```json",
                          json.dumps(op["requestBody"], ensure_ascii=False, indent=2), "```", ""]
            lines += ["| answer | meaning |", "|---|---|"]
            for code, resp in op.get("responses", {}).items():
                lines.append(f"| {_cell(code)} | {_cell(resp.get('description', ''))} |")
            lines.append("")
            for code, resp in op.get("responses", {}).items():
                schema = resp.get("content", {}).get("application/json", {}).get("schema")
                if schema and code.startswith("2"):
                    lines += [f"??? note \"{code}: {_cell(resp.get('description', ''))}\"", "",
                              "    ```json", *("    " + x for x in json.dumps(
                                  schema, ensure_ascii=False, indent=2).splitlines()), "    ```", ""]
    schemas = doc.get("components", {}).get("schemas", {})
    if schemas:
        lines += ["## Schemas", ""]
        for name, schema in schemas.items():
            lines += [f"### {name}", "", "```json", json.dumps(schema, ensure_ascii=False, indent=2), "```", ""]
    return "\n".join(lines) + "\n"


# -- the figures ---------------------------------------------------------------------------------

FIGURE_LABELS = {
    "import_rate": "import end to end: read, coerce, validate, store in SQLite (`xltemplate import DIR`), returns/s",
    "import_vs_baseline": "import vs the naive baseline (openpyxl + every input cell + jsonschema), both in "
                          "the same number of processes, ×",
    "import_vs_baseline_per_core": "the same per core (CPU per return, whole process tree), ×",
    "distribute_rate": "distribute, API, templates/s",
    "distribute_cli_rate": "distribute, CLI (also records the round, its roster and every template), templates/s",
    "peak_rss_mb": "peak RSS of the whole import process tree, MB",
    "help_s": "`xltemplate --help`, median, s",
}
PHASE_LABELS = {
    "sha256": "sha256 of the bytes (duplicate detection)",
    "guard": "guard: kind, limits, inflating the parts the reader reads, active content",
    "open": "open: `workbook.xml` (names, sheets), document properties, each sheet's cells indexed, formulas checked",
    "cells": "read_cells: the form's cells by its read plan",
    "structure": "structure: every label where the names put it",
    "extract": "extract: coercion into the instance",
    "cell_issues": "cell issues (formulas, hidden cells, control characters) and integrity",
    "validate": "validate (jsonschema-rs + our keywords)",
    "handover": "hand-over: a worker's results pickled and unpickled between processes, 32 at a time",
    "store": "store: `Store.record_many`, a batch per SQLite transaction, as `import` does",
}
PORTAL_FIGURES = [  # key in portal-results.json, label, key in benchmarks/portal.py's TARGETS, higher is better
    ("errors", "errors", None, False),
    ("lost", "lost uploads", None, False),
    ("p50_ms", "upload answered, p50, ms", None, False),
    ("p95_ms", "upload answered, p95, ms", "p95_ms", False),
    ("p99_ms", "upload answered, p99, ms", None, False),
    ("rate", "uploads per second", "rate", True),
    ("server_cpu_ms", "server CPU per upload, ms", "server_cpu_ms", False),
    ("statements_new", "SQL statements of an upload: a new return", None, False),
    ("statements_correction", "SQL statements of an upload: a corrected copy", None, False),
    ("workers", "server processes (`serve`'s default: one per CPU)", None, True),
    ("engine_rate", "the engine alone (`batch.run`, no HTTP, the same files), returns/s", None, True),
    ("dashboard_ms", "dashboard, median, ms", "dashboard_ms", False),
    ("dashboard_p95_ms", "dashboard, p95, ms", None, False),
    ("dashboard_naive_ms", "dashboard, naive baseline (a query per department), ms", None, False),
    ("rss_max_mb", "server RSS after the uploads, largest process, MB", "rss_mb", False),
    ("rss_total_mb", "server RSS after the uploads, all processes, MB", None, False),
]


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if isinstance(value, float):
        if value == 0 or abs(value) >= 100:
            return f"{value:,.1f}" if abs(value) < 10_000 else f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return _cell(value)


def _status(value: Any, target: Any, higher: bool) -> str:
    if not isinstance(value, int | float) or not isinstance(target, int | float):
        return ""
    met = value >= target if higher else value <= target
    return "met" if met else "**missed**"


def portal_targets() -> dict[str, float]:
    """``TARGETS`` of ``benchmarks/portal.py``, read as a literal (the script is not run)."""
    try:
        tree = ast.parse(PORTAL_SCRIPT.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "TARGETS" for t in node.targets):
            try:
                return dict(ast.literal_eval(node.value))
            except ValueError:
                return {}
    return {}


def _flat(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out += _flat(value, f"{prefix}.{key}" if prefix else str(key))
    elif not isinstance(data, list):
        out.append((prefix, data))
    return out


def figures_page() -> str:
    res, portal = _load(RESULTS), _load(PORTAL_RESULTS)
    meta = res.get("meta", {})
    lines = ["# Figures", "",
             "Generated from `benchmarks/results.json` (written by `benchmarks/bench.py`) and "
             "`benchmarks/portal-results.json` (written by `benchmarks/portal.py`). No figure here is typed by "
             "hand: run a benchmark and build the manual again. [Performance](../performance.md) says how they "
             "are measured and what limits them.", ""]
    if meta:
        lines += [f"The import and distribute run: {_cell(meta.get('when', '?'))}, "
                  f"{_cell(meta.get('cpus', '?'))} CPUs, "
                  f"Python {_cell(meta.get('python', '?'))}, {_num(meta.get('n'))} distinct returns "
                  f"(baseline on {_num(meta.get('baseline_n'))}); other processes' load at its start: "
                  f"{_num(meta.get('other_cores_at_start'))} core.", ""]
    figures = res.get("figures", {})
    if figures:
        lines += ["## Import and distribute", "", "| figure | value | target | |", "|---|---|---|---|"]
        for key, fig in figures.items():
            higher = fig.get("higher_is_better", True)
            target = fig.get("target")
            sign = "≥" if higher else "≤"
            lines.append(f"| {FIGURE_LABELS.get(key, _cell(key))} | **{_num(fig.get('value'))}** | "
                         f"{sign} {_num(target) if target is not None else ''} | "
                         f"{_status(fig.get('value'), target, higher)} |")
        lines.append("")
    cpu = res.get("breakdown", {}).get("cpu_ms", {})
    if cpu:
        total = sum(v for v in cpu.values() if isinstance(v, int | float)) or 1.0
        lines += ["## Where an import spends its time", "",
                  f"Per file, single-threaded, over {_num(res['breakdown'].get('n'))} distinct returns "
                  "(`bench.py`'s breakdown):", "", "| phase | CPU ms | share |", "|---|---|---|"]
        for key, value in cpu.items():
            lines.append(f"| {PHASE_LABELS.get(key, _cell(key))} | {_num(value)} | {value / total:.0%} |")
        lines += [f"| total | {_num(total)} | |", ""]
    if portal:
        targets = portal_targets()
        lines += ["## The portal under load", "",
                  f"{_num(portal.get('uploads'))} uploads by {_num(portal.get('clerks'))} clerks at once to "
                  f"{_num(portal.get('departments'))} departments, `serve --workers {_num(portal.get('workers'))}` "
                  f"on {_cell(portal.get('db', '?'))}, the load generator on the same machine.", "",
                  "| figure | value | target | |", "|---|---|---|---|"]
        for key, label, tkey, higher in PORTAL_FIGURES:
            if key not in portal:
                continue
            target = targets.get(tkey) if tkey else (0 if key in {"errors", "lost"} else None)
            sign = ("≥ " if higher else "≤ ") if target is not None else ""
            lines.append(f"| {label} | **{_num(portal[key])}** | {sign}{_num(target) if target is not None else ''} "
                         f"| {_status(portal[key], target, higher)} |")
        lines.append("")
    for title, data in (("Every value of `benchmarks/results.json`", res),
                        ("Every value of `benchmarks/portal-results.json`", portal)):
        flat = [(k, v) for k, v in _flat(data) if not k.startswith("returns_check.sample")]
        if flat:
            lines += [f"??? info \"{title}\"", "", "    | key | value |", "    |---|---|"]
            lines += [f"    | {_code(k)} | {_num(v)} |" for k, v in flat]
            lines.append("")
    return "\n".join(lines) + "\n"
