"""The returns a benchmark imports: each its own workbook, written by the real writer from its own
instance (the seeds in ``tests/data`` with every value varied: names, amounts, texts, dates, 1-8
budget rows, 0-3 rows per indicator; seeded by the return's index, so a run is reproducible), 1 in
``INVALID_EVERY`` with one of five mistakes, spread over sub-folders.  No part is shared between
two returns but what the template itself fixes (styles, theme), so no cache keyed on a part's
content can flatter the figures.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FORM = "wuhai-perf-target"
FOLDERS = 8  # returns are spread over this many sub-folders
INVALID_EVERY = 50  # 1 in 50 returns is invalid (2 %)

SEEDS = [ROOT / "tests" / "data" / name for name in ("seed_000.json", "seed_001.json")]
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国晓西兵"
_WORDS = ["信访", "教育", "卫生", "交通", "水务", "林业", "农牧", "科技", "文旅", "应急", "民政", "司法"]
_ITEMS = ["生活补贴", "办公设备购置", "专项培训", "宣传印刷", "差旅费", "劳务费", "委托业务费", "维修维护"]
_INDICATORS = ["覆盖人数", "完成率", "按期完成", "成本控制", "群众满意度", "设备完好率", "培训人次", "资金到位率"]
_CATEGORIES = {"output": ["quantity", "quality", "timeliness", "cost"],
               "benefit": ["economic", "social", "ecological", "sustainability", "satisfaction"]}
#: The mistakes of invalid returns, in turn: (what, error code the importer must report)
MISTAKES = [("项目属性 = 新建", "enum"), ("预算功能科目 6 位", "pattern"), ("资金总额 ≠ 明细合计", "x-sum"),
            ("金额 3 位小数", "multipleOf"), ("项目单位 空", "required")]
_SEEDS_READ: list[dict[str, Any]] = []


def return_path(root: Path, i: int, n: int) -> Path:
    """Consecutive blocks per folder, so the importer's walk (sorted) meets the returns in index order."""
    per = -(-n // FOLDERS)
    return root / f"batch_{i // per:02d}" / f"return_{i:06d}.xlsx"


def is_invalid(i: int) -> bool:
    return i % INVALID_EVERY == INVALID_EVERY - 1


def mistake(i: int) -> int:
    return i // INVALID_EVERY % len(MISTAKES)


def instance(i: int) -> dict[str, Any]:
    """The instance of return ``i``: a seed with every value varied; invalid ones get a mistake."""
    import copy
    import random

    if not _SEEDS_READ:
        _SEEDS_READ.extend(json.loads(p.read_text(encoding="utf-8")) for p in SEEDS)
    r = random.Random(i)

    def person() -> str:
        return r.choice(_SURNAMES) + "".join(r.choice(_GIVEN) for _ in range(r.randint(1, 2)))

    def text(source: str, lo: int, hi: int) -> str:
        n = r.randint(lo, hi)
        start = r.randint(0, max(0, len(source) - n))
        return (source[start:start + n] or source).strip()

    def money(cents: int) -> int | float:
        return cents // 100 if cents % 100 == 0 else cents / 100

    seed = _SEEDS_READ[i % len(_SEEDS_READ)]
    d = copy.deepcopy(seed)
    word, year = r.choice(_WORDS), r.randint(2021, 2027)
    dept = f"乌海市{word}局第{i + 1}预算单位"
    d["cover"] = {"year": year, "project_name": f"{word}{r.choice(_ITEMS)}项目{i}", "department": dept,
                  "budget_code": f"{150000 + i}", "preparer": person(),
                  "prepared_on": f"{year - 1}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"}
    unit = {"name": dept, "functions": text(_SEEDS_READ[0]["unit"]["functions"], 40, 900)}
    if r.random() < 0.7:
        unit["contact"] = f"{person()} 1{r.randint(3, 9)}{r.randint(0, 10**9 - 1):09d}"
    if r.random() < 0.5:
        unit |= {"supervisor": f"乌海市{r.choice(_WORDS)}委员会",
                 "supervisor_contact": f"{person()} 0473-{r.randint(10**6, 10**7 - 1)}"}
    d["unit"] = unit
    period = f"{year}-{r.randint(1, 6):02d}~{year}-{r.randint(7, 12):02d}"
    d["project"] |= {"function_code": f"{r.randint(2000000, 2299999)}", "attribute": r.choice(["新增", "延续"]),
                     "period": period, "overview": text(_SEEDS_READ[1]["project"]["overview"], 20, 400),
                     "basis": text(_SEEDS_READ[0]["project"]["basis"], 20, 200),
                     "necessity": text(_SEEDS_READ[1]["project"]["necessity"], 10, 120)}
    cents = [r.randint(1, 500000) for _ in range(r.randint(1, 8))]
    d["budget_items"] = [{"name": f"{r.choice(_ITEMS)}{n + 1}", "amount": money(c)}
                         | ({"period": period} if r.random() < 0.6 else {}) for n, c in enumerate(cents)]
    total = sum(cents)
    carry = r.randint(0, total // 3) if r.random() < 0.4 else 0
    d["funding"] = {"total": money(total), "request": money(total - carry)}
    if carry:
        d["funding"]["carryover"] = money(carry)
    d["goals"] = {"annual": text(_SEEDS_READ[0]["goals"]["annual"], 8, 200)}
    if r.random() < 0.5:
        d["goals"]["long_term"] = text(_SEEDS_READ[0]["unit"]["functions"], 8, 300)
    d["indicators"] = {}
    for span in ("annual", "long_term") if r.random() < 0.4 else ("annual",):
        groups = {}
        for group, categories in _CATEGORIES.items():
            rows = {c: [{"name": f"{r.choice(_INDICATORS)}{k + 1}", "value": f"≥{r.randint(50, 100)}%"}
                        for k in range(r.randint(1, 3))] for c in categories if r.random() < 0.8}
            if rows:
                groups[group] = rows
        d["indicators"][span] = groups
    d["sign_off"] = {"preparer": d["cover"]["preparer"], "date": d["cover"]["prepared_on"]}
    if r.random() < 0.5:
        d["sign_off"]["department_head"] = person()
    if is_invalid(i):
        kind = mistake(i)
        if kind == 0:
            d["project"]["attribute"] = "新建"
        elif kind == 1:
            d["project"]["function_code"] = d["project"]["function_code"][:6]
        elif kind == 2:
            d["funding"]["total"] = money(total + 100)
        elif kind == 3:
            d["budget_items"][0]["amount"] = cents[0] / 100 + 0.001
        else:
            del d["unit"]["name"]
    return d


def write_return(model: Any, i: int) -> bytes:
    """Return ``i`` as the department sends it: the template issued to it, filled in."""
    from xltemplate.xlsx.writer import write_workbook

    d = instance(i)
    return write_workbook(model, d, submission_id=f"BENCH-{i:06d}",
                          extra_meta={"department": d["cover"]["department"], "department_code": f"{150000 + i}"})


def _make_range(args: tuple[str, int, int, int]) -> int:
    from xltemplate.form.forms import load_form

    root, start, stop, n = args
    model = load_form(FORM)
    for i in range(start, stop):
        return_path(Path(root), i, n).write_bytes(write_return(model, i))
    return stop - start


def make_returns(model: Any, n: int, root: Path, jobs: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    for i in range(n):
        return_path(root, i, n).parent.mkdir(parents=True, exist_ok=True)
    chunk = 100
    tasks = [(str(root), s, min(s + chunk, n), n) for s in range(0, n, chunk)]
    if jobs > 1 and n > chunk:
        with mp.get_context("fork").Pool(jobs) as pool:
            made = sum(pool.imap_unordered(_make_range, tasks))
    else:
        made = sum(map(_make_range, tasks))
    wall = time.perf_counter() - t0
    files = return_files(root)
    digests = {hashlib.sha256(p.read_bytes()).digest() for p in files}
    sizes = [p.stat().st_size for p in files]
    return {"n": made, "invalid": sum(1 for i in range(n) if is_invalid(i)), "wall_s": wall,
            "folders": len({return_path(root, i, n).parent for i in range(n)}), "mb": sum(sizes) / 2**20,
            "distinct_files": len(digests), "kb_min": min(sizes) / 1024, "kb_max": max(sizes) / 1024}


def check_returns(root: Path, n: int) -> dict[str, Any]:
    """A sample of returns through the importer: each gets its own data back, or its mistake."""
    from xltemplate.collect.importer import import_workbook

    picks = sorted(set(range(0, n, max(1, n // 40))) | set([i for i in range(n) if is_invalid(i)][:10]) | {n - 1})
    out, ok = {}, True
    for i in picks:
        r = import_workbook(return_path(root, i, n))
        codes = [e.code for e in r.errors]
        if is_invalid(i):
            good = r.status == "invalid" and MISTAKES[mistake(i)][1] in codes
        else:
            good = r.status == "valid" and r.data == instance(i)
        ok &= good and r.submission_id == f"BENCH-{i:06d}"
        out[i] = (r.status, codes)
    return {"ok": ok, "checked": len(picks), "sample": {str(k): list(v) for k, v in list(out.items())[:6]}}


def return_files(root: Path) -> list[Path]:
    """The returns in the order the importer walks them (sorted folders, sorted names)."""
    return sorted(root.rglob("*.xlsx"))
