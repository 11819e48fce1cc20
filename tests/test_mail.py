"""Mail settings and sending, against real SMTP servers on loopback (aiosmtpd, started here): the
settings file and the environment over it, Chinese in headers (RFC 2047) and bodies (UTF-8), and
what ``xltemplate mail test`` says when the server refuses the login, cannot be reached, answers
nothing, or shows a certificate that does not verify."""

from __future__ import annotations

import email.header
import time
from pathlib import Path

import pytest
import smtpserver
from click.testing import CliRunner

from xltemplate.cli import main
from xltemplate.collect import mail


def test_the_environment_overrides_the_settings_file(tmp_path: Path) -> None:
    conf = tmp_path / "mail.toml"
    conf.write_text('[smtp]\nhost = "smtp.example.gov.cn"\nport = 465\nsecurity = "ssl"\nuser = "jxk"\n'
                    'password = "秘密"\nfrom = "jxk@example.gov.cn"\nfrom_name = "乌海市财政局"\n', encoding="utf-8")
    cfg = mail.load({"XLTEMPLATE_MAIL_CONFIG": str(conf)})
    assert cfg.configured and (cfg.host, cfg.port, cfg.security, cfg.user, cfg.password) == \
        ("smtp.example.gov.cn", 465, "ssl", "jxk", "秘密")
    assert (cfg.sender, cfg.sender_name, cfg.source) == ("jxk@example.gov.cn", "乌海市财政局", str(conf))
    cfg = mail.load({"XLTEMPLATE_MAIL_CONFIG": str(conf), "XLTEMPLATE_SMTP_HOST": "10.1.2.3",
                     "XLTEMPLATE_SMTP_PORT": "587", "XLTEMPLATE_SMTP_SECURITY": "starttls",
                     "XLTEMPLATE_MAIL_FROM": "绩效科 <jxk2@example.gov.cn>"})
    assert (cfg.host, cfg.port, cfg.security, cfg.user) == ("10.1.2.3", 587, "starttls", "jxk")
    assert (cfg.sender, cfg.sender_name) == ("jxk2@example.gov.cn", "乌海市财政局")  # the file's name stays
    assert mail.load({}).why_not().startswith("邮件未配置")  # no file here, no environment
    assert not mail.load({"XLTEMPLATE_SMTP_HOST": "x"}).configured  # a host but no sender
    bad = mail.load({"XLTEMPLATE_SMTP_HOST": "x", "XLTEMPLATE_MAIL_FROM": "a@b.cn", "XLTEMPLATE_SMTP_SECURITY": "tls"})
    assert "tls" in bad.why_not() and "starttls" in bad.why_not()
    (tmp_path / "broken.toml").write_text("[smtp\nhost=", encoding="utf-8")
    assert "无法读取" in mail.load({"XLTEMPLATE_MAIL_CONFIG": str(tmp_path / "broken.toml")}).why_not()
    assert mail.settings_of({"host": "h", "from": "a@b.cn", "security": "ssl"}).effective_port == 465


def test_addresses_of_a_roster_cell() -> None:
    assert mail.addresses("a@x.gov.cn; b@y.cn；a@X.gov.cn,c@z.cn") == (["a@x.gov.cn", "b@y.cn", "c@z.cn"], [])
    assert mail.addresses("王主任 a@x.cn") == (["a@x.cn"], ["王主任"])
    assert mail.addresses("") == ([], []) and mail.addresses("a@b") == ([], ["a@b"])


def test_a_message_in_chinese_reaches_a_real_server_encoded_as_mail_wants_it() -> None:
    with smtpserver.running() as server:
        cfg = mail.settings_of({"host": server.host, "port": server.port, "security": "none",
                                "from": "乌海市财政局绩效科 <jxk@czj.example.gov.cn>"})
        msg = mail.compose(cfg, ["xfj@example.gov.cn", "li@example.gov.cn"], "【2021年度】请报送，截止 2020-11-30",
                           "市信访局：\n\n请打开链接 https://portal.example/l/abc 报送。", "市信访局")
        sent = mail.send(cfg, msg)
        assert sent.answer.startswith("250 ") and "queued as T1" in sent.answer
        got = server.box.wait(1)[0]
    assert got.mail_from == "jxk@czj.example.gov.cn"
    assert got.rcpt_tos == ["xfj@example.gov.cn", "li@example.gov.cn"]
    # the headers travel as RFC 2047 encoded words, ASCII only, and decode to the Chinese
    for name in ("Subject", "From", "To"):
        assert got.header(name).isascii() and "=?utf-8?" in got.header(name).lower(), got.header(name)
    assert str(email.header.make_header(email.header.decode_header(got.header("Subject")))) == \
        "【2021年度】请报送，截止 2020-11-30"
    assert got.message["From"].addresses[0].display_name == "乌海市财政局绩效科"
    assert [a.display_name for a in got.message["To"].addresses] == ["市信访局", "市信访局"]
    assert got.message.get_content_type() == "text/plain" and got.message.get_content_charset() == "utf-8"
    assert got.message["Content-Transfer-Encoding"] == "base64" and got.raw.isascii()  # 7-bit: any server takes it
    assert got.body.startswith("市信访局：\n\n请打开链接 https://portal.example/l/abc")
    assert got.message["Auto-Submitted"] == "auto-generated" and got.message["Message-ID"]


