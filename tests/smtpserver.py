"""Real SMTP servers on loopback for tests (helper module, not a test file), with aiosmtpd.

``running()`` starts one on a free port of 127.0.0.1 that keeps every message it takes
(:attr:`Mailbox.messages`, parsed with the standard library as a mail client would); it can
refuse the next messages with a 4xx or 5xx answer (:attr:`Mailbox.refuse`), ask for a login, and
speak TLS with a certificate made for the test (``openssl``).  ``silent()`` is a server that
accepts connections and never answers (a mail server that hangs).  Nothing here sends anywhere
but 127.0.0.1."""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Received:
    """One message the server took: the envelope, the raw bytes, and the message parsed."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    at: float

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_content().replace("\r\n", "\n")

    def header(self, name: str) -> str:
        """The header as it travelled (encoded words and all)."""
        head = self.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        lines = head.replace("\r\n ", " ").replace("\r\n\t", " ").split("\r\n")
        return next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith(name.lower() + ":")),
                    "")


@dataclass
class Mailbox:
    """The server's handler: keeps what it takes; refuses the next ``refuse`` messages with ``answer``."""

    messages: list[Received] = field(default_factory=list)
    refuse: int = 0
    answer: str = "451 4.3.0 Try again later"
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return self.answer
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                          or envelope.content, time.monotonic()))
            return f"250 2.0.0 Ok: queued as T{len(self.messages)}"

    def wait(self, n: int, timeout: float = 30.0) -> list[Received]:
        """The messages once there are at least ``n`` (an AssertionError after ``timeout``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.messages)} messages arrived, {n} expected")

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]


@dataclass
class Server:
    host: str
    port: int
    box: Mailbox
    controller: Controller

    def env(self, sender: str = "jxk@czj.example.gov.cn", name: str = "乌海市财政局绩效科",
            security: str = "none") -> dict[str, str]:
        """The environment a process sends mail through this server with."""
        return {"XLTEMPLATE_SMTP_HOST": self.host, "XLTEMPLATE_SMTP_PORT": str(self.port),
                "XLTEMPLATE_SMTP_SECURITY": security, "XLTEMPLATE_MAIL_FROM": f"{name} <{sender}>"}


def certificate(folder: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (made by openssl for the test): (cert, key)."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", f"/CN={name}"], check=True, capture_output=True, timeout=60)
    return cert, key


@contextlib.contextmanager
def running(*, login: tuple[str, str] | None = None, tls: tuple[Path, Path] | None = None,
            implicit_tls: bool = False) -> Iterator[Server]:
    """An SMTP server on a free loopback port (``login``: the only user and password it takes;
    ``tls``: STARTTLS with this certificate, or TLS from the first byte with ``implicit_tls``)."""
    box = Mailbox()
    kwargs: dict[str, Any] = {"auth_require_tls": False}
    if login is not None:
        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)

        kwargs["authenticator"] = check
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        if not implicit_tls:
            kwargs["tls_context"] = context
    port = free_port()
    controller = Controller(box, hostname=HOST, port=port, ssl_context=context if implicit_tls else None,
                            ready_timeout=10, **kwargs)
    controller.start()
    try:
        yield Server(HOST, port, box, controller)
    finally:
        controller.stop()


@contextlib.contextmanager
def silent() -> Iterator[tuple[str, int]]:
    """A server that takes connections and never says a word (a mail server that hangs)."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    sock.listen(50)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = sock.accept()
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield HOST, sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        sock.close()
