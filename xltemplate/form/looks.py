"""The look vocabulary of a layout (``looks`` and a sheet's ``print``), checked when a form is loaded.

The words are the file format's (what Excel, WPS and LibreOffice store); :mod:`xltemplate.xlsx.look`
turns them into xlsxwriter formats and page set-up.  Border styles and fill patterns are listed in
xlsxwriter's index order (the index is what it takes).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import LayoutError
from .excel import parse_range

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
