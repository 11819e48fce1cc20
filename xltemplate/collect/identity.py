"""Which round a return belongs to, and which return it is (its identity).

**The identity of a return** (:func:`admit`) is declared by the form, never by the file:

* The department is the one the template was issued to (the ``issued`` table, by the template's
  submission id; else the department in the template's metadata), never what the clerk typed.
* A template issued for one project (a roster of projects, or a carried-forward project) is
  identified by its submission id alone, so a corrected project name keeps it one return.
* Otherwise the form's ``x-form.key`` fields (the bundled form: 项目名称) tell a department's
  returns apart: the same department and the same key, compared after trimming, removing spaces
  and folding full-width to half-width (NFKC), is the same return, and a later copy replaces
  the earlier one; another key is another return (another project).  A copy whose key is still
  empty is identified by its template alone, and the first copy of that template with a key
  replaces it.
* A form without ``x-form.key`` keeps one return per template (its submission id).

**Which round** a return belongs to: the round its template was issued in; else the round named
on the command line (``--round``); else the only or the latest open round of its form.  A return
made from a template of another year (the ``year`` in its metadata, written by
``distribute --year``) or of another round than the one named is refused by name, and so is a
return for a closed round.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..form.model import FormModel
from ..form.validate import Issue
from ..form.values import get, leaves_of
from ..messages import t
from .importer import UNREADABLE, ImportResult
from .rounds import CLOSED, IssuedTemplate, Round, default_round, find_round, published_versions, rounds
from .store import Identity

if TYPE_CHECKING:
    from .store import Store


def normalise_key(value: Any) -> str:
    """A key value as compared: NFKC (full-width -> half-width), no whitespace at all."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return re.sub(r"\s+", "", text)


def key_pointers(model: FormModel) -> list[str]:
    keys = model.schema.get("x-form", {}).get("key", [])
    return [keys] if isinstance(keys, str) else list(keys)


# -- the import context -------------------------------------------------------------------------

@dataclass
class Context:
    """What workers need to place each return in its round: picklable, loaded once per batch."""

    rounds: dict[int, Round]
    issued: dict[str, IssuedTemplate]
    target: Round | None  # the round named on the command line
    newest_first: list[Round]
    versions: list[tuple[dict[str, Any], dict[str, Any] | None]]  # published (schema, layout)


def context(store: Store, round_name: str | None = None) -> Context:
    """The rounds, the issued templates and the published form versions, for one batch."""
    all_rounds = rounds(store)
    target = find_round(store, round_name) if round_name else None
    i = store.t.issued
    with store.engine.connect() as conn:
        issued = {row.submission_id: IssuedTemplate(*row) for row in conn.execute(
            sa.select(i.c.submission_id, i.c.round_id, i.c.department_code, i.c.department, i.c.project,
                      i.c.file, i.c.file_id, i.c.signature))}
    return Context({r.id: r for r in all_rounds}, issued, target, all_rounds, published_versions(store))


def context_of(store: Store, rnd: Round, submission_id: str | None,
               known: list[IssuedTemplate] | None = None) -> Context:
    """The context of one return sent into ``rnd`` (an upload through the portal): that round as the
    target, and the issued template of ``submission_id`` with its own round, found among ``known``
    (a department's own templates, read with its link) or else looked up (published versions are
    registered by the caller)."""
    found = next((x for x in known or [] if x.submission_id == submission_id), None) if submission_id else None
    issued = {found.submission_id: found} if found is not None else {}
    rounds_known = {rnd.id: rnd}
    if submission_id and found is None:
        i, r = store.t.issued, store.t.rounds
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(i.c.submission_id, i.c.round_id, i.c.department_code, i.c.department,
                                         i.c.project, i.c.file, i.c.file_id, i.c.signature)
                               .where(i.c.submission_id == submission_id)).first()
            if row is not None:
                issued[row.submission_id] = IssuedTemplate(*row)
                if row.round_id not in rounds_known:
                    rounds_known[row.round_id] = Round.of(conn.execute(sa.select(r).where(r.c.id == row.round_id))
                                                          .one())
    return Context(rounds_known, issued, rnd, [rnd], [])


@dataclass
class Admission:
    """Where one return goes: its identity, or why it is refused; and notes for staff."""

    identity: Identity
    refusal: str | None = None  # a file-level code: other_year, other_round, round_closed
    notes: list[dict[str, Any]] = field(default_factory=list)
    #: why no department could be told from the file (``unissued``, ``forged``, ``no_template``):
    #: stored with no department, for staff to assign (未识别的文件)
    unrecognized: str | None = None


UNRECOGNIZED = ("unissued", "forged", "no_template")


