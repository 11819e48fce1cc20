"""The 打印版 of a return: the form filled with exactly the data stored, laid out for A4 as the form
prints, with a footer that carries the return's number and its 校验码 (:mod:`.checkcode`).

The clerk prints it, signs it, stamps it, scans it and uploads the scan for that return
(:mod:`.scans`); the footer on the paper says which version of the data was signed.  It is a proper
copy of the return (the template's submission id, the department, signed with the installation's
key like every issued template), so that should a clerk send it back as the return, it is read as
the same data.  Only a return that passed the machine check has one: a return with errors is
corrected first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..form.forms import find_form, find_version
from ..messages import t
from ..xlsx.writer import FillError, write_filled
from . import checkcode, events, files, settings
from .intake import register_versions
from .integrity import signer
from .returns import one

if TYPE_CHECKING:
    from .store import Store


def footer(number: int, code: str, lang: str = "zh") -> str:
    """The 打印版's footer: the return's number left, the page centred, the 校验码 right (Excel's
    ``&L``/``&C``/``&R`` sections; a literal ampersand doubled)."""
    return t("print_footer", lang, number=number, code=code)


def printable(store: Store, submission: int, lang: str = "zh") -> tuple[bytes, str, str] | None:
    """The 打印版 (xlsx bytes), the name to offer it under, and its 校验码; None for a return that has
    none (not stored, not valid, or of a form this process cannot find)."""
    found = one(store, submission, with_data=True)
    if found is None or found.status != "valid" or found.data is None or found.form is None:
        return None
    register_versions(store)
    model = find_form(found.form)
    if model is not None and found.version and model.version != found.version:
        model = find_version(found.form, found.version, near=model) or model
    if model is None:
        return None
    code = checkcode.code_of(found.data)
    meta = {"department": found.department or "", "department_code": found.department_code or ""}
    try:
        book = write_filled(model, found.data, submission_id=found.submission_id or "", lang=lang, extra_meta=meta,
                            sign=signer(settings.signing_key(store)), footer=footer(submission, code, lang))
    except FillError:
        return None
    stem = f"{found.department or ''}_{found.project or submission}_{t('print_name', lang)}_{code}"
    return book, files.download_name(stem, book), code


def record(store: Store, submission: int, round_id: int | None, code: str | None, actor: str,
           address: str | None = None) -> None:
    """A 打印版 taken, in the audit log."""
    events.record(store, "download", actor=actor, round_id=round_id, submission=submission, department_code=code,
                  detail={"what": "print"}, address=address)
