"""A bureau's own workbook, with its input cells marked -> the form's schema and layout.

The bureau keeps drawing its form in Excel, WPS or LibreOffice, exactly as it wants it printed,
and writes a *marker* into every cell a department fills in (:mod:`.markers`).  A cell without a
marker is a fixed label; a formula without one stays a locked formula, its references to input
cells rewritten as ``{/pointer}`` (a whole marked column as ``{/table/*/key}``).  The layout keeps
the sheets as drawn: every cell at its own A1 range with its look (``looks``), column widths to
the pixel, row heights, page set-up (``print``).

What the bureau drew besides its cells is kept too: the workbook's own font (column widths count in
it), row heights to the point, pictures at their anchors, frozen panes, hidden rows, columns and
sheets, its dropdowns, and formulas the form does not evaluate (VLOOKUP into a code sheet), as drawn.

The steps, one module each: :mod:`.drawn` (what was read, in neutral words; the reading itself is
:mod:`xltemplate.xlsx.drawn`), :mod:`.sheets` (cells classified, mistakes found), :mod:`.fields`
(markers -> fields and tables, their titles), :mod:`.grow` (rows a table asks for beyond the drawn
ones), :mod:`.schema` (the schema, merged with an edited one), :mod:`.layout` (the layout),
:mod:`.build` (all of it).  The entry point that reads a file is
:func:`xltemplate.xlsx.design.design_workbook`.
"""

from __future__ import annotations

from .build import Design, design_form, form_id_for, load_edited
from .drawn import DesignError, DrawnBook, DrawnCell, DrawnSheet
from .markers import Marker, is_marker, parse_marker

__all__ = ["Design", "DesignError", "DrawnBook", "DrawnCell", "DrawnSheet", "Marker", "design_form", "form_id_for",
           "is_marker", "load_edited", "parse_marker"]
