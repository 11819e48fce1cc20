"""The 汇总 report: sheet names, column headers, and why a report cannot be written.

Headers shared with the annotated return's 错误清单 (sheet, cell, field, value, problem) and the
round's statuses are the keys of those sections (``errors_*`` in client, ``status_*`` in rounds)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "report_summary": {"zh": "汇总", "en": "Summary"},
    "report_review": {"zh": "审核状态", "en": "Review"},
    "report_grade": {"zh": "评级", "en": "Grade"},
    "report_approved_only": {"zh": "（审核通过）", "en": " (approved)"},
    "report_id": {"zh": "记录号", "en": "Record"},
    "report_department_code": {"zh": "部门代码", "en": "Department code"},
    "report_submission_id": {"zh": "报送编号", "en": "Submission ID"},
    "report_file": {"zh": "文件", "en": "File"},
    "report_received_at": {"zh": "接收时间", "en": "Received at"},
    "report_row": {"zh": "行号", "en": "Row"},
    "report_area": {"zh": "区域", "en": "Area"},
    "report_level": {"zh": "分组{n}", "en": "Group {n}"},
    "report_true": {"zh": "是", "en": "TRUE"},
    "report_false": {"zh": "否", "en": "FALSE"},
    "report_no_submissions": {"zh": "数据库中还没有任何表单的报送", "en": "the database holds no submissions"},
    "report_several_forms": {
        "zh": "数据库中有多个表单：{forms}，请用 --form 指定",
        "en": "the database holds several forms: {forms}; choose one with --form",
    },
    "report_bad_format": {
        "zh": "不支持的报表格式 {suffix}，请用 .xlsx、.csv 或 .jsonl",
        "en": "unsupported report format {suffix}: use .xlsx, .csv or .jsonl",
    },
    "report_no_suffix": {"zh": "（无扩展名）", "en": "(no suffix)"},
}
