"""Layout placement (HTML-table rules), the automatic layout, and the reviewed snapshot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xltemplate.form.layout import LayoutError, auto_layout, place
from xltemplate.form.model import build_model, describe

SNAPSHOT = Path(__file__).parent / "snapshots" / "wuhai-perf-target.layout.txt"


def _grid(layout: dict) -> dict[str, tuple[int, int, int, int]]:
    sheet = place(layout)[0]
    return {(c.text or c.field or c.kind): (c.row, c.col, c.rowspan, c.colspan) for c in sheet.cells}


def test_cells_flow_like_an_html_table() -> None:
    layout = {"sheets": [{"name": "s", "columns": [1, 1, 1, 1], "rows": [
        {"label": {"text": "section"}, "rows": [
            {"cells": [{"text": "a", "rowspan": 2}, {"text": "b", "colspan": 2}]},
            {"cells": [{"text": "c"}, {"text": "d"}]},
        ]},
        {"cells": [{"text": "e", "colspan": 4}]},
    ]}]}
    assert _grid(layout) == {"section": (0, 0, 2, 1), "a": (0, 1, 2, 1), "b": (0, 2, 1, 2),
                             "c": (1, 2, 1, 1), "d": (1, 3, 1, 1), "e": (2, 0, 1, 4)}


def test_repeat_expands_rows_and_spans_all_once() -> None:
    layout = {"sheets": [{"name": "s", "columns": [1, 1, 1], "rows": [
        {"repeat": 3, "cells": [{"text": "二级", "rowspan": "all"}, {"field": "/x/*/a"}, {"field": "/x/*/b"}]},
    ]}]}
    sheet = place(layout)[0]
    assert [(c.text or c.field, c.row, c.col, c.rowspan) for c in sheet.cells] == [
        ("二级", 0, 0, 3), ("/x/0/a", 0, 1, 1), ("/x/0/b", 0, 2, 1),
        ("/x/1/a", 1, 1, 1), ("/x/1/b", 1, 2, 1), ("/x/2/a", 2, 1, 1), ("/x/2/b", 2, 2, 1)]


def test_overflow_and_overlap_are_layout_errors() -> None:
    with pytest.raises(LayoutError, match="overflows"):
        place({"sheets": [{"name": "s", "columns": [1, 1], "rows": [{"cells": [{"text": "x", "colspan": 3}]}]}]})
    # "a" spans two rows in column B; "c" in the next row starts in column A and spans two
    # columns, so it would cover column B under "a"
    overlapping = {"sheets": [{"name": "s", "columns": [1, 1, 1], "rows": [
        {"cells": [{"text": "x"}, {"text": "a", "rowspan": 2}]},
        {"cells": [{"text": "c", "colspan": 2}]},
    ]}]}
    with pytest.raises(LayoutError, match=r"overlaps another at row 2"):
        place(overlapping)


SCHEMA = {"type": "object", "title": "小表", "x-form": {"id": "small"}, "required": ["name"],
          "properties": {"name": {"type": "string", "title": "姓名"},
                         "rows": {"type": "array", "title": "明细", "maxItems": 4,
                                  "items": {"type": "object", "properties": {
                                      "what": {"type": "string", "title": "内容"},
                                      "cost": {"type": "number", "title": "金额"}}}}}}


def test_auto_layout_gives_every_field_a_cell() -> None:
    model = build_model(SCHEMA, auto_layout(SCHEMA), auto=True)
    assert {f.pattern for f in model.fields} == {"/name", "/rows/*/what", "/rows/*/cost"}
    assert model.arrays["/rows"].capacity == 4


def test_auto_layout_places_repeating_areas_inside_sections() -> None:
    schema = {"type": "object", "title": "计划", "properties": {
        "plan": {"type": "object", "title": "分季计划", "properties": {
            "note": {"type": "string", "title": "说明"},
            "q1": {"type": "array", "title": "一季度", "maxItems": 2, "items": {"type": "object", "properties": {
                "what": {"type": "string", "title": "事项"}, "cost": {"type": "number", "title": "费用"}}}},
            "q2": {"type": "array", "title": "二季度", "items": {"type": "string", "title": "备注"}}}}}}
    model = build_model(schema, auto_layout(schema, capacity=3), auto=True)
    assert {p: a.capacity for p, a in model.arrays.items()} == {"/plan/q1": 2, "/plan/q2": 3}
    texts = [c.text for c in model.sheets[0].cells if c.kind == "text"]
    assert texts.index("一季度") < texts.index("事项") < texts.index("二季度")


def test_layout_that_disagrees_with_the_schema_is_refused() -> None:
    missing = {"sheets": [{"name": "s", "columns": [1, 1], "rows": [{"cells": [{"field": "/name"}]}]}]}
    with pytest.raises(LayoutError, match="no input cell for: /rows"):
        build_model(SCHEMA, missing)
    unknown = {"sheets": [{"name": "s", "columns": [1, 1], "rows": [{"cells": [{"field": "/nope"}]}]}]}
    with pytest.raises(LayoutError, match="not a field"):
        build_model(SCHEMA, unknown)


def test_fields_have_one_cell_each_and_capacities_fit_both_seeds(wuhai, seed0, seed1) -> None:
    pointers = [f.pointer for f in wuhai.fields]
    assert len(pointers) == len(set(pointers))
    cells = [(f.sheet, f.row, f.col) for f in wuhai.fields]
    assert len(cells) == len(set(cells))
    for seed in (seed0, seed1):
        for pointer, area in wuhai.arrays.items():
            from xltemplate.form.values import get
            assert len(get(seed, pointer, [])) <= area.capacity


def check_snapshot(path: Path, text: str) -> None:
    """``text`` must be the reviewed snapshot at ``path``; a missing snapshot fails too.  Only
    ``XLTEMPLATE_UPDATE_SNAPSHOTS=1`` (a deliberate change) writes it."""
    if os.environ.get("XLTEMPLATE_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no reviewed snapshot {path}: write it with XLTEMPLATE_UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text(encoding="utf-8")


def test_layout_snapshot(wuhai) -> None:
    """The official form's look, as text. After a deliberate change: XLTEMPLATE_UPDATE_SNAPSHOTS=1."""
    check_snapshot(SNAPSHOT, describe(wuhai))


