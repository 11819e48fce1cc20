"""Messages a clerk reads about a whole file (cell-level messages live in :mod:`validate`)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "not_xlsx": {
        "zh": "无法读取：不是有效的 Excel（.xlsx）工作簿，可能已损坏或是其他类型的文件。"
              "请用 Excel、WPS 或 LibreOffice 打开后“另存为 .xlsx”再提交。",
        "en": "Cannot read: not a valid Excel (.xlsx) workbook; it may be damaged or another kind of file. "
              "Open it in Excel, WPS or LibreOffice and save it as .xlsx.",
    },
    "corrupt": {
        "zh": "无法读取：工作簿已损坏（{detail}）。请重新保存或重新填写模板。",
        "en": "Cannot read: the workbook is damaged ({detail}). Save it again or refill the template.",
    },
    "io": {"zh": "无法打开文件：{detail}", "en": "Cannot open the file: {detail}"},
    "sheet": {"zh": "无法读取工作表：{detail}", "en": "Cannot read a sheet: {detail}"},
    "no_metadata": {
        "zh": "此工作簿不是由本系统下发的模板（找不到表单标识）。请使用财政局下发的模板填写。",
        "en": "This workbook is not a template issued by this system (no form identifier). "
              "Please fill in the template you were sent.",
    },
    "unknown_form": {
        "zh": "此工作簿属于表单“{found}”，系统中没有这个表单。",
        "en": "This workbook belongs to form “{found}”, which this system does not know.",
    },
    "other_form": {
        "zh": "此工作簿是表单“{found}”，不是要导入的“{expected}”。",
        "en": "This workbook is form “{found}”, not the expected “{expected}”.",
    },
    "old_version": {
        "zh": "此工作簿是表单“{form}”的 {found} 版模板，当前版本是 {expected}。请下载新版模板重新填写。",
        "en": "This workbook uses version {found} of form “{form}”; the current version is {expected}. "
              "Please refill the new template.",
    },
    "modified": {
        "zh": "此工作簿的模板结构与表单“{form}” {version} 版不一致（模板被改动过）。请使用下发的模板重新填写。",
        "en": "This workbook's structure differs from form “{form}” version {version} (the template was "
              "altered). Please refill the template you were sent.",
    },
    "bad_archive": {
        "zh": "压缩包无法打开（{detail}），其中的文件一个也没有导入。请重新打包或直接提交 .xlsx 文件。",
        "en": "The archive cannot be opened ({detail}); none of its files were imported. "
              "Pack it again or send the .xlsx files themselves.",
    },
    "unexpected": {
        "zh": "读取时发生意外错误（{detail}），请将此文件交给系统管理员。",
        "en": "Unexpected error while reading ({detail}); please pass this file to the administrator.",
    },
}


def message(code: str, lang: str = "zh", **params: object) -> str:
    entry = MESSAGES.get(code) or MESSAGES["unexpected"]
    text = entry.get(lang) or entry["zh"]
    for key, value in params.items():
        text = text.replace("{" + key + "}", str(value))
    return text.replace("{detail}", "")
