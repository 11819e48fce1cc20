"""A layout's look keywords -> xlsxwriter formats, and a sheet's page set-up.

A *look* (an entry of the layout's ``"looks"``, named by a cell's ``"look"``) is the whole look
of one cell, in the words of the file format (what Excel, WPS and LibreOffice store):

    {"font": {"name": "宋体", "size": 10, "bold": true, "italic": true, "underline": "single",
              "strike": true, "color": "#C00000", "script": "superscript"},
     "fill": "#FFF8DC"  or  {"pattern": "gray125", "color": "#000000", "background": "#FFFFFF"},
     "border": {"left": "thin", "right": "thin", "top": "medium", "bottom": "double",
                "diagonal": "thin", "diagonal_up": true, "diagonal_down": false},
     "border_color": {"bottom": "#FF0000"},
     "align": {"horizontal": "center", "vertical": "center", "wrap": true, "shrink": false,
               "indent": 1, "rotation": 90},
     "number_format": "0.00"}

Unlike a built-in ``style`` (which adds to the form's 宋体, bordered, centred base), a look
starts from Excel's defaults: what it does not say is not there.  The writer adds no fill to
input cells with a look: the form looks as its author drew it (decision: a bureau that wants
its input cells marked fills them in its workbook).  ``rotation`` is the file's value (0–90
anticlockwise, 91–180 clockwise, 255 stacked).

A sheet's ``"print"`` is its page set-up; a sheet without one gets the form's defaults
(:func:`setup_sheet`): A4 fitted to one page wide, centred, page-number footer.
"""

from __future__ import annotations

from typing import Any

from ..form.excel import parse_range
from ..form.layout import SheetLayout
from ..form.looks import BORDER_STYLES, HORIZONTAL, PATTERNS, SCRIPT, UNDERLINE, VERTICAL
from ..messages import t

#: Excel's own margins (inches), for a ``print`` that does not give them.
EXCEL_MARGINS = {"left": 0.7, "right": 0.7, "top": 0.75, "bottom": 0.75, "header": 0.3, "footer": 0.3}


def _rotation(value: int) -> int:
    """The file's textRotation -> xlsxwriter's (-90..90, 270 stacked)."""
    value = int(value)
    if value == 255:
        return 270
    return -(value - 90) if value > 90 else value


def format_props(look: dict[str, Any]) -> dict[str, Any]:
    """xlsxwriter format properties for a look (checked by :func:`~xltemplate.form.looks.check_look`)."""
    props: dict[str, Any] = {}
    font = look.get("font", {})
    for key, prop in (("name", "font_name"), ("size", "font_size"), ("bold", "bold"), ("italic", "italic"),
                      ("strike", "font_strikeout"), ("color", "font_color")):
        if key in font:
            props[prop] = font[key]
    if "underline" in font:
        props["underline"] = UNDERLINE[font["underline"]]
    if "script" in font:
        props["font_script"] = SCRIPT[font["script"]]
    fill = look.get("fill")
    if isinstance(fill, str):
        fill = {"pattern": "solid", "color": fill}
    if fill:
        pattern = PATTERNS.index(fill.get("pattern", "solid"))
        props["pattern"] = pattern
        if pattern == 1:  # xlsxwriter takes a solid fill's colour as bg_color
            if "color" in fill:
                props["bg_color"] = fill["color"]
        else:
            if "color" in fill:
                props["fg_color"] = fill["color"]
            if "background" in fill:
                props["bg_color"] = fill["background"]
    border, colors = look.get("border", {}), look.get("border_color", {})
    for side in ("left", "right", "top", "bottom"):
        if side in border:
            props[side] = BORDER_STYLES.index(border[side])
        if side in colors:
            props[f"{side}_color"] = colors[side]
    if border.get("diagonal") and (border.get("diagonal_up") or border.get("diagonal_down")):
        props["diag_type"] = (1 if border.get("diagonal_up") else 0) + (2 if border.get("diagonal_down") else 0)
        props["diag_border"] = BORDER_STYLES.index(border["diagonal"])
        if "diagonal" in colors:
            props["diag_color"] = colors["diagonal"]
    align = look.get("align", {})
    if HORIZONTAL.get(align.get("horizontal", "general")):
        props["align"] = HORIZONTAL[align["horizontal"]]
    if "vertical" in align and align["vertical"] != "bottom":
        props["valign"] = VERTICAL[align["vertical"]]
    if align.get("wrap"):
        props["text_wrap"] = True
    if align.get("shrink"):
        props["shrink"] = True
    if align.get("indent"):
        props["indent"] = int(align["indent"])
    if align.get("rotation"):
        props["rotation"] = _rotation(align["rotation"])
    if "number_format" in look:
        props["num_format"] = look["number_format"]
    return props


def setup_sheet(ws: Any, sheet: SheetLayout, footer: str | None = None, *, stamp: str | None = None) -> None:
    """Page set-up of a written sheet: its layout's ``print``, else the form's defaults (with
    ``footer``, by default the catalog's ``page_footer``).  ``stamp`` replaces the footer whatever
    the layout says, on A4 unless the layout names a paper (a return's 打印版)."""
    setup = sheet.setup
    if stamp is not None:
        footer = stamp
        if setup is not None:
            setup = {**setup, "footer": stamp, "paper": setup.get("paper", 9)}
    if setup is None:  # the form's defaults, for hand-written layouts
        ws.set_paper(9)
        ws.set_landscape() if sheet.landscape else ws.set_portrait()
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
        ws.center_horizontally()
        ws.print_area(0, 0, sheet.nrows - 1, len(sheet.widths) - 1)
        ws.set_footer(footer if footer is not None else t("page_footer"))
        ws.hide_gridlines(2)
        return
    # only what the set-up says: a sheet that names no paper prints on the client's default (A4 in China)
    if "paper" in setup:
        ws.set_paper(int(setup["paper"]))
    if "orientation" in setup:
        ws.set_landscape() if sheet.landscape else ws.set_portrait()
    if "fit" in setup:
        ws.fit_to_pages(*setup["fit"])
    elif "scale" in setup:
        ws.set_print_scale(int(setup["scale"]))
    margins = {**EXCEL_MARGINS, **setup.get("margins", {})}
    ws.set_margins(left=margins["left"], right=margins["right"], top=margins["top"], bottom=margins["bottom"])
    ws.set_header(setup.get("header", ""), {"margin": margins["header"]})  # the margins, even with no text
    ws.set_footer(setup.get("footer", ""), {"margin": margins["footer"]})
    if setup.get("center_horizontally"):
        ws.center_horizontally()
    if setup.get("center_vertically"):
        ws.center_vertically()
    if "area" in setup:
        row, col, rowspan, colspan = parse_range(setup["area"], sheet.name)
        ws.print_area(row, col, row + rowspan - 1, col + colspan - 1)
    if "repeat_rows" in setup:
        first, last = (int(n) - 1 for n in str(setup["repeat_rows"]).split(":"))
        ws.repeat_rows(first, last)
    screen, printed = setup.get("screen_gridlines", True), setup.get("print_gridlines", False)
    ws.hide_gridlines(0 if printed else 1 if screen else 2)  # printed gridlines show on screen too
