"""E-mail: the installation's SMTP settings, a message as a mail server wants it, and sending it
with the server's own answer (or, when it fails, one sentence saying why).

**Settings** come from a TOML file and from the environment, which overrides it (a systemd unit or
a container sets ``XLTEMPLATE_SMTP_HOST`` and the rest).  The file is the one named by
``XLTEMPLATE_MAIL_CONFIG``, else ``xltemplate-mail.toml`` in the current folder, else
``/etc/xltemplate/mail.toml``::

    [smtp]
    host = "smtp.example.gov.cn"
    port = 465                   # default: 25 (none), 587 (starttls), 465 (ssl)
    security = "ssl"             # none | starttls | ssl
    user = "jxk@example.gov.cn"
    password = "..."
    from = "jxk@example.gov.cn"
    from_name = "乌海市财政局绩效科"
    timeout = 30                 # seconds for each step of a conversation with the server

``XLTEMPLATE_MAIL_FROM`` may carry the name too: ``乌海市财政局 <jxk@example.gov.cn>``.  Mail is
*configured* when a host and a sender are known; otherwise everything that needs it says so
(:attr:`MailSettings.problem`) and nothing is queued.

**Messages** are built with the standard library's e-mail package: the subject and the names in
``From`` and ``To`` are RFC 2047 encoded words, the body is UTF-8 text.

**Sending** speaks SMTP itself (``MAIL``, ``RCPT``, ``DATA``) so that what the server answered is
kept: ``250 ...`` when it took the message, its refusal otherwise.  Failures are
:class:`MailError`\\ s: a catalog key that says in Chinese what went wrong (refused login, no
route to the server, a certificate that does not verify, a recipient refused...), the server's own
words, and whether trying again later may help (``transient``: 4xx answers, a server that cannot
be reached or does not answer in time; a 5xx refusal of the message or its recipients is final).
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
import errno
import os
import re
import smtplib
import socket
import ssl
import tomllib
from dataclasses import dataclass, field, replace
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..messages import t

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .store import Store

SECURITIES = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
CONFIG_ENV = "XLTEMPLATE_MAIL_CONFIG"
CONFIG_PLACES = (Path("xltemplate-mail.toml"), Path("/etc/xltemplate/mail.toml"))
ENV = {"host": "XLTEMPLATE_SMTP_HOST", "port": "XLTEMPLATE_SMTP_PORT", "security": "XLTEMPLATE_SMTP_SECURITY",
       "user": "XLTEMPLATE_SMTP_USER", "password": "XLTEMPLATE_SMTP_PASSWORD", "from": "XLTEMPLATE_MAIL_FROM"}
DEFAULT_TIMEOUT = 30.0
_MEMO = "mail.settings"


class MailError(Exception):
    """Sending failed: ``key`` is the catalog's sentence, ``params`` its parameters (``answer``: what
    the server said), ``transient`` whether a later try may succeed."""

    def __init__(self, key: str, transient: bool, **params: Any):
        super().__init__(key)
        self.key, self.transient, self.params = key, transient, params

    def message(self, lang: str = "zh") -> str:
        return t(self.key, lang, **self.params)

    def __str__(self) -> str:
        return self.message()


@dataclass(frozen=True)
class MailSettings:
    """Where and how mail is sent; ``problem`` says (a catalog key and its parameters) why it cannot be."""

    host: str = ""
    port: int = 0
    security: str = "starttls"
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = ""
    sender_name: str = ""
    timeout: float = DEFAULT_TIMEOUT
    source: str = ""  # the file read, if any
    problem: tuple[str, dict[str, Any]] | None = None

    @property
    def configured(self) -> bool:
        return self.problem is None

    def why_not(self, lang: str = "zh") -> str:
        """Why mail is not configured, in a sentence ("" when it is)."""
        return "" if self.problem is None else t(self.problem[0], lang, **self.problem[1])

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


def _config_file(environ: Mapping[str, str]) -> Path | None:
    named = environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    return next((p for p in CONFIG_PLACES if p.is_file()), None)


def load(environ: Mapping[str, str] | None = None) -> MailSettings:
    """The settings of this process: the settings file, then the environment over it."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = _config_file(environ)
    source = ""
    if path is not None:
        source = str(path)
        try:
            values = dict(tomllib.loads(path.read_text(encoding="utf-8")).get("smtp", {}))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            return MailSettings(source=source, problem=("mail_config_unreadable", {"path": path, "detail": exc}))
    for key, name in ENV.items():
        if environ.get(name):
            values[key] = environ[name]
    return settings_of(values, source)


