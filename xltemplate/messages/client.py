"""What a clerk's spreadsheet client shows: data-validation alerts and prompts of the template, and
the 错误清单 sheet of an annotated return."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "dv_error_title": {"zh": "输入有误", "en": "Invalid entry"},
    "dv_choose": {"zh": "请从下拉列表中选择：{choices}", "en": "Choose from the list: {choices}"},
    "dv_yes_no": {"zh": "请选择 是 或 否", "en": "Choose 是 or 否"},
    "dv_date": {
        "zh": "这里应填日期，如 2020-10-16 或 2020年10月16日。仍要保留请点“是”。",
        "en": "A date is expected here, e.g. 2020-10-16.",
    },
    # numbers: "请输入" + what + the conditions in brackets
    "dv_number": {"zh": "请输入{what}{conditions}", "en": "Enter {what}{conditions}"},
    "dv_what_number": {"zh": "数字", "en": "a number"},
    "dv_what_integer": {"zh": "整数", "en": "a whole number"},
    "dv_conditions": {"zh": "（{list}）", "en": " ({list})"},
    "dv_min": {"zh": "不小于 {n}", "en": "at least {n}"},
    "dv_max": {"zh": "不大于 {n}", "en": "at most {n}"},
    "dv_xmin": {"zh": "大于 {n}", "en": "more than {n}"},
    "dv_xmax": {"zh": "小于 {n}", "en": "less than {n}"},
    "dv_decimals": {"zh": "最多 {n} 位小数", "en": "at most {n} decimals"},
    "dv_multiple": {"zh": "{n} 的整数倍", "en": "a multiple of {n}"},
    "list_sep": {"zh": "、", "en": ", "},
    # text
    "dv_length_max": {"zh": "最多 {hi} 个字", "en": "At most {hi} characters"},
    "dv_length_between": {"zh": "长度应为 {lo}–{hi} 个字", "en": "{lo} to {hi} characters"},
    "dv_length_exact": {"zh": "应为 {n} 位", "en": "Exactly {n} characters"},
    "dv_and_length": {"zh": "{rule}；{length}", "en": "{rule}; {length}"},
    "dv_checked_later": {
        "zh": "{rule}（其余格式要求在收表时检查）",
        "en": "{rule} (the other format rules are checked when the form is collected)",
    },
    # a pattern the client checks, described from its parts
    "dv_pattern": {"zh": "应为{parts}", "en": "Must be {parts}"},
    "dv_pattern_or": {"zh": "，或", "en": ", or "},
    "dv_pattern_then": {"zh": "，接着", "en": ", then "},
    "dv_one_of": {"zh": "只能填写：{choices}", "en": "Must be one of: {choices}"},
    "dv_count_exact": {"zh": "{n}位{what}", "en": "{n} {what}"},
    "dv_count_between": {"zh": "{lo}–{hi}位{what}", "en": "{lo} to {hi} {what}"},
    "dv_count_at_least": {"zh": "至少{lo}位{what}", "en": "at least {lo} {what}"},
    "dv_count_any": {"zh": "任意位{what}", "en": "any number of {what}"},
    "dv_literal": {"zh": "“{text}”", "en": "“{text}”"},
    "dv_class_digits": {"zh": "数字", "en": "digit(s)"},
    "dv_class_upper": {"zh": "大写字母", "en": "capital letter(s)"},
    "dv_class_lower": {"zh": "小写字母", "en": "small letter(s)"},
    "dv_class_letters": {"zh": "字母", "en": "letter(s)"},
    "dv_class_alnum": {"zh": "字母或数字", "en": "letter(s) or digit(s)"},
    "dv_class_upper_digits": {"zh": "大写字母或数字", "en": "capital letter(s) or digit(s)"},
    "dv_class_chars": {"zh": "字符（{chars} 之一）", "en": "character(s) (one of {chars})"},
    # the 错误清单 sheet of an annotated return
    "errors_sheet": {"zh": "错误清单", "en": "Errors"},
    "errors_no": {"zh": "序号", "en": "No."},
    "errors_sheet_col": {"zh": "工作表", "en": "Sheet"},
    "errors_cell": {"zh": "单元格", "en": "Cell"},
    "errors_field": {"zh": "项目", "en": "Field"},
    "errors_found": {"zh": "填写的内容", "en": "Value entered"},
    "errors_problem": {"zh": "问题", "en": "Problem"},
    "errors_kind": {"zh": "类别", "en": "Kind"},
    "kind_error": {"zh": "错误", "en": "error"},
    "kind_reason": {"zh": "审核意见", "en": "reviewer"},
    "kind_warning": {"zh": "提示", "en": "note"},
    "mark_reason": {"zh": "审核意见：{message}", "en": "Reviewer: {message}"},
    "mark_warning": {"zh": "提示：{message}", "en": "Note: {message}"},
    "reasons_sheet": {"zh": "审核意见", "en": "Reviewer"},
    "warnings_sheet": {"zh": "提示", "en": "Notes"},
    # the template's own text
    "page_footer": {"zh": "&C第 &P 页 共 &N 页", "en": "&CPage &P of &N"},
    # the automatic layout (the template's own text, in Chinese)
    "auto_checks": {"zh": "校验", "en": "Checks"},
    "auto_title": {"zh": "表单", "en": "Form"},
}
