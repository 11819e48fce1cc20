"""The audit log in sentences: what the domain functions log, read back as a person reads it, with the
department and the round by their names (never department_code=107, replaces=[] or link:105); every
action logged anywhere has its sentence in the catalog."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

from conftest import load_json
from test_rounds import as_department, clerk_fills

from xltemplate.collect import events, intake, links, returns, rounds
from xltemplate.collect.distribute import distribute
from xltemplate.collect.store import Store
from xltemplate.form.model import FormModel
from xltemplate.messages import CATALOG

SOURCE = Path(__file__).resolve().parents[1] / "xltemplate"


def _logged_actions() -> set[str]:
    """Every action a call of ``log``/``record``/``_record`` in the package writes, or a call handed
    ``events.record`` (string literals, both branches of a conditional)."""
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            passed = any(isinstance(a, ast.Attribute) and a.attr in ("log", "record") for a in node.args)
            if name not in ("log", "record", "_record") and not passed:  # passed: run_in_threadpool(events.record, ..)
                continue
            for arg in node.args:
                for value in (arg.body, arg.orelse) if isinstance(arg, ast.IfExp) else (arg,):
                    if isinstance(value, ast.Constant) and isinstance(value.value, str) \
                            and re.fullmatch(r"[a-z][a-z_]*", value.value):
                        found.add(value.value)
    return found


def test_every_action_logged_has_its_sentence() -> None:
    actions = _logged_actions()
    assert {"upload", "withdraw", "restore", "revoke_link", "login", "download", "create_round"} <= actions
    missing = [a for a in sorted(actions) if f"event_{a}" not in CATALOG and not any(
        k.startswith(f"event_{a}_") for k in CATALOG)]
    assert not missing, missing
    now = dt.datetime(2021, 6, 1, tzinfo=dt.UTC)
    for action in sorted(actions):  # even with nothing in its detail, a whole sentence
        line = events.sentence(events.Event(id=1, at=now, actor="张三", action=action, round_id=None), now=now)
        assert "{" not in line and "None" not in line and action not in line, (action, line)


def test_the_log_reads_as_sentences_with_names(tmp_path: Path, wuhai: FormModel) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        roster = [{"code": "107", "name": "市信访局"}, {"code": "108", "name": "市财政局"}]
        issued = distribute(wuhai, roster, tmp_path / "out", store=store, round_name="2021年度绩效目标", year=2021,
                            created_by="李四")
        rnd = rounds.find_round(store, "2021年度绩效目标")
        token = links.regenerate(store, rnd.id, "107", "张三", "10.0.0.5")
        link = links.check(store, token)
        seed = load_json("seed_000.json")
        first = clerk_fills(tmp_path / "out" / issued[0].file, wuhai, as_department(seed, "市信访局", "107"),
                            tmp_path / "in" / "第一份.xlsx")
        receipt = intake.receive(store, first.read_bytes(), "第一份.xlsx", link, address="10.0.0.9")
        again = dict(as_department(seed, "市信访局", "107"))
        again["funding"] = dict(again["funding"], request="七万")
        second = clerk_fills(tmp_path / "out" / issued[0].file, wuhai, again, tmp_path / "in" / "第二份.xlsx")
        intake.receive(store, second.read_bytes(), "第二份.xlsx", link, address="10.0.0.9")
        intake.receive(store, b"%PDF-1.4 not a workbook", "扫描件.pdf", link, address="10.0.0.9")
        returns.withdraw(store, receipt.submission, "测试用的副本", "张三", "10.0.0.5")
        links.revoke(store, rnd.id, "107", "张三", "10.0.0.5")
        rounds.set_status(store, rnd.id, rounds.CLOSED, actor="张三")
        now = dt.datetime.now(dt.UTC)
        lines = [events.sentence(e, now=now) for e in reversed(events.page(store, round_id=rnd.id))]
        by_department = [events.sentence(e) for e in events.page(store, department="107")]
        english = [events.sentence(e, "en") for e in events.page(store, round_id=rnd.id)]
    finally:
        store.dispose()
    stamp = r"\d{1,2}月\d{1,2}日 \d\d:\d\d "
    sid = receipt.submission
    expected = [
        r"李四 建立了收集轮次“2021年度绩效目标”：名单 2 行，下发模板 2 份",
        r"张三 作废了 市信访局 的专用链接",
        r"张三 为 市信访局 重新生成了专用链接（旧链接随之失效）",
        rf"市信访局 通过专用链接上传了 第一份\.xlsx：检查无误（报送 #{sid}）",
        rf"市信访局 通过专用链接上传了 第二份\.xlsx：有错误（报送 #\d+，替换了报送 #{sid}）",
        r"市信访局 通过专用链接上传的 扫描件\.pdf 未收下：.+",
        rf"张三 撤回了 市信访局 的报送 #{sid}：测试用的副本",
        r"张三 作废了 市信访局 的专用链接",
        r"张三 截止关闭了“2021年度绩效目标”",
    ]
    assert len(lines) == len(expected), lines
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(stamp + pattern, line), (line, pattern)
    for line in lines + by_department:
        assert not re.search(r"department_code|replaces|link:|\[\]|=|None|107", line), line
    assert len(by_department) == 7  # closing the round is no department's line
    assert "截止关闭" not in " ".join(by_department)
    assert any("withdrew return" in line and "市信访局" in line for line in english)


def test_a_time_is_said_with_its_year_when_it_is_not_this_years() -> None:
    now = dt.datetime(2021, 6, 1, 12, tzinfo=dt.UTC)
    assert events.when(dt.datetime(2021, 3, 2, 2, 15, tzinfo=dt.UTC), now=now).endswith(":15")
    assert re.fullmatch(r"3月2日 \d\d:15", events.when(dt.datetime(2021, 3, 2, 2, 15, tzinfo=dt.UTC), now=now))
    assert re.fullmatch(r"2020年3月2日 \d\d:15", events.when(dt.datetime(2020, 3, 2, 2, 15, tzinfo=dt.UTC), now=now))
