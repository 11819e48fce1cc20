"""Messages about a whole returned file: why it cannot be read, or how it was read."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
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
    "empty": {
        "zh": "文件是空的（0 字节），可能在下载或复制时出了问题。请重新发送填好的 .xlsx 文件。",
        "en": "The file is empty (0 bytes); it may have been damaged in transfer. Please send the filled .xlsx again.",
    },
    "too_large": {
        "zh": "文件太大（{detail}），超过了导入上限，不像是填好的报表。请检查是否发错了文件。",
        "en": "The file is too large ({detail}) to be a filled form. Please check it is the right file.",
    },
    "pdf": {
        "zh": "这是 PDF 文件，不是 Excel 工作簿。请提交填好的 .xlsx 文件（扫描件或打印件无法导入）。",
        "en": "This is a PDF, not an Excel workbook. Please send the filled .xlsx (scans and printouts cannot be read).",
    },
    "image": {
        "zh": "这是图片文件，不是 Excel 工作簿。请提交填好的 .xlsx 文件。",
        "en": "This is an image, not an Excel workbook. Please send the filled .xlsx.",
    },
    "word": {
        "zh": "这是 Word 文档，不是 Excel 工作簿。请在下发的 Excel 模板中填写后提交 .xlsx 文件。",
        "en": "This is a Word document, not an Excel workbook. Please fill in the Excel template and send the .xlsx.",
    },
    "powerpoint": {
        "zh": "这是 PowerPoint 演示文稿，不是 Excel 工作簿。请提交填好的 .xlsx 文件。",
        "en": "This is a PowerPoint file, not an Excel workbook. Please send the filled .xlsx.",
    },
    "rtf": {"zh": "这是 RTF 文档，不是 Excel 工作簿。请提交填好的 .xlsx 文件。",
            "en": "This is an RTF document, not an Excel workbook. Please send the filled .xlsx."},
    "archive": {
        "zh": "这是 RAR/7z/gz 压缩包，只支持 .zip。请解压后提交其中的 .xlsx 文件，或改用 .zip 打包。",
        "en": "This is a RAR/7z/gz archive; only .zip is supported. Unpack it and send the .xlsx files.",
    },
    "html_or_xml": {
        "zh": "这是网页或 XML 文本，不是 Excel 工作簿（可能是“另存为网页”得到的）。请另存为 .xlsx 后提交。",
        "en": "This is a web page or XML text, not a workbook (perhaps saved as HTML). Save it as .xlsx.",
    },
    "zip_not_workbook": {
        "zh": "这是一个 zip 压缩包，但不是 Excel 工作簿。若要批量提交，请把压缩包本身交给导入程序。",
        "en": "This is a zip archive but not an Excel workbook.",
    },
    "truncated": {
        "zh": "文件不完整（可能下载或复制时被截断）：{detail}。请重新发送完整的文件。",
        "en": "The file is incomplete (cut off in transfer?): {detail}. Please send it again.",
    },
    "missing_part": {
        "zh": "工作簿缺少必需的部分（{detail}），已损坏。请在 Excel/WPS 中打开并重新保存，或重新填写模板。",
        "en": "The workbook lacks a required part ({detail}); it is damaged. Re-save it in Excel/WPS or refill the template.",
    },
    "encrypted": {
        "zh": "工作簿设置了打开密码，无法读取。请在 Excel/WPS 中取消密码（文件→信息→保护工作簿）后另存为 .xlsx 再提交。",
        "en": "The workbook is password-protected and cannot be read. Remove the password in Excel/WPS and save as .xlsx.",
    },
    "bomb": {
        "zh": "文件解压后过大（{detail}），超过安全上限，拒绝读取。填好的报表不会这么大，请检查文件。",
        "en": "The file would unpack to more than the safety limit ({detail}); refused. A filled form is never this large.",
    },
    "unsafe_xml": {
        "zh": "文件含有不安全的 XML 声明（{detail}），拒绝读取。请用下发的模板重新填写。",
        "en": "The file contains unsafe XML declarations ({detail}); refused. Please refill the template you were sent.",
    },
    "legacy": {
        "zh": "这是 {detail} 格式的文件，已尽量按表单位置读取；为确保无误，请用 Excel/WPS 另存为 .xlsx 后重新提交。",
        "en": "This is a {detail} file, read by the form's cell positions; to be safe, save it as .xlsx and resubmit.",
    },
    "unreadable_legacy": {
        "zh": "这是 {detail} 格式的文件，无法读取。请用 Excel 或 WPS 打开后“另存为 Excel 工作簿（.xlsx）”再提交。",
        "en": "This {detail} file cannot be read. Open it in Excel or WPS and save it as an Excel workbook (.xlsx).",
    },
    "active_content": {
        "zh": "文件含有{what}（{where}），为安全起见不予接收。请在 Excel 或 WPS 中把它另存为普通 .xlsx 工作簿，不含宏和外部链接"
              "（删除宏、控件和指向其他文件的链接或公式，只保留填写的内容），再重新提交。",
        "en": "The file contains {what} ({where}) and is refused for safety. In Excel or WPS, save it as a plain .xlsx "
              "workbook without macros or external links (remove macros, controls and links or formulas that point to "
              "other files, keeping only what was filled in), then submit it again.",
    },
    "active_vba": {"zh": "宏（VBA 代码，启用宏的工作簿）", "en": "macros (VBA code, a macro-enabled workbook)"},
    "active_xlm": {"zh": "Excel 4.0 宏表或对话框表", "en": "Excel 4.0 macro or dialog sheets"},
    "active_activex": {"zh": "ActiveX 控件", "en": "ActiveX controls"},
    "active_ole": {"zh": "嵌入的对象（OLE）", "en": "embedded (OLE) objects"},
    "active_external_link": {"zh": "指向其他工作簿的外部链接", "en": "links to other workbooks"},
    "active_external_data": {"zh": "外部数据连接", "en": "external data connections"},
    "active_external_rel": {"zh": "指向文件以外的外部链接", "en": "links to something outside the file"},
    "active_dde": {"zh": "DDE 公式（会启动其他程序）", "en": "a DDE formula (it starts another program)"},
    "active_external_ref": {"zh": "引用其他工作簿的公式", "en": "a formula that refers to another workbook"},
    "active_remote_call": {"zh": "从外部取数或调用程序的公式（RTD、WEBSERVICE 等）",
                           "en": "a formula that fetches data or calls a program (RTD, WEBSERVICE, ...)"},
    "cells_deleted": {
        "zh": "工作簿的结构被改动：{where} 所在的单元格已被删除（共 {n} 处）。请使用下发的模板重新填写，不要删除行或列。",
        "en": "The workbook's structure was changed: the cells of {where} were deleted ({n} in all). Refill the template without deleting rows or columns.",
    },
    "moved": {
        "zh": "工作簿的结构被改动（插入、删除或移动了行列），无法确定各项内容的位置：{where}（共 {n} 处不符）。请使用下发的模板重新填写。",
        "en": "The workbook's structure was changed (rows or columns inserted, deleted or moved), so values cannot be located: {where} ({n} differences). Refill the template you were sent.",
    },
    "read_by_labels": {
        "zh": "此工作簿缺少模板标识（不是下发的模板，或被其他程序另存过），已按“{form}”的标签位置读取，请核对后改用下发的模板提交。",
        "en": "This workbook has no template identifier (not the issued template, or re-saved by another program); it was read by the labels of “{form}”. Please check and resubmit on the issued template.",
    },
    "bad_archive": {
        "zh": "压缩包无法打开（{detail}），其中的文件一个也没有导入。请重新打包或直接提交 .xlsx 文件。",
        "en": "The archive cannot be opened ({detail}); none of its files were imported. "
              "Pack it again or send the .xlsx files themselves.",
    },
    "crashed": {
        "zh": "读取此文件时读取程序崩溃（{detail}），文件可能已损坏或含有异常内容。请用 Excel/WPS 打开并另存为 .xlsx 后重新提交。",
        "en": "The reader crashed on this file ({detail}); it may be damaged or hostile. Open it in Excel/WPS, save it as .xlsx and resubmit.",
    },
    "timeout": {
        "zh": "读取此文件超过了时间上限（{detail}），已停止，文件可能有异常内容。请用 Excel/WPS 打开并另存为 .xlsx 后重新提交。",
        "en": "Reading this file took longer than the limit ({detail}) and was stopped; it may be hostile. Save it as .xlsx again and resubmit.",
    },
    "unexpected": {
        "zh": "读取时发生意外错误（{detail}），请将此文件交给系统管理员。",
        "en": "Unexpected error while reading ({detail}); please pass this file to the administrator.",
    },
    "db_refused": {
        "zh": "数据库无法保存此文件中的内容（含有数据库不能存放的字符或数值），文件已记为无法读取。请用 Excel/WPS 打开检查后重新提交。",
        "en": "The database cannot hold this file's content (characters or numbers it cannot store); it is recorded as unreadable. Check it in Excel/WPS and resubmit.",
    },
}
