"""The audit log in sentences: one entry per action (an upload's per how it came), said by
:func:`xltemplate.collect.events.sentence` on the audit page and a department's page."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "event_time": {"zh": "{month}月{day}日 {time}", "en": "{day}/{month} {time}"},
    "event_time_year": {"zh": "{year}年{month}月{day}日 {time}", "en": "{day}/{month}/{year} {time}"},
    "event_nobody": {"zh": "系统", "en": "the system"},
    "event_link_of": {"zh": "部门 {code} 的专用链接", "en": "the link of department {code}"},
    "event_no_department": {"zh": "（未识别的部门）", "en": "(no department)"},
    "event_no_address": {"zh": "（空：按浏览器中的地址）", "en": "(none: the browser's address)"},
    "event_no_round": {"zh": "（无轮次）", "en": "(no round)"},
    "event_replaces": {"zh": "，替换了报送 {ids}", "en": ", replacing return {ids}"},
    "event_status_valid": {"zh": "检查无误", "en": "passes the check"},
    "event_status_invalid": {"zh": "有错误", "en": "with errors"},
    "event_status_unreadable": {"zh": "无法读取", "en": "unreadable"},
    "event_status_duplicate": {"zh": "与之前收到的文件相同", "en": "the same as a file received before"},
    "event_status_unknown": {"zh": "结果未记录", "en": "result not recorded"},
    "event_unknown": {"zh": "进行了一项操作", "en": "did something"},
    "event_other": {"zh": "{at} {who}：{what}", "en": "{at} {who}: {what}"},
    "event_login": {"zh": "{at} {who} 登录了平台", "en": "{at} {who} logged in"},
    "event_login_failed": {"zh": "{at} 有人以用户名“{who}”登录，未成功", "en": "{at} a login as “{who}” failed"},
    "event_login_throttled": {
        "zh": "{at} 有人以用户名“{who}”登录，因从同一地址连续失败被暂时拒绝（未核对密码）",
        "en": "{at} a login as “{who}” was refused for now after repeated failures from its address (no password checked)",
    },
    "event_logout": {"zh": "{at} {who} 退出了登录", "en": "{at} {who} logged out"},
    "event_upload_link": {
        "zh": "{at} {who} 通过专用链接上传了 {file}：{status}（报送 #{id}{replaces}）",
        "en": "{at} {who} uploaded {file} through its link: {status} (return #{id}{replaces})",
    },
    "event_upload_bulk": {
        "zh": "{at} {who} 批量导入了 {department} 的 {file}：{status}（报送 #{id}{replaces}，批量导入 #{job}）",
        "en": "{at} {who} imported {file} of {department} in bulk: {status} (return #{id}{replaces}, bulk import #{job})",
    },
    "event_upload_other": {
        "zh": "{at} {who} 导入了 {department} 的 {file}：{status}（报送 #{id}{replaces}）",
        "en": "{at} {who} imported {file} of {department}: {status} (return #{id}{replaces})",
    },
    "event_upload_refused": {
        "zh": "{at} {who} 通过专用链接上传的 {file} 未收下：{message}",
        "en": "{at} {who} uploaded {file} through its link, not taken: {message}",
    },
    "event_bulk_upload": {
        "zh": "{at} {who} 向“{round}”批量上传了 {n} 个文件（批量导入 #{job}）",
        "en": "{at} {who} uploaded {n} files into “{round}” (bulk import #{job})",
    },
    "event_download": {"zh": "{at} {who} 下载了 {file}", "en": "{at} {who} downloaded {file}"},
    "event_withdraw": {
        "zh": "{at} {who} 撤回了 {department} 的报送 #{id}：{reason}",
        "en": "{at} {who} withdrew return #{id} of {department}: {reason}",
    },
    "event_assign": {
        "zh": "{at} {who} 把未识别的报送 #{id} 指定给了 {department}{replaces}",
        "en": "{at} {who} assigned the unrecognised return #{id} to {department}{replaces}",
    },
    "event_restore": {"zh": "{at} {who} 恢复了 {department} 的报送 #{id}", "en": "{at} {who} restored return #{id} of {department}"},
    "event_create_round": {
        "zh": "{at} {who} 建立了收集轮次“{round}”：名单 {roster} 行，下发模板 {n} 份",
        "en": "{at} {who} created the round “{round}”: {roster} roster lines, {n} templates",
    },
    "event_close_round": {"zh": "{at} {who} 截止关闭了“{round}”", "en": "{at} {who} closed “{round}”"},
    "event_reopen_round": {"zh": "{at} {who} 重新开放了“{round}”", "en": "{at} {who} reopened “{round}”"},
    "event_new_link": {
        "zh": "{at} {who} 为 {department} 重新生成了专用链接（旧链接随之失效）",
        "en": "{at} {who} made a new link for {department} (the old one stopped working)",
    },
    "event_revoke_link": {"zh": "{at} {who} 作废了 {department} 的专用链接", "en": "{at} {who} revoked the link of {department}"},
    "event_package_ready": {
        "zh": "{at} {who} 生成了“{round}”的模板和链接包",
        "en": "{at} {who} made the package of templates and links of “{round}”",
    },
    "event_relink_round": {
        "zh": "{at} {who} 重新生成了“{round}”全部 {links} 个部门的专用链接（原来的 {revoked} 个链接随之失效）",
        "en": "{at} {who} made new links for all {links} departments of “{round}” ({revoked} old links stopped working)",
    },
    "event_delete_round": {
        "zh": "{at} {who} 删除了收集轮次“{name}”（名单 {departments} 个部门，模板 {n} 份）",
        "en": "{at} {who} deleted the round “{name}” ({departments} roster departments, {n} templates)",
    },
    "event_settings": {"zh": "{at} {who} 把本平台的对外地址设为 {url}", "en": "{at} {who} set the portal's address to {url}"},
    "event_review": {
        "zh": "{at} {who} 在“{stage}”环节审核了 {department} 的报送 #{id}：{decision}{grade}{reasons}",
        "en": "{at} {who} reviewed return #{id} of {department} at stage “{stage}”: {decision}{grade}{reasons}",
    },
    "event_grade": {"zh": "，评级 {grade}", "en": ", graded {grade}"},
    "event_reason": {"zh": "；{label}（{cell}）：{text}", "en": "; {label} ({cell}): {text}"},
    "event_user_added": {"zh": "{at} {who} 添加了账号“{name}”（{role}）", "en": "{at} {who} added the account “{name}” ({role})"},
    "event_user_disabled": {"zh": "{at} {who} 停用了账号“{name}”", "en": "{at} {who} disabled the account “{name}”"},
    "event_user_enabled": {"zh": "{at} {who} 恢复启用了账号“{name}”", "en": "{at} {who} enabled the account “{name}” again"},
    "event_user_role": {"zh": "{at} {who} 把账号“{name}”的角色改为 {role}", "en": "{at} {who} made “{name}” a {role}"},
    "event_api_token": {"zh": "{at} {who} 生成了接口令牌“{name}”", "en": "{at} {who} made the API token “{name}”"},
    "event_api_token_revoked": {"zh": "{at} {who} 作废了接口令牌 #{token}", "en": "{at} {who} revoked API token #{token}"},
    # the audit page
    "audit_filter_round": {"zh": "轮次", "en": "Round"},
    "audit_filter_department": {"zh": "部门", "en": "Department"},
    "audit_all_rounds": {"zh": "全部轮次", "en": "all rounds"},
    "audit_all_departments": {"zh": "全部部门", "en": "all departments"},
    "audit_none": {"zh": "没有符合条件的记录。", "en": "Nothing matches."},
    "audit_newest": {"zh": "回到最新的记录", "en": "Back to the newest"},
    "audit_from": {"zh": "来自 {address}", "en": "from {address}"},
    "audit_of_department": {"zh": "该部门的全部操作记录", "en": "Everything about this department"},
}
