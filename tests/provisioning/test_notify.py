"""Failure and quarantine e-mails, sent to a real SMTP server (aiosmtpd) on a real socket."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from scimitar.provisioning.logs import ErrorCode, LogEntry, ProvisionedIdentity
from scimitar.provisioning.notify import (
    SmtpSettings,
    send_failure_email,
    send_quarantine_email,
)

APP = "Clarizen One (test)"
SUMMARY = {
    "cycleId": "5d1f0c1e-cycle",
    "type": "initial",
    "dryRun": False,
    "counts": {"create": 40, "update": 0, "failure": 3, "skipped": 2, "unchanged": 0},
    "requests": 47,
    "durationSeconds": 1.5,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def only_message(self) -> EmailMessage:
        assert len(self.envelopes) == 1
        content = self.envelopes[0].content
        assert isinstance(content, bytes)
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Server:
    inbox: Inbox
    port: int


def _serve(**kwargs: Any) -> Iterator[Server]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield Server(inbox, port)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    yield from _serve()


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"mailer",
        b"s3cret-pw",
    )
    # handled=False: aiosmtpd then answers 535 itself on a refusal.
    return AuthResult(success=good, handled=False)


@pytest.fixture
def auth_server() -> Iterator[Server]:
    # AUTH over cleartext only because this test server has no TLS; a real one would.
    yield from _serve(authenticator=_authenticator, auth_require_tls=False)


def failure(upn: str, code: str, reason: str) -> LogEntry:
    return LogEntry(
        cycle_id=SUMMARY["cycleId"],  # type: ignore[arg-type]
        job_id="clarizen-one.1",
        object_type="user",
        action="create",
        status="failure",
        source_identity=ProvisionedIdentity(
            f"oid-{upn}", upn.split("@")[0], "user", {"userPrincipalName": upn}
        ),
        error_code=code,
        reason=reason,
    )


FAILURES = [
    failure("alice@contoso.com", ErrorCode.DUPLICATE_TARGET_ENTRIES, "2 users match alice"),
    failure("bob@contoso.com", ErrorCode.CONFLICT, "409: userName already taken"),
    failure("carol@contoso.com", "RoleNotAllowed", "role 'Administrator' is not allowed"),
]


def settings(port: int, **kwargs: Any) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1", port=port, sender="scimitar@example.com", timeout=5, **kwargs
    )


def test_failure_email_says_which_app_cycle_and_what_failed(smtp_server: Server) -> None:
    assert send_failure_email(
        settings(smtp_server.port), "ops@contoso.com", APP, SUMMARY, FAILURES, shown=2
    )
    envelope = smtp_server.inbox.envelopes[0]
    assert envelope.mail_from == "scimitar@example.com"
    assert envelope.rcpt_tos == ["ops@contoso.com"]
    message = smtp_server.inbox.only_message()
    assert message["From"] == "scimitar@example.com"
    assert message["To"] == "ops@contoso.com"
    assert APP in message["Subject"]
    assert "3 provisioning failure(s)" in message["Subject"]
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Date"]
    body = message.get_content()
    assert f"app '{APP}'" in body
    assert "5d1f0c1e-cycle" in body
    assert "3 failure(s)" in body
    assert "First 2 of 3 failure(s):" in body
    assert "alice@contoso.com (oid-alice@contoso.com), create: DuplicateTargetEntries" in body
    assert "409: userName already taken" in body
    assert "carol@contoso.com" not in body  # only the first N
    # What the codes mean, and the command that lists every failure.
    assert "- DuplicateTargetEntries: More than one target object" in body
    assert "scimitar logs 'Clarizen One (test)' --status failure --cycle 5d1f0c1e-cycle" in body
    assert "create 40, failure 3, skipped 2" in body


def test_several_recipients(smtp_server: Server) -> None:
    assert send_failure_email(
        settings(smtp_server.port), "ops@contoso.com, it@contoso.com", APP, SUMMARY, FAILURES
    )
    assert smtp_server.inbox.envelopes[0].rcpt_tos == ["ops@contoso.com", "it@contoso.com"]
    assert "carol@contoso.com" in smtp_server.inbox.only_message().get_content()


def test_an_app_name_cannot_inject_headers(smtp_server: Server) -> None:
    evil = "Evil\r\nBcc: attacker@example.net"
    assert send_failure_email(
        settings(smtp_server.port), "ops@contoso.com", evil, SUMMARY, FAILURES
    )
    message = smtp_server.inbox.only_message()
    assert message["Bcc"] is None
    assert smtp_server.inbox.envelopes[0].rcpt_tos == ["ops@contoso.com"]
    assert "Evil Bcc: attacker@example.net" in message["Subject"]


def test_quarantine_email(smtp_server: Server) -> None:
    until = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    assert send_quarantine_email(
        settings(smtp_server.port),
        "ops@contoso.com",
        APP,
        "every request answered 401",
        until=until,
        error_code=ErrorCode.UNAUTHORIZED,
    )
    message = smtp_server.inbox.only_message()
    assert message["Subject"] == f"[scimitar] {APP}: provisioning is in quarantine"
    body = message.get_content()
    assert "Reason: every request answered 401" in body
    assert "Error code: Unauthorized" in body
    assert "rejected the secret token" in body
    assert "Next attempt: 2026-11-28T18:00:00Z" in body
    assert "scimitar app test-connection 'Clarizen One (test)'" in body
    assert "scimitar app restart 'Clarizen One (test)'" in body


def test_login_with_user_and_password(auth_server: Server) -> None:
    good = settings(auth_server.port, user="mailer", password="s3cret-pw")
    assert send_quarantine_email(good, "ops@contoso.com", APP, "down")
    assert len(auth_server.inbox.envelopes) == 1


def test_a_refused_login_returns_false_and_logs_no_password(
    auth_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    bad = settings(auth_server.port, user="mailer", password="wrong-pw-123")
    with caplog.at_level(logging.WARNING, logger="scimitar.provisioning.notify"):
        assert send_failure_email(bad, "ops@contoso.com", APP, SUMMARY, FAILURES) is False
    assert auth_server.inbox.envelopes == []
    assert "could not send the failure e-mail" in caplog.text
    assert "wrong-pw-123" not in caplog.text
    assert "wrong-pw-123" not in repr(bad)


def test_starttls_never_falls_back_to_cleartext(smtp_server: Server) -> None:
    # This server offers no STARTTLS: asked for it, we send nothing rather than cleartext.
    assert not send_failure_email(
        settings(smtp_server.port, starttls=True), "ops@contoso.com", APP, SUMMARY, FAILURES
    )
    assert smtp_server.inbox.envelopes == []


def test_an_unreachable_server_returns_false(caplog: pytest.LogCaptureFixture) -> None:
    closed = settings(_free_port())  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="scimitar.provisioning.notify"):
        assert send_failure_email(closed, "ops@contoso.com", APP, SUMMARY, FAILURES) is False
        assert send_quarantine_email(closed, "ops@contoso.com", APP, "down") is False
    assert f"127.0.0.1:{closed.port}" in caplog.text


def test_no_recipient_returns_false(smtp_server: Server) -> None:
    assert not send_failure_email(settings(smtp_server.port), " , ", APP, SUMMARY, FAILURES)
    assert smtp_server.inbox.envelopes == []


def test_settings_from_the_environment() -> None:
    assert SmtpSettings.from_env({}) == SmtpSettings()
    assert SmtpSettings() == SmtpSettings(host="localhost", port=25, starttls=False)
    env = {
        "SCIMITAR_SMTP_HOST": "smtp.contoso.com",
        "SCIMITAR_SMTP_PORT": "587",
        "SCIMITAR_SMTP_USER": "mailer",
        "SCIMITAR_SMTP_PASSWORD": "pw-from-env",
        "SCIMITAR_SMTP_STARTTLS": "true",
        "SCIMITAR_SMTP_FROM": "Provisioning <prov@contoso.com>",
    }
    read = SmtpSettings.from_env(env)
    assert (read.host, read.port, read.user, read.password) == (
        "smtp.contoso.com",
        587,
        "mailer",
        "pw-from-env",
    )
    assert read.starttls is True
    assert read.sender == "Provisioning <prov@contoso.com>"
    assert "pw-from-env" not in repr(read)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCIMITAR_SMTP_PORT", "smtp"),
        ("SCIMITAR_SMTP_PORT", "70000"),
        ("SCIMITAR_SMTP_STARTTLS", "maybe"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        SmtpSettings.from_env({name: value})


def test_a_display_name_sender_gives_a_message_id_in_its_domain(smtp_server: Server) -> None:
    named = SmtpSettings(
        host="127.0.0.1", port=smtp_server.port, sender="Provisioning <prov@contoso.com>"
    )
    assert send_quarantine_email(named, "ops@contoso.com", APP, "down")
    assert smtp_server.inbox.envelopes[0].mail_from == "prov@contoso.com"
    assert smtp_server.inbox.only_message()["Message-ID"].endswith("@contoso.com>")
