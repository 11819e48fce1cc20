"""Annotated returns: a workbook regenerated from the form model with its mistakes marked, and
the warnings (提示) and a reviewer's reasons (审核意见), each in a colour of its own.

Regenerating (rather than writing into the returned file) keeps what a client may have lost:
protection, dropdowns, validation and metadata.  The copy keeps the submission id, so the
corrected workbook, when it comes back, supersedes the one it corrects.
"""

from __future__ import annotations

from pathlib import Path

from ..form.model import FormModel
from ..form.validate import Issue
from ..xlsx import meta as meta_layout
from ..xlsx.writer import write_annotated
from .importer import ImportResult

SUFFIX = {"zh": "_退回修改", "en": "_to-correct"}


def annotated(model: FormModel, result: ImportResult, meta: dict[str, str] | None = None, lang: str = "zh",
              reasons: list[Issue] = ()) -> bytes:
    """The annotated copy of ``result`` (with a reviewer's ``reasons``), as workbook bytes."""
    keep = {k: v for k, v in (meta or {}).items() if k not in meta_layout.IDENTITY}  # the writer sets those
    return write_annotated(model, result.data or {}, result.errors, submission_id=result.submission_id or "",
                           extra_meta=keep, lang=lang, reasons=list(reasons), warnings=result.warnings)


def annotated_name(result: ImportResult, lang: str = "zh") -> str:
    """``<the return's name>_退回修改``, without suffix."""
    stem = Path(result.file.rsplit("!", 1)[-1]).stem or "return"
    return stem + SUFFIX.get(lang, SUFFIX["zh"])


def annotate(model: FormModel, result: ImportResult, outdir: Path, meta: dict[str, str] | None = None,
             lang: str = "zh") -> str:
    """Write the annotated copy of ``result`` into ``outdir``; return its path."""
    return str(_write_new(outdir, annotated_name(result, lang), annotated(model, result, meta, lang)))


def _write_new(outdir: Path, stem: str, data: bytes) -> Path:
    """Write without overwriting: name.xlsx, name(2).xlsx, ... (safe across worker processes)."""
    n = 1
    while True:
        path = outdir / (f"{stem}.xlsx" if n == 1 else f"{stem}({n}).xlsx")
        try:
            with open(path, "xb") as fh:
                fh.write(data)
            return path
        except FileExistsError:
            n += 1