def _cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args), env=env)
    return res.exit_code, res.output


def test_mail_test_sends_and_says_what_the_server_answered() -> None:
    with smtpserver.running(login=("jxk", "正确的口令")) as server:
        env = server.env() | {"XLTEMPLATE_SMTP_USER": "jxk", "XLTEMPLATE_SMTP_PASSWORD": "正确的口令"}
        code, out = _cli("mail", "test", "me@example.gov.cn", env=env)
        assert code == 0, out
        assert "测试邮件已发送到 me@example.gov.cn" in out and "250 2.0.0 Ok" in out
        got = server.box.wait(1)[0]
        assert got.rcpt_tos == ["me@example.gov.cn"] and got.subject == "报表收集平台测试邮件"
        # a refused login is said as one, with the server's words and what to check
        code, out = _cli("mail", "test", "me@example.gov.cn", env=env | {"XLTEMPLATE_SMTP_PASSWORD": "错的"})
        assert code == 1 and "邮件服务器拒绝了登录（用户名 jxk）" in out and "535" in out, out
        assert "授权码" in out and "Traceback" not in out
    code, out = _cli("mail", "test", "not-an-address", env={})
    assert code == 1 and "不是一个邮箱地址" in out


def test_mail_test_says_no_route_no_answer_and_a_certificate_that_does_not_verify(tmp_path: Path) -> None:
    closed = smtpserver.free_port()  # nothing listens there
    env = {"XLTEMPLATE_SMTP_HOST": "127.0.0.1", "XLTEMPLATE_SMTP_PORT": str(closed),
           "XLTEMPLATE_SMTP_SECURITY": "none", "XLTEMPLATE_MAIL_FROM": "jxk@example.gov.cn"}
    code, out = _cli("mail", "test", "me@example.gov.cn", env=env)
    assert code == 1 and f"无法连接邮件服务器 127.0.0.1:{closed}" in out and "防火墙" in out, out
    with smtpserver.silent() as (host, port):
        cfg = mail.settings_of({"host": host, "port": port, "security": "none", "from": "a@b.cn", "timeout": 1})
        started = time.monotonic()
        with pytest.raises(mail.MailError) as err:
            mail.send(cfg, mail.compose(cfg, ["x@y.cn"], "s", "b"))
        assert time.monotonic() - started < 5
        assert err.value.transient and "1 秒内没有答复" in err.value.message()
    cert = smtpserver.certificate(tmp_path, "mail.test.invalid")
    with smtpserver.running(tls=cert, implicit_tls=True) as server:
        code, out = _cli("mail", "test", "me@example.gov.cn", env=server.env(security="ssl"))
        assert code == 1 and "证书无法验证" in out and "127.0.0.1" in out, out
        assert not server.box.messages
    with smtpserver.running(tls=cert) as server:  # STARTTLS offered, the same certificate
        code, out = _cli("mail", "test", "me@example.gov.cn", env=server.env(security="starttls"))
        assert code == 1 and "证书无法验证" in out, out
    with smtpserver.running() as server:  # a server that offers no STARTTLS at all
        code, out = _cli("mail", "test", "me@example.gov.cn", env=server.env(security="starttls"))
        assert code == 1 and "不支持 STARTTLS" in out, out


def test_a_refusal_is_final_or_for_later_as_the_server_says() -> None:
    with smtpserver.running() as server:
        cfg = mail.settings_of({"host": server.host, "port": server.port, "security": "none", "from": "a@b.cn"})
        server.box.refuse, server.box.answer = 1, "451 4.3.0 Mailbox busy, try later"
        with pytest.raises(mail.MailError) as err:
            mail.send(cfg, mail.compose(cfg, ["x@y.cn"], "s", "b"))
        assert err.value.transient and "451 4.3.0 Mailbox busy" in err.value.message()
        server.box.refuse, server.box.answer = 1, "554 5.7.1 Rejected as spam"
        with pytest.raises(mail.MailError) as err:
            mail.send(cfg, mail.compose(cfg, ["x@y.cn"], "s", "b"))
        assert not err.value.transient and "554 5.7.1" in err.value.message()
        assert mail.send(cfg, mail.compose(cfg, ["x@y.cn"], "s", "b")).answer.startswith("250")
