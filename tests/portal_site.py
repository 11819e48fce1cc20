"""A served portal with something on every page (helper module, not a test file): two rounds of the
real form (the second closed), five departments with long names, returns valid, invalid, withdrawn
and superseded, uploads refused at a link, a bulk import job (one of its files under 未识别的文件), an
admin and a staff account, an API token.  The page tests (tests/test_portal_pages.py) open every page of it."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import scanfiles
from conftest import load_json, poke
from portal_server import Server, add_user, cli, csrf_of, login, start
from test_rounds import as_department, clerk_fills, roster_file

from xltemplate.form.forms import load_form
from xltemplate.form.model import FormModel

LONG = "乌海市海勃湾区人民政府办公室机关事务服务中心（市政府接待办公室）"
ROSTER = [["单位编码", "单位名称", "联系人"], ["101", "市信访局", "李杰 13912345678"], ["102", LONG, "王某"],
          ["103", "市教育局", ""], ["104", "市民政局", ""], ["105", "市司法局", ""]]
ADMIN, STAFF, OPERATOR = "管理员", "张三", "李四"


@dataclass
class Site:
    server: Server
    folder: Path
    model: FormModel
    links: dict[str, str]  # department code -> link path (round 1)
    closed_links: dict[str, str]  # round 2, closed
    templates: dict[str, Path] = field(default_factory=dict)
    job: int = 0
    seed: dict[str, Any] = field(default_factory=dict)
    pending: int = 0  # a return waiting for its review (101's)
    returned: int = 0  # a return a reviewer sent back with reasons (103's)

    @property
    def url(self) -> str:
        return self.server.url

    def wrong(self, code: str, name: str, n: int = 0) -> Path:
        """Department ``code``'s template filled with many mistakes (``n`` makes each copy distinct)."""
        data = as_department(self.seed, name, code)
        data["project"]["function_code"] = "201030"
        data["funding"]["request"] = "七万"
        data["project"]["period"] = "2021年1月至12月"
        data["unit"]["contact"] = f"靳兵 399{n:04d}"
        out = clerk_fills(self.templates[code], self.model, data, self.folder / f"填错的报表_{code}_{n}.xlsx")
        f = self.model.by_pointer["/cover/prepared_on"]
        return poke(out, self.model, {f.pointer: "去年十月"}, out)

    def right(self, code: str, name: str) -> Path:
        return clerk_fills(self.templates[code], self.model, as_department(self.seed, name, code),
                           self.folder / f"填好的报表_{code}.xlsx")


@contextlib.contextmanager
def _login_name(name: str) -> Iterator[None]:
    keys = ("LOGNAME", "USER", "LNAME", "USERNAME")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(dict.fromkeys(keys, name))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _links(folder: Path) -> dict[str, str]:
    with open(folder / "manifest.csv", encoding="utf-8-sig") as fh:
        return {m["code"]: m["link"] for m in csv.DictReader(fh)}


def build(folder: Path) -> Site:
    """The portal of this module's docstring, served; ``Site.server.stop()`` ends it."""
    db = f"sqlite:///{folder / 'portal.db'}"
    roster = roster_file(folder / "名单.csv", ROSTER)
    for name, out in (("2021年度项目支出绩效目标", "下发"), ("2020年度补报", "补报")):
        with _login_name(OPERATOR):  # who runs the command, as the audit log names them
            res = cli("distribute", "wuhai-perf-target", "--roster", str(roster), "-o", str(folder / out), "--db",
                      db, "--year", "2021", "--deadline", "2020-11-30", "--round", name, cwd=folder)
        assert res.returncode == 0, res.stderr
    add_user(db, ADMIN, "admin")
    add_user(db, STAFF, "staff")
    server = start(db, folder)
    site = Site(server, folder, load_form("wuhai-perf-target"), _links(folder / "下发"), _links(folder / "补报"),
                seed=load_json("seed_000.json"))
    names = {code: name for code, name, _contact in ROSTER[1:]}
    with httpx.Client(base_url=server.url, timeout=60) as c:
        for code, path in site.links.items():
            sid = re.search(r'/template/([^"]+)"', c.get(path).text).group(1)
            tpl = folder / "模板" / f"{code}.xlsx"
            tpl.parent.mkdir(exist_ok=True)
            tpl.write_bytes(c.get(f"{path}/template/{sid}").content)
            site.templates[code] = tpl

        def send(code: str, file: Path, name: str = "报表.xlsx", link: str | None = None) -> None:
            res = c.post((link or site.links[code]) + "/upload", files={"file": (name, file.read_bytes())})
            assert res.status_code == 200, res.text

        send("101", site.wrong("101", names["101"]), "第一次填的.xlsx")  # 有错误, then replaced
        send("101", site.right("101", names["101"]), "改好的.xlsx")
        send("101", Path(folder / "名单.csv"), "扫描件.pdf")  # refused: no workbook
        send("101", site.templates["102"], "别人的模板.xlsx")  # refused: another department's
        send("102", site.wrong("102", names["102"]), f"{names['102']}_绩效目标表_第二次修改_最终版.xlsx")
        send("103", site.right("103", names["103"]))
        send("104", site.right("104", names["104"]), "临时.xlsx")
        # a stamped scan of 101's return (its picture on the department's page)
        sid = re.search(r"/returns/(\d+)/print", c.get(site.links["101"]).text).group(1)
        res = c.post(f"{site.links['101']}/returns/{sid}/scan/stamped",
                     files={"scan": ("盖章扫描件.pdf", scanfiles.blank_pdf())})
        assert res.status_code == 303, res.text
    staff = login(server, ADMIN)
    # a return withdrawn with a reason, a bulk upload from the mail, a token
    ret = re.search(r'/returns/(\d+)/withdraw', staff.get("/rounds/1/d/104").text).group(1)
    staff.post(f"/returns/{ret}/withdraw", data={"csrf": staff.csrf, "reason": "测试用的副本"})
    mail = io.BytesIO()
    with zipfile.ZipFile(mail, "w") as zf:
        zf.write(site.right("105", names["105"]), "附件/市司法局.xlsx")
        zf.writestr("附件/说明.docx", b"not a workbook")
    res = staff.post("/rounds/1/upload", data={"csrf": staff.csrf},
                     files={"files": ("邮件附件.zip", mail.getvalue())})
    site.job = int(re.search(r"/jobs/(\d+)", res.headers["location"]).group(1))
    for _ in range(300):
        if "已完成" in staff.get(f"/rounds/1/jobs/{site.job}").text:
            break
        time.sleep(0.1)
    staff.post("/tokens", data={"csrf": csrf_of(staff.get("/tokens").text), "name": "预算系统"})
    # a return waiting for its review, and one sent back with reasons at a field and for the whole
    reviews = staff.get("/rounds/1/reviews").text
    ids = dict((code, int(sid)) for sid, code in re.findall(r'<tr data-id="(\d+)" data-code="(\d+)"', reviews))
    site.pending, site.returned = ids["101"], ids["103"]
    res = staff.post(f"/returns/{site.returned}/review", data={
        "csrf": staff.csrf, "decision": "returned", "r:": "成本指标与预算明细不符，请核对",
        "r:/indicators/annual/benefit/social/0/value": "请写明数值，如 ≥95%"})
    assert res.status_code == 303, res.text
    staff.post("/rounds/2/close", data={"csrf": staff.csrf})
    staff.close()
    return site
