"""Render the README pictures with LibreOffice: the bundled form filled with seed 000.

    .venv/bin/python scripts/render_readme_png.py   # writes docs/template-cover.png, docs/template-main.png
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import libreoffice as lo  # noqa: E402

from xltemplate.api import fill  # noqa: E402


def main() -> None:
    data = json.loads((ROOT / "tests/data/seed_000.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        xlsx = Path(tmp) / "wuhai-perf-target.xlsx"
        fill("wuhai-perf-target", data, xlsx)
        lo.render_png(xlsx, ROOT / "docs/template-cover.png", sheet_index=0, dpi=60)
        lo.render_png(xlsx, ROOT / "docs/template-main.png", sheet_index=1, dpi=80)


if __name__ == "__main__":
    main()
