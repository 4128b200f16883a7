"""Telling people what happened: the inbox at once, SMS through a sender, from the outbox.

`notify` writes the messages in the caller's transaction. In-app messages are delivered by
being written; SMS are sent later by `send_pending` (a worker), through an `SmsSender` — the
demo's logs a masked line, a deployment plugs in its provider. A failed send is retried on the
next run, up to `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.common.masking import mask_phone
from tongban.crypto.service import Keyring
from tongban.db import utcnow
from tongban.errors import NotFound
from tongban.identity.models import Person
from tongban.notify.models import Message

log = logging.getLogger("tongban.sms")
MAX_ATTEMPTS = 5


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Send one SMS or raise."""
        ...


class LogSender:
    """The demo's SMS channel: a log line with the number masked (nothing leaves the machine)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))
        log.info("sms to %s: %s", mask_phone(phone), text)


def notify(
    session: Session, person_id: int, topic: str, title: str, body: str, *, sms: bool
) -> None:
    now = utcnow()
    session.add(
        Message(
            person_id=person_id, channel="inbox", topic=topic, title=title, body=body, sent_at=now
        )
    )
    if sms:
        session.add(
            Message(person_id=person_id, channel="sms", topic=topic, title=title, body=body)
        )
    session.flush()


def already_told(session: Session, person_id: int, topic: str) -> bool:
    """Whether this person has a message of this topic in their inbox (a reminder is sent
    once)."""
    found = session.scalar(
        select(Message.id).where(
            Message.person_id == person_id, Message.topic == topic, Message.channel == "inbox"
        )
    )
    return found is not None


def send_pending(
    session: Session, keyring: Keyring, sender: SmsSender, limit: int = 500
) -> tuple[int, int]:
    """Send waiting SMS; returns (sent, failed). Rows are locked while sending, so two workers
    never send the same message."""
    rows = session.scalars(
        select(Message)
        .where(Message.channel == "sms", Message.sent_at.is_(None), Message.attempts < MAX_ATTEMPTS)
        .order_by(Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    sent = failed = 0
    for message in rows:
        person = session.get(Person, message.person_id)
        phone = (
            keyring.decrypt(session, "person.phone", person.phone_enc)
            if person and person.phone_enc
            else None
        )
        message.attempts += 1
        if phone is None:
            message.last_error = "no phone number"
            failed += 1
            continue
        try:
            sender.send(phone, f"【{message.title}】{message.body}")
        except Exception as exc:
            message.last_error = str(exc)[:200]
            failed += 1
            continue
        message.sent_at = utcnow()
        sent += 1
    return sent, failed


def inbox(session: Session, person_id: int | None, limit: int = 100) -> Sequence[Message]:
    if person_id is None:
        return []
    return session.scalars(
        select(Message)
        .where(Message.person_id == person_id, Message.channel == "inbox")
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()


def mark_read(session: Session, person_id: int | None, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None or message.person_id != person_id or message.channel != "inbox":
        raise NotFound("message_not_found", "消息不存在", "No such message")
    message.read_at = message.read_at or utcnow()
    return message
