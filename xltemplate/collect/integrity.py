"""Template integrity: a keyed signature over the template's identity, and department checks.

With a key the bureau keeps (``--key`` or ``XLTEMPLATE_KEY``), every template it issues carries
``signature`` = HMAC-SHA256(key, form id, version, submission id, department code) in its
metadata.  Importing with the same key reports a template without a signature (not issued by the
bureau) or with one that does not match (metadata edited: a forged template).  Without a key
nothing is signed or checked.

Independently, a template issued to one department but filled in by another (copied from a
colleague) is reported when the form names its department fields (``x-form.department``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from ..form.model import Field, FormModel
from ..form.validate import Issue
from ..form.values import get
from ..messages import t

SIGNED = ("form_id", "form_version", "submission_id", "department_code")


def signature(key: str, meta: dict[str, Any]) -> str:
    message = "\n".join(str(meta.get(k) or "") for k in SIGNED).encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()[:32]


def signer(key: str | None) -> Callable[[dict[str, Any]], str] | None:
    """The signing function of ``key`` for the writer (None without a key: nothing is signed)."""
    if not key:
        return None
    return lambda meta: signature(key, meta)


def check(model: FormModel, meta: dict[str, str], data: dict[str, Any], key: str | None,
          lang: str = "zh", locate: Callable[[str], Field | None] | None = None) -> list[Issue]:
    """The integrity issues of a return; ``locate`` places a field where its value was read (the
    importer's :meth:`~xltemplate.collect.importer.Reading.locate`), else the form's cell is named."""
    out = []
    if key:
        found = meta.get("signature", "")
        if not found:
            out.append(Issue(None, None, None, None, None, t("unsigned", lang), "unsigned"))
        elif not hmac.compare_digest(found, signature(key, meta)):
            out.append(Issue(None, None, None, None, None, t("forged", lang), "forged"))
    hint = model.schema.get("x-form", {}).get("department", {})
    for role, meta_key in (("name", "department"), ("code", "department_code")):
        pointer, expected = hint.get(role), meta.get(meta_key)
        if not pointer or not expected:
            continue
        found = get(data, pointer, None)
        if found is not None and str(found).strip() != expected:
            home = model.by_pointer.get(pointer)
            f = locate(pointer) if locate is not None else home
            out.append(Issue(f.sheet if f else None, f.cell if f else None, pointer, f.label if f else pointer, found,
                             t("other_department", lang, expected=expected, found=found), "other_department",
                             form_cell=home.cell if home is not None and f is not None and f.cell != home.cell
                             else None))
    return out
