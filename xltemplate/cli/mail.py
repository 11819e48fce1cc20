"""Commands about e-mail: check the mail settings with a test message, send what waits in the
queue, and send the reminders due (for cron or a systemd timer)."""

from __future__ import annotations

import os
import stat
import sys

import click

from ..messages import t
from .common import CliError, db_option, opened, state


@click.group(name="mail")
def mail_group() -> None:
    """邮件：test 发送测试邮件；send 发送排队中的邮件 / e-mail: a test message; send the queue."""


@mail_group.command(name="test")
@click.argument("address")
def mail_test(address: str) -> None:
    """按邮件设置发送一封测试邮件到 ADDRESS，失败时说明原因 / send a test message to ADDRESS.

    Settings: the file named by XLTEMPLATE_MAIL_CONFIG (else ./xltemplate-mail.toml, else
    /etc/xltemplate/mail.toml), overridden by XLTEMPLATE_SMTP_HOST, _PORT, _SECURITY, _USER,
    _PASSWORD and XLTEMPLATE_MAIL_FROM.
    """
    from ..collect import mail, notices

    lang = state().lang
    if not mail.valid_address(address):
        raise CliError(t("mail_test_bad_address", lang, address=address))
    cfg = mail.load()
    source = cfg.source or t("mail_settings_env", lang)
    click.echo(t("mail_settings_from", lang, source=source), err=True)
    if cfg.source and os.path.exists(cfg.source) and os.stat(cfg.source).st_mode & stat.S_IROTH:
        click.echo(t("mail_world_readable", lang, path=cfg.source), err=True)
    if not cfg.configured:
        raise CliError(t("mail_test_failed", lang, reason=cfg.why_not(lang)))
    try:
        sent = notices.test_message(cfg, address)
    except mail.MailError as exc:
        raise CliError(t("mail_test_failed", lang, reason=exc.message(lang))) from exc
    click.echo(t("mail_test_sent", lang, to=address, host=cfg.host, port=cfg.effective_port, security=cfg.security,
                 answer=sent.answer))


@mail_group.command(name="send")
@db_option
def mail_send(db: str | None) -> None:
    """发送排队中、已到重试时间的邮件（没有运行 serve 时用）/ send the queued messages that are due."""
    from ..collect import mail, notices

    lang = state().lang
    with opened(db) as store:
        if not notices.configured(store):
            raise CliError(mail.settings(store).why_not(lang))
        n = notices.drain(store)
    click.echo(t("mail_sent_queued", lang, n=n))


@click.command()
@db_option
@click.option("--round", "round_name", default=None, help="只催报这一轮（默认：所有到期的轮次）/ one round only.")
@click.option("--dry-run", is_flag=True, help="只列出将发送的催报，不发送 / list what would be sent, send nothing.")
def remind(db: str | None, round_name: str | None, dry_run: bool) -> None:
    """发送现在到期的催报（供 cron / systemd 定时器调用），每个部门一行 / send the reminders due now.

    A round's plan names days before its deadline (default 3 and 0); on those days, from 9 o'clock
    (XLTEMPLATE_REMIND_HOUR), every department that is 未报送, 有错误, 无法读取 or 已退回 is reminded,
    once a day, whether by this command or by a server.  Each reviewer with an e-mail address
    (``users email``) is sent the returns waiting for them, once a day (not with --round or --dry-run).
    """
    from ..collect import notices, reminders

    lang = state().lang
    with opened(db) as store:
        lines = reminders.run_due(store, actor="remind", dry_run=dry_run, round_name=round_name)
        digests = [] if dry_run or round_name else reminders.digests(store)
        if digests:
            click.echo(t("remind_digests", lang, n=len(digests)))
        if not lines:
            if not digests:
                click.echo(t("remind_nothing_due", lang, hour=reminders.REMIND_HOUR))
            notices.drain(store)
            return
        if not dry_run and any(line.message for line in lines):
            notices.drain(store)
            reminders.settle(store, lines)
    shown = None
    for line in lines:
        if line.round != shown:
            shown = line.round
            click.echo(t("remind_round", lang, round=line.round))
        click.echo(line.said(lang))
    if any(line.outcome in ("failed", "retrying", "not_configured") for line in lines):
        sys.exit(1)


COMMANDS = [mail_group, remind]
