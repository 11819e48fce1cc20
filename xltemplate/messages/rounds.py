"""Collection rounds: creating and finding rounds, where a return belongs, withdraw/restore, status."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "none": {"zh": "（无）", "en": "(none)"},
    "round_exists": {"zh": "已有名为“{name}”的收集轮次，请换一个名称（--round）", "en": "A round named “{name}” exists already; choose another name (--round)"},
    "round_unknown": {"zh": "没有名为“{name}”的收集轮次。现有轮次：{known}", "en": "There is no round “{name}”. Rounds: {known}"},
    "round_needs_db": {"zh": "收集轮次记录在数据库中：请不要同时使用 --no-db 和 {option}", "en": "Rounds live in the database: do not combine --no-db with {option}"},
    "other_year": {
        "zh": "此工作簿是 {found} 年度的模板，本轮收集的是 {expected} 年度的报表。请使用本年度下发的模板重新填写。",
        "en": "This workbook is a template for {found}; this round collects {expected}. Please refill this year's template.",
    },
    "other_round": {
        "zh": "此工作簿是收集轮次“{found}”下发的模板，不属于本次导入的“{expected}”。请检查是否发错了文件。",
        "en": "This workbook was issued for round “{found}”, not for “{expected}” being imported. Please check the file.",
    },
    "round_closed": {
        "zh": "收集轮次“{name}”已截止关闭，不再接收报送。如需补报，请联系财政局重新开放本轮。",
        "en": "Round “{name}” is closed and takes no more returns. Ask the finance bureau to reopen it.",
    },
    "not_in_current": {
        "zh": "“{label}”是表单 {version} 版的项目，当前 {current} 版已没有这一项；内容已保留在数据中，请核对。",
        "en": "“{label}” is a field of version {version}; the current version {current} no longer has it. Its value is kept in the data.",
    },
    "unknown_department": {"zh": "（未知部门）", "en": "(unknown department)"},
    "unrecognized_unissued": {
        "zh": "文件中的报送编号不是本局下发的模板编号，无法据此认定所属部门；请在“未识别的文件”中指定部门或舍弃。",
        "en": "The file's submission id was never issued by this bureau, so it tells no department; assign it to one or discard it under “Unrecognised files”.",
    },
    "unrecognized_forged": {
        "zh": "文件中的模板签名与下发时不符（模板信息被改动过），无法据此认定所属部门；请在“未识别的文件”中指定部门或舍弃。",
        "en": "The file's template signature is not the one it was issued with (its template data was changed), so it tells no department; assign or discard it under “Unrecognised files”.",
    },
    "unrecognized_no_template": {
        "zh": "文件不是用下发的模板填写的，看不出属于哪个部门；请在“未识别的文件”中指定部门或舍弃。",
        "en": "The file was not filled in a template we issued, so it tells no department; assign it to one or discard it under “Unrecognised files”.",
    },
    "not_unrecognized": {"zh": "报送 {id} 不是待指定部门的未识别文件", "en": "Return {id} is not an unrecognised file waiting for a department"},
    "not_on_roster": {"zh": "部门代码 {code} 不在轮次“{name}”的名单中", "en": "Department code {code} is not on the roster of round “{name}”"},
    "withdraw_needs_reason": {"zh": "撤回需要说明原因（--reason）", "en": "A withdrawal needs a reason (--reason)"},
    "no_such_return": {"zh": "没有编号为 {id} 的报送", "en": "There is no return with id {id}"},
    "already_withdrawn": {"zh": "报送 {id} 已经撤回过了", "en": "Return {id} is withdrawn already"},
    "not_withdrawn": {"zh": "报送 {id} 没有被撤回，无需恢复", "en": "Return {id} is not withdrawn"},
    "status_not_returned": {"zh": "未报送", "en": "not returned"},
    "status_invalid": {"zh": "有错误", "en": "invalid"},
    "status_unreadable": {"zh": "无法读取", "en": "unreadable"},
    "status_valid": {"zh": "检查无误", "en": "passes the check"},
    "round_open": {"zh": "进行中", "en": "open"},
    "round_closed_state": {"zh": "已关闭", "en": "closed"},
    "no_round": {"zh": "数据库中还没有收集轮次（用 distribute 创建）", "en": "The database holds no rounds yet (distribute creates one)"},
    "no_open_round": {"zh": "表单“{form}”没有进行中的收集轮次，请用 --round 指定", "en": "Form “{form}” has no open round; name one with --round"},
    "carry_none": {"zh": "轮次“{name}”中没有可结转的延续项目", "en": "Round “{name}” has no continuing projects to carry forward"},
    "carry_other_form": {"zh": "轮次“{name}”收集的是表单“{found}”，不是“{expected}”", "en": "Round “{name}” collected form “{found}”, not “{expected}”"},
    "col_code": {"zh": "部门代码", "en": "Code"},
    "col_department": {"zh": "部门", "en": "Department"},
    "col_status": {"zh": "状态", "en": "Status"},
    "col_returns": {"zh": "报送份数（项目）", "en": "Returns (projects)"},
    "col_approved": {"zh": "其中审核通过", "en": "Approved"},
    "col_office": {"zh": "归口科室", "en": "Office"},
    "col_last_sent": {"zh": "最近报送时间", "en": "Last sent"},
    "col_contact": {"zh": "联系人", "en": "Contact"},
    "sheet_status": {"zh": "报送情况", "en": "Status"},
    "sheet_missing": {"zh": "未报送", "en": "Not returned"},
    "sheet_notes": {"zh": "版本提示", "en": "Version notes"},
    "col_version": {"zh": "表单版本", "en": "Form version"},
    "note_line": {"zh": "  提示：{message}", "en": "  note: {message}"},
}
