"""Render the README pictures with LibreOffice: the bundled form filled with seed 000, an
annotated return (the same form with three mistakes typed over its validation), and a county's
own form (tests/variant.py) as its staff marked it and as the template design made of it, filled.

    .venv/bin/python scripts/render_readme_png.py
    # writes docs/template-cover.png, docs/template-main.png, docs/annotated-errors.png, docs/annotated-main.png,
    # docs/variant-source.png, docs/variant-template.png
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
        annotated = _annotated(Path(tmp), xlsx)
        lo.render_png(annotated, ROOT / "docs/annotated-errors.png", sheet_index=0, dpi=70)
        lo.render_png(annotated, ROOT / "docs/annotated-main.png", sheet_index=2, dpi=80)
        _variant(Path(tmp))


def _variant(tmp: Path) -> None:
    """The county's marked workbook, and the template design makes of it, filled by a department."""
    from variant import draw, variant_instance

    from xltemplate.api import design
    from xltemplate.form.forms import load_form

    src = draw(tmp / "示例县绩效目标申报表.xlsx")
    made = design(src, tmp / "form", form_id="sample-county-perf", version="2022.1")
    model = load_form(made.schema_path)
    filled = tmp / "示例县农业农村局.xlsx"
    fill(model, variant_instance(model), filled)
    lo.render_png(src, ROOT / "docs/variant-source.png", sheet_index=0, dpi=70)
    lo.render_png(filled, ROOT / "docs/variant-template.png", sheet_index=0, dpi=70)


def _annotated(tmp: Path, xlsx: Path) -> Path:
    import openpyxl

    from xltemplate.collect.annotate import annotate
    from xltemplate.collect.importer import import_workbook
    from xltemplate.form.forms import load_form

    model = load_form("wuhai-perf-target")
    wb = openpyxl.load_workbook(xlsx)
    for pointer, value in {"/funding/request": "七万", "/project/attribute": "新建",
                           "/project/function_code": "201030"}.items():
        f = model.by_pointer[pointer]
        wb[f.sheet][f.cell] = value
    wrong = tmp / "市信访局.xlsx"
    wb.save(wrong)
    result, meta = import_workbook(wrong, with_meta=True)
    (tmp / "out").mkdir()
    return Path(annotate(model, result, tmp / "out", meta))


if __name__ == "__main__":
    main()
