"""Why data cannot be written into a template (``fill``, ``distribute``, annotated returns)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "fill_not_object": {"zh": "数据必须是一个 JSON 对象", "en": "The data must be a JSON object"},
    "fill_not_list": {"zh": "{pointer}（{label}）应为列表", "en": "{pointer} ({label}) must be a list"},
    "fill_too_many_rows": {
        "zh": "{pointer}（{label}）有 {n} 行，模板只能容纳 {capacity} 行，请拆分为多份或调整模板容量",
        "en": "{pointer} ({label}) has {n} rows; the template holds {capacity}: split it or change the template's capacity",
    },
    "fill_field_problem": {"zh": "{pointer}（{label}）：{problem}", "en": "{pointer} ({label}): {problem}"},
    "fill_no_cell": {"zh": "{pointer}：表单中没有这个字段的单元格", "en": "{pointer}: the form has no cell for this field"},
    "fill_one_value": {"zh": "这里只能填一个值，不能是对象或列表", "en": "Only one value fits here, not an object or a list"},
    "fill_not_number": {"zh": "应为数字，得到 {value}", "en": "Expected a number, got {value}"},
    "fill_not_finite": {"zh": "数字必须是有限值", "en": "The number must be finite"},
    "fill_too_precise": {
        "zh": "数字超出 Excel 能精确保存的范围（15 位有效数字）",
        "en": "The number is beyond what Excel stores exactly (15 significant digits)",
    },
    "fill_not_boolean": {"zh": "应为 true/false，得到 {value}", "en": "Expected true/false, got {value}"},
    "fill_not_date": {"zh": "日期应写成 YYYY-MM-DD，得到 {value}", "en": "Write the date as YYYY-MM-DD, got {value}"},
    "fill_not_choice": {"zh": "无法写入下拉单元格：{value}", "en": "Cannot go into a dropdown cell: {value}"},
    "fill_not_text": {"zh": "应为文本，得到 {value}", "en": "Expected text, got {value}"},
    "fill_text_too_long": {
        "zh": "文本有 {n} 个字符，超过 Excel 单元格上限 {max}",
        "en": "The text has {n} characters, more than an Excel cell holds ({max})",
    },
}
