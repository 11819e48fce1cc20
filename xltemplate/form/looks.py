"""The look vocabulary of a layout (``looks`` and a sheet's ``print``), checked when a form is loaded.

The words are the file format's (what Excel, WPS and LibreOffice store); :mod:`xltemplate.xlsx.look`
turns them into xlsxwriter formats and page set-up.  Border styles and fill patterns are listed in
xlsxwriter's index order (the index is what it takes).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import LayoutError
from .excel import col_range, parse_a1, parse_range

#: Border styles, in xlsxwriter's index order.
BORDER_STYLES = ("none", "thin", "medium", "dashed", "dotted", "thick", "double", "hair", "mediumDashed",
                 "dashDot", "mediumDashDot", "dashDotDot", "mediumDashDotDot", "slantDashDot")
#: Fill patterns, in xlsxwriter's index order.
PATTERNS = ("none", "solid", "mediumGray", "darkGray", "lightGray", "darkHorizontal", "darkVertical", "darkDown",
            "darkUp", "darkGrid", "darkTrellis", "lightHorizontal", "lightVertical", "lightDown", "lightUp",
            "lightGrid", "lightTrellis", "gray125", "gray0625")
HORIZONTAL = {"general": None, "left": "left", "center": "center", "right": "right", "fill": "fill",
              "justify": "justify", "centerContinuous": "center_across", "distributed": "distributed"}
VERTICAL = {"top": "top", "center": "vcenter", "bottom": "bottom", "justify": "vjustify",
            "distributed": "vdistributed"}
UNDERLINE = {"single": 1, "double": 2, "singleAccounting": 33, "doubleAccounting": 34}
SCRIPT = {"superscript": 1, "subscript": 2}
SIDES = ("left", "right", "top", "bottom", "diagonal")

_KEYS = {"font": {"name", "size", "bold", "italic", "underline", "strike", "color", "script"},
         "border": {*SIDES, "diagonal_up", "diagonal_down"}, "border_color": set(SIDES),
         "align": {"horizontal", "vertical", "wrap", "shrink", "indent", "rotation"},
         "fill": {"pattern", "color", "background"}}
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_PRINT_KEYS = {"paper", "orientation", "fit", "scale", "margins", "center_horizontally", "center_vertically",
               "header", "footer", "area", "repeat_rows", "screen_gridlines", "print_gridlines"}
_MARGINS = {"left", "right", "top", "bottom", "header", "footer"}
MAX_HEADER = 255  # Excel's limit for a header or footer


def check_look(name: str, look: Any) -> None:
    """Refuse a look with an unknown keyword or value, naming it (at load, not at write)."""
    def bad(what: str) -> LayoutError:
        return LayoutError(f"look {name!r}: {what}")

    if not isinstance(look, dict):
        raise bad("must be an object")
    for key, value in look.items():
        if key == "number_format":
            if not isinstance(value, str):
                raise bad("number_format must be a string")
            continue
        if key == "fill" and isinstance(value, str):
            value = {"pattern": "solid", "color": value}
        if key not in _KEYS or not isinstance(value, dict):
            raise bad(f"unknown keyword {key!r} or not an object")
        unknown = set(value) - _KEYS[key]
        if unknown:
            raise bad(f"{key} has unknown keywords {sorted(unknown)}")
        for sub, v in value.items():
            if (sub == "color" or key == "border_color" or sub == "background") and not _COLOR.match(str(v)):
                raise bad(f"{key}.{sub} must be a colour like #RRGGBB, got {v!r}")
            if key == "border" and sub in SIDES and v not in BORDER_STYLES:
                raise bad(f"border.{sub} must be one of {', '.join(BORDER_STYLES)}")
        if key == "fill" and value.get("pattern", "solid") not in PATTERNS:
            raise bad(f"fill.pattern must be one of {', '.join(PATTERNS)}")
        if key == "align":
            if value.get("horizontal", "general") not in HORIZONTAL:
                raise bad(f"align.horizontal must be one of {', '.join(HORIZONTAL)}")
            if value.get("vertical", "bottom") not in VERTICAL:
                raise bad(f"align.vertical must be one of {', '.join(VERTICAL)}")
        if key == "font" and value.get("underline", "single") not in UNDERLINE:
            raise bad(f"font.underline must be one of {', '.join(UNDERLINE)}")
        if key == "font" and value.get("script", "superscript") not in SCRIPT:
            raise bad(f"font.script must be one of {', '.join(SCRIPT)}")


def check_print(sheet: str, setup: Any) -> None:
    """Refuse a ``print`` set-up with an unknown keyword or a value xlsxwriter cannot write."""
    def bad(what: str) -> LayoutError:
        return LayoutError(f"sheet {sheet!r} print: {what}")

    if not isinstance(setup, dict):
        raise bad("must be an object")
    unknown = set(setup) - _PRINT_KEYS
    if unknown:
        raise bad(f"unknown keywords {sorted(unknown)}")
    if setup.get("orientation", "portrait") not in ("portrait", "landscape"):
        raise bad("orientation must be portrait or landscape")
    fit = setup.get("fit")
    if fit is not None and not (isinstance(fit, list) and len(fit) == 2 and all(isinstance(n, int) for n in fit)):
        raise bad("fit must be [pages wide, pages tall] (0: as many as needed)")
    if set(setup.get("margins", {})) - _MARGINS:
        raise bad(f"margins take {sorted(_MARGINS)}")
    for key in ("header", "footer"):
        if len(str(setup.get(key, ""))) > MAX_HEADER:
            raise bad(f"{key} is longer than Excel's {MAX_HEADER} characters")
    if "area" in setup:
        parse_range(str(setup["area"]), sheet)
    if "repeat_rows" in setup and not re.fullmatch(r"\d+:\d+", str(setup["repeat_rows"])):
        raise bad('repeat_rows must be like "1:3"')


#: The sheet keywords of what a sheet shows on screen.
VIEW_KEYS = ("freeze", "zoom", "tab_color", "view")
VIEWS = ("normal", "page_layout", "page_break")
#: Data validation types and operators, in the file's words.
VALIDATION_TYPES = ("whole", "decimal", "list", "date", "time", "textLength", "custom")
OPERATORS = ("between", "notBetween", "equal", "notEqual", "greaterThan", "lessThan", "greaterThanOrEqual",
             "lessThanOrEqual")
_PICTURE_KEYS = {"from", "to", "size", "position", "image", "format", "name", "description"}
_VALIDATION_KEYS = {"ranges", "type", "operator", "formula1", "formula2", "allow_blank", "dropdown", "prompt_title",
                    "prompt", "error_title", "error", "error_style", "show_prompt", "show_error"}


def check_font(font: Any) -> None:
    """The layout's ``font`` (the workbook's default): a name and a size."""
    if not isinstance(font, dict) or not isinstance(font.get("name"), str) or not font["name"] \
            or not isinstance(font.get("size"), int | float) or not 1 <= font["size"] <= 409 \
            or set(font) - {"name", "size"}:
        raise LayoutError(f'"font" must be like {{"name": "宋体", "size": 11}}, got {font!r}')


def _anchor(where: str, point: Any) -> None:
    if not isinstance(point, dict) or parse_a1(str(point.get("cell", ""))) is None \
            or not all(isinstance(point.get(k, 0), int) and point.get(k, 0) >= 0 for k in ("dx", "dy")):
        raise LayoutError(f"{where}: an anchor is {{\"cell\": \"B2\", \"dx\": EMU, \"dy\": EMU}}, got {point!r}")


def check_sheet(sheet: str, spec: dict[str, Any]) -> None:
    """Refuse a sheet's default sizes, view, hidden rows and columns, pictures or validations the
    workbook cannot take, naming the sheet."""
    def bad(what: str) -> LayoutError:
        return LayoutError(f"sheet {sheet!r}: {what}")

    if "base_width" in spec and not (isinstance(spec["base_width"], int) and 0 <= spec["base_width"] <= 255):
        raise bad("base_width must be a whole number of characters")
    columns = spec.get("columns")
    if not isinstance(columns, list) or not all(w is None or (isinstance(w, int | float) and 0 <= w <= 255)
                                                 for w in columns):
        raise bad("columns must list widths (null: the sheet's default)")
    for key in ("default_width", "default_height"):
        if key in spec and not (isinstance(spec[key], int | float) and 0 <= spec[key] <= 409):
            raise bad(f"{key} must be a number")
    if "hidden" in spec and not isinstance(spec["hidden"], bool):
        raise bad("hidden must be true or false")
    if "freeze" in spec and parse_a1(str(spec["freeze"])) is None:
        raise bad('freeze must be the first cell that scrolls, like "A4"')
    if "zoom" in spec and not (isinstance(spec["zoom"], int) and 10 <= spec["zoom"] <= 400):
        raise bad("zoom must be a whole percentage from 10 to 400")
    if "tab_color" in spec and not _COLOR.match(str(spec["tab_color"])):
        raise bad("tab_color must be a colour like #RRGGBB")
    if "view" in spec and spec["view"] not in VIEWS:
        raise bad(f"view must be one of {', '.join(VIEWS)}")
    rows = spec.get("hidden_rows", [])
    if not isinstance(rows, list) or not all(isinstance(r, int) and r >= 1 for r in rows):
        raise bad("hidden_rows must list 1-based rows")
    cols = spec.get("hidden_columns", [])
    if not isinstance(cols, list):
        raise bad('hidden_columns must list columns like "E"')
    for c in cols:
        col_range(c)
    for i, pic in enumerate(spec.get("pictures", [])):
        where = f"sheet {sheet!r} picture {i + 1}"
        if not isinstance(pic, dict) or set(pic) - _PICTURE_KEYS or not isinstance(pic.get("image"), str):
            raise LayoutError(f"{where}: a picture has {sorted(_PICTURE_KEYS)}, its image in base64")
        _anchor(where, pic.get("from"))
        if "to" in pic:
            _anchor(where, pic["to"])
        size = pic.get("size")
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(n, int) and n > 0 for n in size)):
            raise LayoutError(f"{where}: size must be [width, height] in EMU")
        if pic.get("position", "oneCell") not in ("twoCell", "oneCell", "absolute"):
            raise LayoutError(f"{where}: position must be twoCell, oneCell or absolute")
    for i, dv in enumerate(spec.get("validations", [])):
        where = f"sheet {sheet!r} validation {i + 1}"
        if not isinstance(dv, dict) or set(dv) - _VALIDATION_KEYS:
            raise LayoutError(f"{where}: a validation has {sorted(_VALIDATION_KEYS)}")
        ranges = dv.get("ranges")
        if not isinstance(ranges, list) or not ranges:
            raise LayoutError(f"{where}: ranges must list cells or ranges")
        for ref in ranges:
            parse_range(str(ref), sheet)
        if dv.get("type") not in VALIDATION_TYPES or dv.get("operator", "between") not in OPERATORS:
            raise LayoutError(f"{where}: type must be one of {', '.join(VALIDATION_TYPES)} and operator one of "
                              f"{', '.join(OPERATORS)}")
        if dv.get("error_style", "stop") not in ("stop", "warning", "information"):
            raise LayoutError(f"{where}: error_style must be stop, warning or information")
