"""The manual: ``mkdocs build --strict`` succeeds, and what it generates holds what it must.

- the CLI page has every command of the click tree the ``xltemplate`` console script runs, with
  every option;
- the API page has every path, method and parameter of the OpenAPI document the portal serves;
- the figures page and the prose carry the figures of ``benchmarks/*.json``;
- nothing is loaded from the internet (scripts, styles, fonts), and the search finds Chinese words
  in Chromium, from the disk (``file://``) and over HTTP;
- the README is one screen whose second command installs the Debian packages ``.ci/run`` installs;
- the manual's backup commands (SQLite's online backup, pg_dump and pg_restore) make copies the
  commands read.
"""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import importlib.metadata
import json
import os
import re
import shlex
import socketserver
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("manual") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return out


def text_of(page: Path) -> str:
    """The readable text of a built page's article."""
    body = page.read_text(encoding="utf-8")
    body = body[body.find("<article"):body.rfind("</article>")]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def _commands(command: click.Command, ctx: click.Context) -> list[tuple[click.Command, click.Context]]:
    out = [(command, ctx)]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            out += _commands(sub, click.Context(sub, info_name=name, parent=ctx))
    return out


def test_the_cli_page_has_every_command_and_option(site: Path) -> None:
    [entry] = importlib.metadata.entry_points(group="console_scripts", name="xltemplate")
    root = entry.load()
    commands = _commands(root, click.Context(root, info_name="xltemplate"))
    assert len(commands) > 15
    page = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    text = text_of(site / "reference" / "cli.html")
    for command, ctx in commands:
        path = ctx.command_path
        assert f"<code>{path}</code>" in page, path
        assert re.search(r'id="' + re.escape(re.sub(r"[^a-z0-9]+", "-", path).strip("-")) + '"', page), path
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts:
                    assert opt in text, (path, opt)
            elif isinstance(param, click.Argument):
                assert param.human_readable_name in text, (path, param.name)


def _served_openapi(tmp_path: Path) -> dict[str, Any]:
    from starlette.testclient import TestClient

    from xltemplate.web.app import create_app

    with TestClient(create_app(f"sqlite:///{tmp_path / 'p.db'}", tmp_path / "data", run_jobs=False)) as client:
        res = client.get("/api/openapi.json")
    assert res.status_code == 200
    return res.json()


def test_the_api_page_has_every_path_of_the_served_document(site: Path, tmp_path: Path) -> None:
    doc = _served_openapi(tmp_path)
    text = text_of(site / "reference" / "api.html")
    assert doc["paths"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in {"get", "put", "post", "delete", "patch"}:
                continue
            assert f"{method.upper()} {path}" in text, (method, path)
            for param in [*item.get("parameters", []), *op.get("parameters", [])]:
                assert param["name"] in text, (path, param["name"])
    for name in doc.get("components", {}).get("schemas", {}):
        assert name in text, name


def _leaves(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, f"{prefix}.{k}" if prefix else k)]
    return [] if isinstance(data, list) else [(prefix, data)]


def _number_in_row(page_html: str, key: str) -> float:
    row = re.search(r"<td><code>" + re.escape(key) + r"</code></td>\s*<td>([^<]*)</td>", page_html)
    assert row, key
    return float(row.group(1).replace(",", ""))


