"""What is wrong with the value of one field (or a rule over several): the messages of validation."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "required": {"zh": "必填，不能为空", "en": "Required; this cell must not be empty"},
    "type": {"zh": "应填写{name}，现在是“{value}”", "en": "Expected {name}, found “{value}”"},
    "type_number": {"zh": "数字", "en": "a number"},
    "type_integer": {"zh": "整数", "en": "a whole number"},
    "type_string": {"zh": "文字", "en": "text"},
    "type_boolean": {"zh": "是/否", "en": "yes/no"},
    "type_object": {"zh": "一组内容", "en": "a group"},
    "type_array": {"zh": "列表", "en": "a list"},
    "minimum": {"zh": "不能小于 {limit}", "en": "Must not be less than {limit}"},
    "maximum": {"zh": "不能大于 {limit}", "en": "Must not be more than {limit}"},
    "exclusiveMinimum": {"zh": "必须大于 {limit}", "en": "Must be more than {limit}"},
    "exclusiveMaximum": {"zh": "必须小于 {limit}", "en": "Must be less than {limit}"},
    "multipleOf_decimals": {"zh": "最多保留 {n} 位小数", "en": "At most {n} decimal places"},
    "multipleOf": {"zh": "应为 {limit} 的整数倍", "en": "Must be a multiple of {limit}"},
    "minLength": {"zh": "至少 {limit} 个字", "en": "At least {limit} characters"},
    "maxLength": {"zh": "不能超过 {limit} 个字（现有 {n} 个字）", "en": "At most {limit} characters (has {n})"},
    "pattern": {"zh": "格式不正确", "en": "Wrong format"},
    "enum": {"zh": "只能填写：{choices}（请从下拉列表选择）", "en": "Must be one of: {choices} (use the dropdown)"},
    "choices_sep": {"zh": "、", "en": ", "},
    "format_date": {
        "zh": "不是有效日期，请写成 2020-10-16 或 2020年10月16日",
        "en": "Not a valid date; write e.g. 2020-10-16",
    },
    "format": {"zh": "格式应为 {limit}", "en": "Expected format {limit}"},
    "minItems": {"zh": "至少填写 {limit} 行", "en": "Fill in at least {limit} row(s)"},
    "maxItems": {"zh": "最多填写 {limit} 行", "en": "At most {limit} row(s)"},
    "not_a_field": {"zh": "表单中没有这一项", "en": "Not a field of this form"},
    # our keywords
    "x-ordered-range": {"zh": "开始时间晚于结束时间", "en": "The start is after the end"},
    "x-placeholder": {
        "zh": "仍是模板中的提示文字，请改为实际内容",
        "en": "Still the template's prompt text; replace it with the real content",
    },
    "x-distinct": {
        "zh": "与本表另一项的内容完全相同，请分别填写",
        "en": "The same as another entry of this form; write each on its own",
    },
    "x-warnings": {"zh": "请核实这一项", "en": "Please check this entry"},
}
