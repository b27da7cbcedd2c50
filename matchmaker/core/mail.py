"""Outgoing mail: SMTP when configured, the console in development, a list in tests."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger(__name__)


def send(to: str, subject: str, body: str) -> None:
    if to.lower().endswith(".invalid"):  # service accounts (organization API tokens) have no mailbox
        return
    config = current_app.config
    msg = EmailMessage()
    msg["From"] = config["MAIL_SENDER"]
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    outbox = current_app.extensions.get("mail_outbox")
    if outbox is not None:  # tests read what was sent
        outbox.append(msg)
        return
    if not config.get("MAIL_SERVER"):
        print(f"\n--- mail to {to} ---\nSubject: {subject}\n\n{body}\n--- end of mail ---\n", flush=True)
        return
    with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=20) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(msg)


def enabled() -> bool:
    """Digest mail is sent only when a real SMTP server is configured (or in tests)."""
    return bool(current_app.config.get("MAIL_SERVER")) or "mail_outbox" in current_app.extensions