def test_a_missing_snapshot_fails_and_is_not_written(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("XLTEMPLATE_UPDATE_SNAPSHOTS", raising=False)
    missing = tmp_path / "snapshots" / "x.txt"
    with pytest.raises(AssertionError, match="no reviewed snapshot"):
        check_snapshot(missing, "text")
    assert not missing.exists()
    monkeypatch.setenv("XLTEMPLATE_UPDATE_SNAPSHOTS", "1")
    check_snapshot(missing, "text")
    assert missing.read_text(encoding="utf-8") == "text"


def test_explicit_positions_place_each_cell_at_its_range_and_repeat_downwards() -> None:
    layout = {"sheets": [{"name": "s", "columns": [4, 8, 8], "heights": {"2": 30, "4": 18.5}, "cells": [
        {"at": "A1:C1", "text": "标题"},
        {"at": "B3:C3", "field": "/x/*/a", "repeat": 3},
        {"at": "A2", "field": "/n"},
    ]}]}
    sheet = place(layout)[0]
    assert [(c.text or c.field, c.row, c.col, c.rowspan, c.colspan) for c in sheet.cells] == [
        ("标题", 0, 0, 1, 3), ("/x/0/a", 2, 1, 1, 2), ("/x/1/a", 3, 1, 1, 2), ("/x/2/a", 4, 1, 1, 2),
        ("/n", 1, 0, 1, 1)]
    assert (sheet.heights, sheet.nrows) == ({1: 30.0, 3: 18.5}, 5)
    for cells, words in [([{"at": "A1:B2", "text": "a"}, {"at": "B2", "text": "b"}], "overlaps"),
                         ([{"at": "B1:A1", "text": "a"}], "not a cell or range"),
                         ([{"at": "A1", "text": "a", "look": "nope"}], "look 'nope'"),
                         ([{"at": "D1", "text": "a"}], "overflows")]:
        with pytest.raises(LayoutError, match=words):
            place({"sheets": [{"name": "s", "columns": [4, 8, 8], "cells": cells}]})