def settings_of(values: Mapping[str, Any], source: str = "") -> MailSettings:
    """Settings from plain values (the file's ``[smtp]`` table, or the environment's), checked."""
    sender_name, sender = email.utils.parseaddr(str(values.get("from", "") or ""))
    sender_name = str(values.get("from_name", "") or sender_name)
    security = str(values.get("security", "") or "starttls").strip().lower()
    base = MailSettings(host=str(values.get("host", "") or "").strip(), user=str(values.get("user", "") or ""),
                        password=str(values.get("password", "") or ""), sender=sender, sender_name=sender_name,
                        security=security if security in SECURITIES else "starttls", source=source)
    if security not in SECURITIES:
        return replace(base, problem=("mail_bad_security", {"value": security, "choices": " / ".join(SECURITIES)}))
    try:
        port = int(values.get("port", 0) or 0)
        timeout = float(values.get("timeout", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT)
    except (TypeError, ValueError):
        return replace(base, problem=("mail_bad_port", {"value": values.get("port")}))
    if not 0 <= port <= 65535:
        return replace(base, problem=("mail_bad_port", {"value": port}))
    base = replace(base, port=port, timeout=timeout)
    if not base.host:
        return replace(base, problem=("mail_not_configured", {}))
    if not sender or "@" not in sender:
        return replace(base, problem=("mail_no_sender", {}))
    return base


def settings(store: Store) -> MailSettings:
    """The settings mail to this database is sent with: read once per store (tests and the portal
    may :func:`configure` them)."""
    found = store.memo.get(_MEMO)
    if found is None:
        found = store.memo[_MEMO] = load()
    return found


def configure(store: Store, value: MailSettings) -> None:
    store.memo[_MEMO] = value


# -- addresses --------------------------------------------------------------------------------

def addresses(text: str | None) -> tuple[list[str], list[str]]:
    """The addresses of a roster cell or a form field (separated by ``;``, ``；``, ``,``, ``，`` or
    white space), each once, and the pieces that are no address."""
    good: list[str] = []
    bad: list[str] = []
    for word in re.split(r"[;；,，、\s]+", text or ""):
        word = word.strip().strip("<>")
        if not word:
            continue
        if not valid_address(word):
            bad.append(word)
        elif word.lower() not in (g.lower() for g in good):
            good.append(word)
    return good, bad


def valid_address(addr: str) -> bool:
    """A plain ``local@domain.tld`` (what a roster or a staff member should type)."""
    if not addr or len(addr) > 254 or addr.count("@") != 1 or any(c.isspace() or c in "<>()[],;:\"\\" for c in addr):
        return False
    local, domain = addr.split("@")
    return bool(local) and "." in domain and not domain.startswith(".") and not domain.endswith(".")


# -- messages ---------------------------------------------------------------------------------

def compose(cfg: MailSettings, to: list[str], subject: str, body: str, to_name: str = "",
            message_id: str | None = None) -> EmailMessage:
    """A message: the subject and names RFC 2047 encoded, the body UTF-8 text."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = Address(display_name=cfg.sender_name, addr_spec=cfg.sender)
    msg["To"] = [Address(display_name=to_name, addr_spec=a) for a in to]
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain=cfg.sender.rsplit("@", 1)[-1])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: vacation replies leave it alone
    msg.set_content(body, charset="utf-8", cte="base64")  # 7-bit safe: any server takes it
    return msg


def _answer(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(words.split())}".strip()


@dataclass
class Sent:
    """What the server answered when it took a message, and the recipients it refused (if any)."""

    answer: str
    refused: dict[str, str] = field(default_factory=dict)


def send(cfg: MailSettings, msg: EmailMessage) -> Sent:
    """Send ``msg`` (to its ``To`` addresses); :class:`MailError` when it could not be."""
    if not cfg.configured:
        raise MailError(cfg.problem[0] if cfg.problem else "mail_not_configured", False,
                        **(cfg.problem[1] if cfg.problem else {}))
    recipients = [a.addr_spec for a in msg["To"].addresses]
    try:
        with _connect(cfg) as smtp:
            return _conversation(smtp, cfg, msg, recipients)
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError("mail_err_login", False, user=cfg.user, answer=_answer(exc.smtp_code, exc.smtp_error)) \
            from exc
    except smtplib.SMTPNotSupportedError as exc:
        key = "mail_err_no_starttls" if cfg.security == "starttls" else "mail_err_no_auth"
        raise MailError(key, False, host=cfg.host) from exc
    except smtplib.SMTPResponseException as exc:  # a refusal at any other step
        code = exc.smtp_code
        raise MailError("mail_err_refused", code < 500, answer=_answer(code, exc.smtp_error)) from exc
    except ssl.SSLCertVerificationError as exc:
        raise MailError("mail_err_certificate", False, host=cfg.host, detail=exc.verify_message or exc) from exc
    except ssl.SSLError as exc:
        raise MailError("mail_err_tls", False, host=cfg.host, port=cfg.effective_port, detail=exc.reason or exc) \
            from exc
    except smtplib.SMTPServerDisconnected as exc:
        if isinstance(exc.__context__, TimeoutError) or "timed out" in str(exc):  # smtplib's word for no answer
            raise MailError("mail_err_timeout", True, host=cfg.host, port=cfg.effective_port,
                            seconds=int(cfg.timeout)) from exc
        raise MailError("mail_err_disconnected", True, host=cfg.host, detail=exc) from exc
    except TimeoutError as exc:
        raise MailError("mail_err_timeout", True, host=cfg.host, port=cfg.effective_port, seconds=int(cfg.timeout)) \
            from exc
    except socket.gaierror as exc:
        raise MailError("mail_err_host", True, host=cfg.host) from exc
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNRESET, None):
            raise MailError("mail_err_connect", True, host=cfg.host, port=cfg.effective_port,
                            detail=exc.strerror or exc) from exc
        raise MailError("mail_err_connect", True, host=cfg.host, port=cfg.effective_port, detail=exc) from exc


def _connect(cfg: MailSettings) -> smtplib.SMTP:
    host = cfg.host
    if cfg.security == "ssl":
        return smtplib.SMTP_SSL(host, cfg.effective_port, timeout=cfg.timeout, context=ssl.create_default_context())
    return smtplib.SMTP(host, cfg.effective_port, timeout=cfg.timeout)


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in; a user or password beyond ASCII goes as UTF-8 with AUTH PLAIN (RFC 4616), which
    smtplib's own login cannot send."""
    if (user + password).isascii():
        smtp.login(user, password)
        return
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("AUTH")
    token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")).decode("ascii")
    code, text = smtp.docmd("AUTH", "PLAIN " + token)
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, text)


def _conversation(smtp: smtplib.SMTP, cfg: MailSettings, msg: EmailMessage, recipients: list[str]) -> Sent:
    smtp.ehlo_or_helo_if_needed()
    if cfg.security == "starttls":
        smtp.starttls(context=ssl.create_default_context())
        smtp.ehlo()
    if cfg.user:
        _login(smtp, cfg.user, cfg.password)
    code, text = smtp.mail(cfg.sender)
    if code != 250:
        smtp.rset()
        raise MailError("mail_err_sender", code < 500, sender=cfg.sender, answer=_answer(code, text))
    refused: dict[str, str] = {}
    for addr in recipients:
        code, text = smtp.rcpt(addr)
        if code not in (250, 251):
            refused[addr] = _answer(code, text)
    if len(refused) == len(recipients):
        smtp.rset()
        transient = all(a[:1] == "4" for a in refused.values())
        raise MailError("mail_err_recipients", transient,
                        answer="；".join(f"{a}: {why}" for a, why in refused.items()))
    code, text = smtp.data(msg.as_bytes())
    if code != 250:
        raise MailError("mail_err_refused", code < 500, answer=_answer(code, text))
    return Sent(_answer(code, text), refused)
