"""E-mail notifications: failures in a cycle, and an app put in quarantine.

The seed's step 5: "In the Notification Email box, enter the email address of a
person or group who should receive the provisioning error notifications. Select the
Send an email notification when a failure occurs check box." Sending is best effort:
a mail server that is down or refuses us is logged and reported as ``False``, and
never stops a provisioning cycle.
"""

from __future__ import annotations

import logging
import os
import shlex
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Final

from scimitar.provisioning.logs import LogEntry, format_timestamp, recommended_action

log = logging.getLogger(__name__)

DEFAULT_FAILURES_SHOWN: Final = 20
DEFAULT_TIMEOUT_SECONDS: Final = 10.0
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _env_flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def _env_port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{name} must be a TCP port number, not {raw!r}")
    return int(raw)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to send mail; ``from_env`` reads the ``SCIMITAR_SMTP_*`` variables."""

    host: str = "localhost"
    port: int = 25
    user: str | None = None
    # Kept out of repr() so that logging the settings never shows the password.
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    sender: str = "scimitar@localhost"
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings:
        """Read ``SCIMITAR_SMTP_{HOST,PORT,USER,PASSWORD,STARTTLS,FROM}``.

        A malformed port or STARTTLS flag raises ``ValueError`` naming the variable.
        """
        env = os.environ if environ is None else environ
        return cls(
            host=env.get("SCIMITAR_SMTP_HOST", "").strip() or "localhost",
            port=_env_port(env, "SCIMITAR_SMTP_PORT", 25),
            user=env.get("SCIMITAR_SMTP_USER") or None,
            password=env.get("SCIMITAR_SMTP_PASSWORD") or None,
            starttls=_env_flag(env, "SCIMITAR_SMTP_STARTTLS"),
            sender=env.get("SCIMITAR_SMTP_FROM", "").strip() or "scimitar@localhost",
        )


def _one_line(text: str) -> str:
    # Header values may not hold line breaks (and an app name must not inject headers).
    return " ".join(text.split())


def _recipients(to: str) -> list[str]:
    return [address.strip() for address in to.replace(";", ",").split(",") if address.strip()]


def _message(settings: SmtpSettings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(_recipients(to))
    message["Subject"] = _one_line(subject)
    message["Date"] = formatdate(usegmt=True)
    # A domain given here spares make_msgid a possibly slow DNS lookup of our own name.
    domain = parseaddr(settings.sender)[1].rpartition("@")[2]
    message["Message-ID"] = make_msgid(domain=domain or "localhost")
    message.set_content(body)
    return message


def _send(settings: SmtpSettings, to: str, message: EmailMessage, what: str) -> bool:
    recipients = _recipients(to)
    if not recipients:
        log.warning("not sending the %s e-mail: no recipient address", what)
        return False
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                # Never fall back to cleartext: starttls() raises when not offered.
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            smtp.send_message(message, to_addrs=recipients)
    except Exception as exc:  # best effort: a mail problem must never stop a cycle
        # The exception says what the server or socket answered; the settings'
        # password is never part of it, and the message body is not logged.
        log.warning(
            "could not send the %s e-mail to %s via %s:%d: %s",
            what,
            ", ".join(recipients),
            settings.host,
            settings.port,
            exc,
        )
        return False
    return True


def _object_line(entry: LogEntry) -> str:
    source = entry.source_identity
    label = source.label()
    name = f"{label} ({source.id})" if source.id and source.id != label else label
    code = entry.error_code or "no error code"
    reason = _one_line(entry.reason or "no reason given")
    return f"- {entry.object_type} {name}, {entry.action}: {code}: {reason}"


def failure_email(
    settings: SmtpSettings,
    to: str,
    app_name: str,
    summary: Mapping[str, Any],
    failures: Sequence[LogEntry],
    *,
    shown: int = DEFAULT_FAILURES_SHOWN,
) -> EmailMessage:
    """Build the failure notice for one cycle (``summary`` is the cycle's summary)."""
    counts = summary.get("counts") or {}
    failed = int(counts.get("failure", len(failures)))
    cycle_id = str(summary.get("cycleId") or (failures[0].cycle_id if failures else "unknown"))
    app = shlex.quote(app_name)
    lines = [
        f"Provisioning to the app {app_name!r} had {failed} failure(s) "
        f"in cycle {cycle_id} ({summary.get('type', 'unknown')} cycle).",
        "",
    ]
    done = [f"{name} {n}" for name, n in counts.items() if n]
    if done:
        lines += ["Counts: " + ", ".join(done) + ".", ""]
    if failures:
        lines.append(f"First {min(shown, len(failures))} of {failed} failure(s):")
        lines += [_object_line(entry) for entry in failures[:shown]]
        lines.append("")
        codes = sorted({e.error_code or "" for e in failures[:shown]} - {""})
        hints = [f"- {code}: {hint}" for code in codes if (hint := recommended_action(code))]
        if hints:
            lines += ["What these errors mean:", *hints, ""]
    lines += [
        "What to do: read every failure with",
        f"    scimitar logs {app} --status failure --cycle {shlex.quote(cycle_id)}",
        "fix its cause (the directory, the mappings or the app), and the next cycle retries it.",
        f"For one user at once: scimitar provision {app} --user UPN",
    ]
    subject = f"[scimitar] {app_name}: {failed} provisioning failure(s) in cycle {cycle_id}"
    return _message(settings, to, subject, "\n".join(lines) + "\n")


def send_failure_email(
    settings: SmtpSettings,
    to: str,
    app_name: str,
    summary: Mapping[str, Any],
    failures: Sequence[LogEntry],
    *,
    shown: int = DEFAULT_FAILURES_SHOWN,
) -> bool:
    """Mail ``to`` about a cycle's failures; return whether the server accepted it."""
    try:
        message = failure_email(settings, to, app_name, summary, failures, shown=shown)
    except (ValueError, TypeError) as exc:  # an address the e-mail package rejects
        log.warning("could not build the failure e-mail for app %r: %s", app_name, exc)
        return False
    return _send(settings, to, message, "failure")


def quarantine_email(
    settings: SmtpSettings,
    to: str,
    app_name: str,
    reason: str,
    *,
    until: datetime | None = None,
    error_code: str | None = None,
) -> EmailMessage:
    """Build the notice that an app's provisioning is in quarantine."""
    app = shlex.quote(app_name)
    lines = [
        f"Provisioning to the app {app_name!r} is in quarantine: its cycles keep failing, "
        "so scimitar now runs them less often.",
        "",
        f"Reason: {_one_line(reason)}",
    ]
    if error_code:
        lines.append(f"Error code: {error_code}")
        hint = recommended_action(error_code)
        if hint:
            lines.append(f"Meaning: {hint}")
    if until is not None:
        lines.append(f"Next attempt: {format_timestamp(until, 'seconds')}")
    lines += [
        "",
        "What to do:",
        f"1. Check the tenant URL and secret token: scimitar app test-connection {app}",
        f"2. Read the failures: scimitar logs {app} --status failure",
        f"3. Once fixed, leave quarantine at once: scimitar app restart {app}",
    ]
    subject = f"[scimitar] {app_name}: provisioning is in quarantine"
    return _message(settings, to, subject, "\n".join(lines) + "\n")


def send_quarantine_email(
    settings: SmtpSettings,
    to: str,
    app_name: str,
    reason: str,
    *,
    until: datetime | None = None,
    error_code: str | None = None,
) -> bool:
    """Mail ``to`` that ``app_name`` went into quarantine; return whether it was accepted."""
    try:
        message = quarantine_email(
            settings, to, app_name, reason, until=until, error_code=error_code
        )
    except (ValueError, TypeError) as exc:
        log.warning("could not build the quarantine e-mail for app %r: %s", app_name, exc)
        return False
    return _send(settings, to, message, "quarantine")
