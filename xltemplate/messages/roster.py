"""Why a roster cannot be used by ``distribute``: the file, the row, the column, and what to do."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "roster_encoding": {
        "zh": "{source}：无法识别文件编码，请另存为 UTF-8 的 CSV",
        "en": "{source}: unknown text encoding; save it as a UTF-8 CSV",
    },
    "roster_empty": {"zh": "{source}：名单是空的", "en": "{source}: the roster is empty"},
    "roster_no_code_name": {
        "zh": "{source}：名单必须有部门代码和部门名称两列（列名可写“部门代码”“单位编码”“预算单位编码”等，“部门名称”“单位名称”等），现有列：{columns}",
        "en": "{source}: the roster needs a department code column (code, 部门代码, 单位编码, ...) and a name column (name, 部门名称, 单位名称, ...); it has: {columns}",
    },
    "roster_unknown_column": {
        "zh": "{source}：列“{column}”不是表单中的字段（可用 JSON 指针、定义名称或字段标题）",
        "en": "{source}: column “{column}” is not a field of the form (use a JSON pointer, defined name or field title)",
    },
    "roster_column_pattern": {
        "zh": "{source}：列“{column}”是重复区域“{area}”的一列，名单的一列只能填一个单元格：请写成某一行的指针，如 {example}（第1行）",
        "en": "{source}: column “{column}” is a column of the repeating area “{area}”, and a roster column fills one cell: "
              "name one row, e.g. {example} (row 1)",
    },
    "roster_column_beyond": {
        "zh": "{source}：列“{column}”：“{area}”只有 {capacity} 行，可用 {first} 到 {last}",
        "en": "{source}: column “{column}”: “{area}” has {capacity} rows, {first} to {last}",
    },
    "roster_column_group": {
        "zh": "{source}：列“{column}”是一组内容“{label}”，不是一个单元格：请写出其中某个字段的指针，如 {example}",
        "en": "{source}: column “{column}” is the group “{label}”, not one cell: name one of its fields, e.g. {example}",
    },
    "roster_column_title_in_area": {
        "zh": "{source}：列“{column}”是重复区域“{area}”的一列：请写成某一行的指针，如 {example}（第1行）",
        "en": "{source}: column “{column}” is a column of the repeating area “{area}”: name one row, e.g. {example} (row 1)",
    },
    "roster_column_ambiguous": {
        "zh": "{source}：列“{column}”是多个字段的标题（{pointers}），请改用 JSON 指针",
        "en": "{source}: column “{column}” is the title of several fields ({pointers}); use a JSON pointer",
    },
    "roster_no_code_or_name": {
        "zh": "{source} 第{n}行：部门代码和部门名称不能为空",
        "en": "{source} line {n}: the department code and name must not be empty",
    },
    "roster_line": {"zh": "{source} 第{n}行：{problem}", "en": "{source} line {n}: {problem}"},
    "roster_value": {"zh": "{source} 第{n}行：{label}“{value}”：{message}", "en": "{source} line {n}: {label} “{value}”: {message}"},
    "roster_rule": {"zh": "{source} 第{n}行：{label}：{message}", "en": "{source} line {n}: {label}: {message}"},
    "roster_code_twice": {
        "zh": "{source}：部门代码 {code} 出现了不止一次",
        "en": "{source}: department code {code} appears more than once",
    },
    "roster_code_twice_project": {
        "zh": "{source}：部门代码 {code} 出现了不止一次（同一项目）",
        "en": "{source}: department code {code} appears more than once (the same project)",
    },
    "roster_department": {"zh": "{source}（{code} {name}）：{problem}", "en": "{source} ({code} {name}): {problem}"},
}
