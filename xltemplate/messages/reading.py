"""Messages about the cells of a return that was read: what a cell holds beyond its value, labels
found out of place, whether the template is the one issued, and where a value was found."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # what the cells say beyond their values (importer.cell_issues)
    "formula_in_input": {
        "zh": "这里应直接填写内容，不能填写公式（公式结果无法核对）",
        "en": "Type the value itself here, not a formula (its result cannot be checked)",
    },
    "hidden_value": {
        "zh": "这一行（列）被隐藏了，但里面填有内容；请取消隐藏后核对",
        "en": "This row (column) is hidden but holds a value; unhide it and check",
    },
    "control_chars": {
        "zh": "含有看不见的控制字符，请删除后重新输入",
        "en": "Contains invisible control characters; delete and retype it",
    },
    "num_format_kept": {
        "zh": "{cell}（{label}）的数字格式“{format}”无法准确还原为显示的文字，已按单元格中保存的值 {value} 记录，请核对",
        "en": "The number format “{format}” of {cell} ({label}) cannot be rendered exactly; the value stored in the cell, "
              "{value}, was kept: please check it",
    },
    # labels not where the form's positions put them (parts of the "moved" message)
    "label_sheet_missing": {"zh": "缺少工作表“{sheet}”", "en": "the sheet “{sheet}” is missing"},
    "label_off": {
        "zh": "{cell} 应为“{label}”，现为“{found}”",
        "en": "{cell} should read “{label}” but reads “{found}”",
    },
    # integrity of the template (integrity.check)
    "unsigned": {
        "zh": "模板没有本局的签名：不是财政局下发的模板，请使用下发的模板重新填写",
        "en": "The template carries no signature of the bureau: it was not issued by the bureau",
    },
    "forged": {
        "zh": "模板的标识与签名不符：模板信息被改动过（伪造或篡改），请使用下发的模板重新填写",
        "en": "The template's identity does not match its signature: it was altered (forged)",
    },
    "other_department": {
        "zh": "此模板是发给“{expected}”的，这里却是“{found}”：请使用本部门收到的模板",
        "en": "This template was issued to “{expected}” but says “{found}”: use your own department's",
    },
    # the error list of an annotated copy: a value read elsewhere than the template's cell
    "cell_moved": {"zh": "原 {was}，本表 {here}", "en": "was {was}, here {here}"},
}