def test_the_figures_page_and_the_prose_carry_the_benchmark_figures(site: Path) -> None:
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    portal = json.loads((ROOT / "benchmarks" / "portal-results.json").read_text(encoding="utf-8"))
    page = (site / "reference" / "figures.html").read_text(encoding="utf-8")
    text = text_of(site / "reference" / "figures.html")
    # every headline figure, with its target, in the figures table
    for key, fig in results["figures"].items():
        value = fig["value"]
        shown = _number_in_row(page, f"figures.{key}.value")
        assert shown == pytest.approx(value, rel=0.01, abs=0.001), key
        assert any(f in text for f in (f"{value:,.1f}", f"{value:,.0f}", f"{value:.2f}", f"{value:.3g}")), key
    for key, value in _leaves(portal):
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert _number_in_row(page, key) == pytest.approx(value, rel=0.01, abs=0.001), key
    # the prose: values put in by the hook, none typed by hand, no placeholder left
    perf = text_of(site / "performance.html")
    assert f"{results['import']['rate']:,.0f} returns/s" in perf
    assert f"p95 {portal['p95_ms']:.0f} ms" in perf
    assert f"{2000 / results['import']['cpu_ms_per_return']:,.0f}/s" in perf  # arithmetic over the results
    for built in site.rglob("*.html"):
        assert "{{" not in text_of(built), built


EXTERNAL = re.compile(r"^(https?:)?//", re.I)


def test_the_site_loads_nothing_from_the_internet(site: Path) -> None:
    found = []
    for page in site.rglob("*.html"):
        body = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:script|link|img|iframe|source)\b[^>]*>", body, re.I):
            rel = re.search(r'\brel="([^"]*)"', tag)
            if tag.lower().startswith("<link") and rel and rel.group(1) in {"canonical", "alternate", "prev", "next"}:
                continue
            for url in re.findall(r'\b(?:src|href)="([^"]*)"', tag):
                if EXTERNAL.match(url):
                    found.append((page.name, url))
        for url in re.findall(r"@import\s+url\(['\"]?([^'\")]+)|url\(['\"]?(https?:[^'\")]+)", body):
            found += [(page.name, u) for u in url if u and EXTERNAL.match(u)]
    for css in site.rglob("*.css"):
        body = css.read_text(encoding="utf-8")
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", body) + re.findall(r"@import\s+['\"]([^'\"]+)", body):
            if EXTERNAL.match(url):
                found.append((css.name, url))
    assert not found, found
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis" not in index and "unpkg.com" not in index


@contextlib.contextmanager
def _serving(folder: Path) -> Any:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


