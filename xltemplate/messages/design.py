"""Messages of ``xltemplate design``: a bureau's marked workbook -> the form's schema and layout."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # where a problem is
    "design_at": {"zh": "工作表“{sheet}” {cell}", "en": "sheet “{sheet}” {cell}"},
    # the input file
    "design_legacy": {
        "zh": "{file}：这是 Excel 97–2003（.xls）或 WPS（.et）格式的工作簿，无法读取其中的格式。"
              "请用 Excel、WPS 或 LibreOffice 打开后“另存为”Excel 工作簿（.xlsx），再对 .xlsx 文件运行 design。",
        "en": "{file}: an Excel 97–2003 (.xls) or WPS (.et) workbook, whose formatting cannot be read. "
              "Open it in Excel, WPS or LibreOffice, save it as an Excel workbook (.xlsx) and run design on that.",
    },
    "design_ods": {
        "zh": "{file}：这是 OpenDocument（.ods）表格。请用 LibreOffice 或 WPS 打开后“另存为”Excel 工作簿（.xlsx），"
              "再对 .xlsx 文件运行 design。",
        "en": "{file}: an OpenDocument (.ods) spreadsheet. Open it in LibreOffice or WPS, save it as an Excel "
              "workbook (.xlsx) and run design on that.",
    },
    "design_xlsb": {
        "zh": "{file}：这是 Excel 二进制工作簿（.xlsb）。请在 Excel 中“另存为”Excel 工作簿（.xlsx）后再运行 design。",
        "en": "{file}: an Excel binary workbook (.xlsb). Save it as an Excel workbook (.xlsx) and run design on that.",
    },
    "design_unreadable": {
        "zh": "{file}：无法作为 Excel 工作簿（.xlsx）读取（{detail}）。请确认文件完整，或重新另存为 .xlsx。",
        "en": "{file}: cannot be read as an Excel workbook (.xlsx) ({detail}). Check the file, or save it as .xlsx again.",
    },
    "design_schema_unreadable": {
        "zh": "--schema {file}：无法读取（{detail}）。",
        "en": "--schema {file}: cannot be read ({detail}).",
    },
    "design_problems": {
        "zh": "{file}：标记有 {n} 处问题，未生成任何文件。请在工作簿中改正后重新运行：",
        "en": "{file}: {n} problem(s) with the markers; nothing was written. Correct them in the workbook and run again:",
    },
    "design_no_markers": {
        "zh": "{file}：没有找到任何标记。请在每个填写位置写上标记，如 {项目名称}、{/cover/project_name} 或表格中的 {.明细项目名称}。",
        "en": "{file}: no markers found. Write a marker into every input cell, e.g. {项目名称}, {/cover/project_name}, "
              "or {.明细项目名称} in each row of a table.",
    },
    "design_id_needed": {
        "zh": "无法从文件名“{file}”得到表单标识，请用 --id 指定一个英文标识，如 --id ordos-perf-target。",
        "en": "Cannot make a form id from the file name “{file}”; give one with --id, e.g. --id ordos-perf-target.",
    },
    "design_bad_id": {
        "zh": "表单标识“{id}”不可用：只能由小写英文字母、数字和连字符组成（2–64 个字符），以字母或数字开头。",
        "en": "Form id “{id}” cannot be used: lower-case letters, digits and hyphens only (2–64 characters), "
              "starting with a letter or digit.",
    },
    "design_meta_sheet": {
        "zh": "工作表名“{sheet}”是系统保留的名称，请改名。",
        "en": "The sheet name “{sheet}” is reserved by xltemplate; rename the sheet.",
    },
    # markers
    "design_bad_marker": {
        "zh": "{where}：标记“{marker}”无法识别：{reason}",
        "en": "{where}: cannot read the marker “{marker}”: {reason}",
    },
    "design_reason_multiline": {"zh": "标记只能写在一行内", "en": "a marker must fit on one line"},
    "design_reason_item": {
        "zh": "不认识“{item}”。可写的有：类型（text/文本、number/数字、integer/整数、date/日期、month-range/起止年月、"
              "boolean/是否）、选项（新增|延续）、范围（>=0、<=100、0~100）、小数位（2位小数）、字数（150字内）、"
              "数字位数（7位数字）、必填（* 或 必填）、表格行数（共20行）",
        "en": "“{item}” is not understood. Allowed: a type (text, number, integer, date, month-range, boolean), "
              "choices (新增|延续), bounds (>=0, <=100, 0~100), decimals (2位小数), a length (150字内), "
              "digits (7位数字), required (* or 必填), a table's rows (共20行)",
    },
    "design_reason_two_types": {"zh": "写了两个类型（{a}、{b}）", "en": "two types given ({a}, {b})"},
    "design_reason_enum_type": {
        "zh": "选项（|）只能用于文本，不能再写类型 {kind}", "en": "choices (|) are text; they cannot also have type {kind}"},
    "design_reason_number_rule": {
        "zh": "“{item}”只能用于数字，这里的类型是 {kind}（文本的字数请写成“150字内”）",
        "en": "“{item}” applies to numbers, but the type is {kind} (for text length write 150字内)"},
    "design_reason_text_rule": {
        "zh": "“{item}”只能用于文本，这里的类型是 {kind}", "en": "“{item}” applies to text, but the type is {kind}"},
    "design_reason_choices": {"zh": "选项不能为空或重复", "en": "choices must be non-empty and distinct"},
    "design_reason_pointer": {
        "zh": "“{pointer}”不是可用的字段路径（{detail}）", "en": "“{pointer}” is not a usable field path ({detail})"},
    "design_pointer_empty": {"zh": "路径中有空的一段", "en": "it has an empty step"},
    "design_pointer_space": {"zh": "路径中有空格", "en": "it has a space in it"},
    "design_reason_rows": {
        "zh": "“{item}”写的是表格的行数，只能写在表格列的标记里（如 {.内容:共20行}）",
        "en": "“{item}” gives the rows of a table; it belongs in a table column's marker (e.g. {.内容:共20行})"},
    "design_rows_stated_differ": {
        "zh": "表格“{table}”的各列写了不同的行数（{rows}），请写成一样的。",
        "en": "The columns of table “{table}” give different numbers of rows ({rows}); give one."},
    "design_rows_fewer": {
        "zh": "{where}：表格“{table}”写明共 {n} 行，但已经画了 {drawn} 行。请删去多画的行，或把行数改为至少 {drawn}。",
        "en": "{where}: table “{table}” is to have {n} rows, but {drawn} are drawn. Delete the extra rows, or give "
              "at least {drawn}."},
    "design_pointer_star": {
        "zh": "* 只能出现一次，且不能在开头或结尾", "en": "* may appear once, not first and not last"},
    "design_partial_marker": {
        "zh": "{where}：“{text}”中含有标记，但标记必须单独占满一个单元格（标签写在旁边的单元格里）。"
              "如果这些花括号本来就是表格文字，请改用全角括号 ｛｝。",
        "en": "{where}: “{text}” contains a marker, but a marker must be the whole content of its cell "
              "(put the label in the cell beside it).",
    },
    "design_unclosed_marker": {
        "zh": "{where}：“{text}”以花括号开头，却没有结束的“}”，不会成为填写项。若是标记，请在末尾补上“}”；"
              "若是文字，请去掉花括号。",
        "en": "{where}: “{text}” opens a brace that is never closed, so it is not an input. If it is a marker, add "
              "“}” at its end; if it is text, remove the brace.",
    },
    "design_stray_brace": {
        "zh": "{where}：“{text}”以“}”结尾，却没有开头的“{”，不会成为填写项。若是标记，请在开头补上“{”；"
              "若是文字，请去掉花括号。",
        "en": "{where}: “{text}” ends with “}” that was never opened, so it is not an input. If it is a marker, add "
              "“{” at its start; if it is text, remove the brace.",
    },
    "design_duplicate": {
        "zh": "同一个填写项“{field}”有两个标记：{first} 和 {second}。每个填写项只能标记一个单元格"
              "（两个不同的项请写不同的标题，如 {项目单位联系电话}）。",
        "en": "The field “{field}” is marked twice: {first} and {second}. Mark each field in one cell only "
              "(give different fields different titles, e.g. {项目单位联系电话}).",
    },
    "design_not_contiguous": {
        "zh": "{where}：表格列“{field}”的标记行不连续（第 {after} 行之后缺了第 {missing} 行）。"
              "表格的每一行都要写上标记；两个不同的表格请加上表名，如 {数量指标.三级指标}。",
        "en": "{where}: the rows of table column “{field}” are not contiguous (row {missing} is missing after "
              "row {after}). Mark every row of a table; give two different tables names, e.g. {数量指标.三级指标}.",
    },
    "design_not_column": {
        "zh": "表格列“{field}”的标记不在同一列或大小不同（{cells}）。一个表格列的各行应上下对齐、合并方式相同。",
        "en": "The marks of table column “{field}” are not in one column or differ in size ({cells}). "
              "The rows of a table column must be stacked and merged alike.",
    },
    "design_row_markers_differ": {
        "zh": "{where}：表格列“{field}”各行的标记写法不同（“{first}”与“{other}”），请每行写相同的标记。",
        "en": "{where}: the rows of table column “{field}” carry different markers (“{first}” and “{other}”); "
              "write the same marker in every row.",
    },
    "design_rows_differ": {
        "zh": "表格“{table}”的各列行数或位置不一致：“{a}”在 {rows_a}，“{b}”在 {rows_b}。",
        "en": "The columns of table “{table}” do not cover the same rows: “{a}” at {rows_a}, “{b}” at {rows_b}.",
    },
    "design_table_sheets": {
        "zh": "表格“{table}”的列分布在不同的工作表上（{sheets}），一个表格只能在一个工作表里。",
        "en": "The columns of table “{table}” are on different sheets ({sheets}); a table must be on one sheet.",
    },
    "design_hidden_merged": {
        "zh": "{where}：标记“{marker}”在合并单元格 {range} 被遮住的部分，看不见也填不了。请把标记写在合并区域左上角的单元格。",
        "en": "{where}: the marker “{marker}” is in the hidden part of the merged cells {range}, where nobody can "
              "see or fill it. Write it in the top-left cell of the merged range.",
    },
    "design_hidden_marker": {
        "zh": "{where}：标记“{marker}”所在的行、列或工作表被隐藏了。请取消隐藏，或删去这个标记。",
        "en": "{where}: the marker “{marker}” is in a hidden row, column or sheet. Unhide it, or remove the marker.",
    },
    "design_formula_marked": {
        "zh": "{where}：这个单元格是公式（{formula}），不能作为填写项。填写项只写标记；需要计算的合计请留作公式、不加标记。",
        "en": "{where}: this cell is a formula ({formula}) and cannot be an input. An input cell holds just its "
              "marker; a computed total stays a formula with no marker.",
    },
    "design_no_title": {
        "zh": "{where}：标记“{marker}”没有标题，左边和上方也找不到标签。请把标题写进标记，如 {联系电话}。",
        "en": "{where}: the marker “{marker}” has no title and no label to its left or above. Write the title in "
              "the marker, e.g. {联系电话}.",
    },
    "design_tree_conflict": {
        "zh": "{where}：“{pointer}”既是一个填写项，又是另一组填写项的上级（{other}），请改用不同的路径。",
        "en": "{where}: “{pointer}” is both a field and the group of another field ({other}); use different paths.",
    },
    "design_formula_name": {
        "zh": "{where}：公式 {formula} 引用了“{name}”，它不是单元格地址（名称或其他工作簿在模板中不保留）。请改为单元格地址。",
        "en": "{where}: the formula {formula} refers to “{name}”, which is not a cell address (names and other "
              "workbooks are not kept in the template). Use cell addresses.",
    },
    "design_formula_sheet": {
        "zh": "{where}：公式 {formula} 引用了工作表“{sheet}”，它不在这个工作簿中。",
        "en": "{where}: the formula {formula} refers to sheet “{sheet}”, which is not in this workbook.",
    },
    # notes: the run goes on
    "design_notes": {"zh": "请注意：", "en": "Note:"},
    "design_note_dropdown": {
        "zh": "{where}：工作簿原有的下拉列表（{choices}）成为这个填写项的选项。",
        "en": "{where}: the workbook's own dropdown ({choices}) becomes this field's choices."},
    "design_note_chart_sheet": {
        "zh": "图表工作表“{sheet}”没有纳入表单。", "en": "The chart sheet “{sheet}” is not part of the form."},
    "design_note_shape": {
        "zh": "{where}：{what}{text}不会出现在模板中（模板保留单元格和图片，不保留文本框、形状和图表；需要的文字请写进单元格）。",
        "en": "{where}: {what} {text} is not carried into the template (it keeps cells and pictures, not text boxes, "
              "shapes and charts; put the text you need into cells)."},
    "design_shape_textbox": {"zh": "文本框", "en": "a text box"},
    "design_shape_shape": {"zh": "形状", "en": "a shape"},
    "design_shape_chart": {"zh": "图表", "en": "a chart"},
    "design_shape_group": {"zh": "组合图形", "en": "a group of shapes"},
    "design_shape_line": {"zh": "线条", "en": "a line"},
    "design_shape_picture": {"zh": "无法读取的图片", "en": "a picture that cannot be read"},
    "design_note_comments": {
        "zh": "工作表“{sheet}”中的 {n} 个批注不会出现在模板中（填写说明请写进 schema 的 description）。",
        "en": "{n} comment(s) on sheet “{sheet}” are not carried into the template (put guidance into the schema's "
              "descriptions)."},
    "design_note_conditional": {
        "zh": "工作表“{sheet}”的条件格式不保留。", "en": "The conditional formatting of sheet “{sheet}” is not kept."},
    "design_note_header_picture": {
        "zh": "工作表“{sheet}”页眉页脚中的图片不保留。", "en": "Pictures in the header or footer of sheet “{sheet}” are not kept."},
    "design_note_gradient": {
        "zh": "{where}：渐变填充不保留，改为无填充。", "en": "{where}: a gradient fill is not kept (no fill instead)."},
    "design_note_array_formula": {
        "zh": "{where}：数组公式按普通公式写入模板。", "en": "{where}: an array formula is written as an ordinary formula."},
    "design_note_removed": {
        "zh": "schema 中的“{pointer}”（{title}）在工作簿中已没有标记，已从 schema 中删除。",
        "en": "“{pointer}” ({title}) of the schema has no marker in the workbook any more; it was removed from the "
              "schema."},
    "design_note_rule_removed": {
        "zh": "规则“{rule}”引用的“{pointer}”已不存在，规则已删除。",
        "en": "The rule “{rule}” refers to “{pointer}”, which is gone; the rule was removed."},
    "design_note_overridden": {
        "zh": "“{pointer}”：工作簿标记写明了 {keyword} = {new}，替换了 schema 中的 {old}（这些要在工作簿的标记里改）。",
        "en": "“{pointer}”: the workbook's marker says {keyword} = {new}, replacing {old} from the schema (change these "
              "in the workbook's marker)."},
    # what the generated schema says
    "design_wrote": {
        "zh": "已生成 {schema} 和 {layout}：{fields} 个填写项，{tables} 个表格。",
        "en": "wrote {schema} and {layout}: {fields} field(s), {tables} table(s).",
    },
    "design_table_title": {"zh": "表格{n}", "en": "Table {n}"},
    "design_titles": {
        "zh": "标题（取自工作簿中的文字；不对的，请在 schema 的 title 中改正后用 --schema 再运行 design）：",
        "en": "Titles (taken from the workbook's text; correct any in the schema's title and run design again with "
              "--schema):"},
    "design_title_form": {"zh": "表单：“{title}”（{where}）", "en": "the form: “{title}” ({where})"},
    "design_title_field": {
        "zh": "{pointer}：“{title}”（{marker} 的标记，标题取自 {label}）",
        "en": "{pointer}: “{title}” (the marker at {marker}, titled from {label})"},
    "design_title_table": {
        "zh": "表格 {pointer}：“{title}”（取自 {label}）", "en": "table {pointer}: “{title}” (from {label})"},
    "design_month_range_message": {
        "zh": "起止时间应写成 开始年月~结束年月，如 2021-01~2021-12",
        "en": "Write the period as start~end month, e.g. 2021-01~2021-12",
    },
    "design_digits_message": {"zh": "应为{n}位数字", "en": "Must be {n} digits"},
}