def admit(result: ImportResult, meta: dict[str, str], model: FormModel | None, ctx: Context | None,
          current: FormModel | None = None, lang: str = "zh", via: tuple[str, str] | None = None) -> Admission:
    """Place one read result in its round and give it its identity (see the module docstring).

    ``ctx`` None (no database), or no round to place it in: the template's metadata is all there
    is.  In a round nothing the file says of itself decides whose it is: the department is the one
    its template was issued to, a template whose signature is not the one it was issued with counts
    as no template, and a file of no template is the department's whose link it came through
    (``via``: code, name), else nobody's (``unrecognized``).  A refusal turns ``result`` into an
    unreadable one with the reason (its data is kept)."""
    sid = result.submission_id or None
    issued = ctx.issued.get(sid) if ctx is not None and sid else None
    unrecognized = None
    if issued is not None and issued.signature and meta.get("signature") != issued.signature:
        issued, unrecognized = None, "forged"  # not the template as issued: nothing it says is taken
    rnd: Round | None = None
    refusal = None
    if ctx is not None:
        own = ctx.rounds.get(issued.round_id) if issued is not None else None
        target = ctx.target
        if own is not None and target is not None and own.id != target.id:
            refusal = "other_year" if own.year != target.year and own.year and target.year else "other_round"
            params = {"found": own.year if refusal == "other_year" else own.name,
                      "expected": target.year if refusal == "other_year" else target.name}
        rnd = own or target or default_round(ctx.newest_first, result.form)
        if refusal is None and rnd is not None:
            year = meta.get("year")
            if rnd.year and year and year.isdigit() and int(year) != rnd.year:
                refusal, params = "other_year", {"found": year, "expected": rnd.year}
            elif rnd.status == CLOSED:
                refusal, params = "round_closed", {"name": rnd.name}
        if refusal is not None:
            result.errors = [Issue.of_file(t(refusal, lang, **params), refusal)]
            result.status = UNREADABLE
    trusted = ctx is not None and rnd is not None  # a round's issued templates are the authority
    if issued is not None:
        code, name = issued.department_code, issued.department
    elif not trusted:  # no database, or no round to place it in: the metadata is all there is
        code, name = meta.get("department_code") or None, meta.get("department") or None
    elif via is not None:
        code, name = via
    else:
        code = name = None
        unrecognized = unrecognized or ("unissued" if sid else "no_template")
    if trusted and issued is None:
        sid = None  # a template id we did not issue (or not as the file has it) identifies nothing
    scope = f"r{rnd.id}" if rnd is not None else f"f{result.form}"
    key_text = None
    keys = key_pointers(model) if model is not None else []
    if result.data is not None and keys:
        key_text = " / ".join(str(v) for p in keys if (v := get(result.data, p, None)) not in (None, ""))
    round_id = rnd.id if rnd else None
    values = [normalise_key(get(result.data or {}, p, None)) for p in keys]
    if refusal is not None or not result.form or (unrecognized and code is None):
        identity = Identity(None, round_id, name, code, key_text)
    elif (issued is not None and issued.project is not None) or not keys or not code:
        # one return per template: a project template, a form without key, or no department to scope a key
        identity = Identity(f"{scope}|sid|{sid}" if sid else None, round_id, name, code,
                            key_text or (issued.project if issued else None))
    elif all(values):
        # it also replaces an older copy of its template that had no key yet, or that was stored
        # when one template was one return (a database of the release before rounds)
        also = (f"{scope}|sid|{sid}|nokey", f"{scope}|sid|{sid}") if sid else ()
        identity = Identity(f"{scope}|d{code}|k" + "|".join(values), round_id, name, code, key_text, also)
    else:
        identity = Identity(f"{scope}|sid|{sid}|nokey" if sid else None, round_id, name, code, key_text)
    notes = version_notes(result, model, current, lang)
    if unrecognized is not None:
        notes.insert(0, {"code": unrecognized, "message": t("unrecognized_" + unrecognized, lang)})
    return Admission(identity, refusal, notes, unrecognized if code is None else None)


def version_notes(result: ImportResult, model: FormModel | None, current: FormModel | None,
                  lang: str = "zh") -> list[dict[str, Any]]:
    """Fields of an earlier version's return that the current version no longer has: kept in the
    data, and pointed out to staff."""
    if model is None or current is None or model.hash == current.hash or not result.data:
        return []
    out = []
    patterns = {f.pattern for f in current.fields}
    for pointer, value in leaves_of(result.data):
        f = model.by_pointer.get(pointer)
        if f is None or value in ({}, []) or f.pattern in patterns:
            continue
        out.append({"code": "not_in_current", "pointer": pointer, "label": f.label, "value": value,
                    "message": t("not_in_current", lang, label=f.label, version=model.version,
                                 current=current.version)})
    return out