def test_the_search_finds_chinese_words_offline(site: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed at /usr/bin/chromium")
        pytest.skip("no /usr/bin/chromium")
    with playwright_api.sync_playwright() as p, _serving(site) as url:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for base in ((site / "index.html").as_uri(), url + "/index.html"):  # from the disk, and served
                for word, title in (("未报送", "Tutorial"), ("退回修改", "Reports and annotated returns")):
                    page = browser.new_page()
                    offsite: list[str] = []
                    page.on("request", lambda r, o=offsite: o.append(r.url)
                            if not r.url.startswith(("file:", "http://127.0.0.1:", "data:", "blob:")) else None)
                    page.goto(base, wait_until="networkidle")  # the search index and its worker loaded
                    page.fill("input.md-search__input", word)
                    page.press("input.md-search__input", "End")  # the search runs on a key, as when typed
                    meta = "document.querySelector('.md-search-result__meta').textContent"
                    page.wait_for_function(f"() => /\\d+ matching/.test({meta})", timeout=15000)
                    titles = [t.inner_text() for t in page.locator(".md-search-result__item h1").all()]
                    assert any(title in t for t in titles), (base, word, titles)
                    assert offsite == [], offsite
                    page.close()
        finally:
            browser.close()


def _readme_commands() -> tuple[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.match(r"# xltemplate\s+```sh\n(.*?)```", readme, re.S)
    assert block, "the README begins with its two commands"
    first, second = block.group(1).split("\n# 2.")
    return first, second


def _apt_packages(script: str) -> set[str]:
    """The packages of the first ``apt-get install`` command in a shell script."""
    joined = re.sub(r"\\\n", " ", re.sub(r"#[^\n]*", "", script))
    line = next(x for x in joined.splitlines() if "apt-get install" in x)
    words = shlex.split(line[line.index("apt-get install"):].split("&&")[0])
    return {w for w in words[2:] if not w.startswith("-")}


def test_the_readme_is_one_screen_and_its_test_command_is_ci(site: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 50
    first, second = _readme_commands()
    assert "xltemplate distribute" in first and "xltemplate report" in first
    assert "pip install -e '.[test]'" in second and "pytest -q" in second
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _apt_packages(second) == _apt_packages(ci[ci.index("apt-get install"):])
    assert "pip install -e '.[test]'" in ci
    for line in (first + second).splitlines():  # one step a line, the whole still runs when pasted at once
        if line.strip() and not line.startswith("#"):
            steps = line.count("&&")
            assert steps == 0 or (steps == 1 and line.endswith("&& \\")), line
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).exists(), link


def _one_valid_return(tmp_path: Path, db: str) -> list[str]:
    """A round of the example roster in ``db`` with 101's return imported; the command that runs xltemplate."""
    xt = [sys.executable, "-m", "xltemplate.cli"]
    steps = [["distribute", "wuhai-perf-target", "--roster", str(ROOT / "examples" / "部门名单.csv"), "-o", "下发",
              "--no-progress", "--db", db],
             ["fill", "wuhai-perf-target", str(ROOT / "tests" / "data" / "seed_000.json"), "--as",
              "下发/101_市信访局.xlsx", "-o", "回收/101.xlsx"],
             ["import", "回收", "--no-progress", "--db", db]]
    for step in steps:
        subprocess.run([*xt, *step], cwd=tmp_path, check=True, capture_output=True)
    return xt


def _restored_status(xt: list[str], db: str, folder: Path) -> dict[str, str]:
    res = subprocess.run([*xt, "status", "--db", db, "--json"], cwd=folder, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return {d["code"]: d["status"] for d in json.loads(res.stdout)["departments"]}


def _code_lines(page: str, start: str) -> list[str]:
    """The lines of the manual page's shell blocks that begin with ``start``, continuations joined."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    lines = [x for b in blocks for x in re.sub(r"\\\n\s*", " ", b).splitlines()]
    return [x for x in lines if x.startswith(start)]


EXPECTED = {"101": "pending", "102": "not_returned", "103": "not_returned"}  # passed the check: 待审核


def test_the_manuals_sqlite_backup_makes_a_copy_the_commands_read(tmp_path: Path) -> None:
    [command] = _code_lines("running.md", ".venv/bin/python -c \"import sqlite3")
    command = command.replace(".venv/bin/python", shlex.quote(sys.executable)).replace("$(date +%F)", "today")
    xt = _one_valid_return(tmp_path, "xltemplate.db")
    (tmp_path / "backup").mkdir()
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)  # as written in the manual
    assert _restored_status(xt, str(tmp_path / "backup" / "xltemplate-today.db"), tmp_path) == EXPECTED


def test_the_manuals_pg_dump_and_restore_make_a_copy_the_commands_read(tmp_path: Path, pg_url: str) -> None:
    import sqlalchemy as sa
    from conftest import new_database
    from pgserver import bindir

    source, target = new_database(pg_url), new_database(pg_url)
    xt = _one_valid_return(tmp_path, source)

    def libpq(url: str) -> str:
        return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    [dump] = _code_lines("running.md", "pg_dump ")
    [restore] = _code_lines("running.md", "pg_restore ")
    dump = dump.replace("-d xltemplate ", f"-d {shlex.quote(libpq(source))} ")
    restore = restore.replace("-d xltemplate_restored ", f"-d {shlex.quote(libpq(target))} ")
    for command in (dump, restore):  # as written in the manual, on the test's server and in its folder
        command = command.replace("/var/backups/", "").replace("$(date +%F)", "today").replace("2026-12-01", "today")
        subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True,
                       env={**os.environ, "PATH": f"{bindir()}:{os.environ['PATH']}"})
    assert _restored_status(xt, target, tmp_path) == EXPECTED
