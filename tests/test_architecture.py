"""The structure the code keeps (issue 16): the layers run one way (messages → form → xlsx →
collect → web / api → cli), no package has a circle of imports, no route holds a query, and
imports stand at the top of a module.  The contracts are in pyproject.toml (import-linter)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "xltemplate"
#: imports inside a function, on purpose: where a module is loaded only when rarely needed
ALLOWED_LATE = {("collect/db.py", "alembic")}  # Alembic: only to upgrade an older database


def test_the_import_contracts_hold() -> None:
    res = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "4 kept, 0 broken" in res.stdout


def test_imports_stand_at_the_top_except_in_the_cli() -> None:
    """A module's imports are where a reader looks for them; the CLI imports inside its commands so
    that ``xltemplate --help`` answers at once (and says so in its docstring)."""
    late = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(("cli/", "collect/migrations/")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        module = sub.module if isinstance(sub, ast.ImportFrom) else sub.names[0].name
                        if (rel, (module or "").split(".")[0]) not in ALLOWED_LATE:
                            late.append(f"{rel}:{sub.lineno} {ast.unparse(sub)}")
    assert late == [], "\n".join(late)


def test_no_route_reaches_the_database_itself() -> None:
    """Besides the import contract: no page or API module touches the store's engine or tables."""
    for name in ("staff", "clerk", "api", "auth", "responses", "help", "review", "server", "security"):
        text = (PACKAGE / "web" / f"{name}.py").read_text(encoding="utf-8")
        for needle in (".engine", ".t.", ".submissions", "sa.select", "sqlalchemy"):
            assert needle not in text, f"web/{name}.py: {needle}"
