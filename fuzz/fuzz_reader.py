"""Fuzz target over the reader and importer (atheris / libFuzzer).

    .venv/bin/python fuzz/fuzz_reader.py -runs=100000 -max_len=200000 -rss_limit_mb=1024 [corpus_dir]

Seeds are built at start by code: a valid filled return, a blank template, the second form, and
every case of tests/corpus.py.  Half of the mutations are libFuzzer's own on the raw bytes; the
other half open the zip, mutate one part (a sheet, the shared strings, workbook.xml, the
properties) and zip it again, so the parsers behind the zip layer get exercised too.

The property: every input gives a result with a status of valid, invalid or unreadable and a
message for every error; nothing raises.
"""

from __future__ import annotations

import io
import os
import random
import sys
import tempfile
import zipfile
from pathlib import Path

import atheris

os.environ["XLTEMPLATE_DEBUG"] = "1"  # let unexpected exceptions through to the fuzzer

with atheris.instrument_imports(include=["xltemplate"]):
    from xltemplate.collect.importer import import_workbook

ROOT = Path(__file__).resolve().parents[1]
STATUSES = {"valid", "invalid", "unreadable"}


def seeds(folder: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import json

    from corpus import CASES

    from xltemplate.form.forms import load_form
    from xltemplate.xlsx.writer import write_workbook

    wuhai = load_form("wuhai-perf-target")
    seed = json.loads((ROOT / "tests/data/seed_000.json").read_text(encoding="utf-8"))
    good = write_workbook(wuhai, seed, submission_id="S")
    (folder / "good.xlsx").write_bytes(good)
    (folder / "blank.xlsx").write_bytes(write_workbook(wuhai))
    claim = json.loads((ROOT / "tests/data/expense_claim.json").read_text(encoding="utf-8"))
    (folder / "claim.xlsx").write_bytes(write_workbook(load_form("expense-claim"), claim))
    for name, (build, _) in CASES.items():
        if "bomb" not in name:  # the bombs are large; the limits are tested in test_hostile.py
            (folder / f"{name}.xlsx").write_bytes(build(wuhai, good, seed))


def test_one_input(data: bytes) -> None:
    result = import_workbook("fuzz.xlsx", data=data)
    if result.status not in STATUSES:
        raise AssertionError(f"status {result.status!r}")
    for error in result.errors:
        if not error.message:
            raise AssertionError(f"empty message: {error}")
        if error.code == "unexpected":  # the safety net caught something: that is a finding
            raise AssertionError(error.message)


def mutate(data: bytes, max_size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    if rng.random() < 0.5 or not data.startswith(b"PK"):
        return atheris.Mutate(data, max_size)
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        infos = src.infolist()
        victim = rng.choice(infos).filename
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in infos:
                part = src.read(info.filename)
                if info.filename == victim:
                    part = atheris.Mutate(part, len(part) + 256)
                dst.writestr(info.filename, part)
        return out.getvalue()[:max_size]
    except Exception:
        return atheris.Mutate(data, max_size)


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        folder = Path(tempfile.mkdtemp(prefix="xlt-fuzz-"))
        seeds(folder)
        args.append(str(folder))
    atheris.Setup(args, test_one_input, custom_mutator=mutate)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
