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
from typing import Any

from ..form.model import FormModel
from ..form.validate import Issue
from ..form.values import get

SIGNED = ("form_id", "form_version", "submission_id", "department_code")


def signature(key: str, meta: dict[str, Any]) -> str:
    message = "\n".join(str(meta.get(k) or "") for k in SIGNED).encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()[:32]


def check(model: FormModel, meta: dict[str, str], data: dict[str, Any], key: str | None,
          lang: str = "zh") -> list[Issue]:
    zh = lang == "zh"
    out = []
    if key:
        found = meta.get("signature", "")
        if not found:
            out.append(Issue(None, None, None, None, None,
                             "模板没有本局的签名：不是财政局下发的模板，请使用下发的模板重新填写" if zh else
                             "The template carries no signature of the bureau: it was not issued by the bureau",
                             "unsigned"))
        elif not hmac.compare_digest(found, signature(key, meta)):
            out.append(Issue(None, None, None, None, None,
                             "模板的标识与签名不符：模板信息被改动过（伪造或篡改），请使用下发的模板重新填写" if zh else
                             "The template's identity does not match its signature: it was altered (forged)",
                             "forged"))
    hint = model.schema.get("x-form", {}).get("department", {})
    for role, meta_key in (("name", "department"), ("code", "department_code")):
        pointer, expected = hint.get(role), meta.get(meta_key)
        if not pointer or not expected:
            continue
        found = get(data, pointer, None)
        if found is not None and str(found).strip() != expected:
            f = model.by_pointer.get(pointer)
            out.append(Issue(f.sheet if f else None, f.cell if f else None, pointer, f.label if f else pointer, found,
                             f"此模板是发给“{expected}”的，这里却是“{found}”：请使用本部门收到的模板" if zh else
                             f"This template was issued to “{expected}” but says “{found}”: use your own department's",
                             "other_department"))
    return out
