"""The outbox: inbox messages for every status change, SMS sent once, failures retried."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.crypto.service import Keyring
from tongban.identity.models import Account
from tongban.notify.models import Message
from tongban.notify.service import LogSender, inbox, mark_read, notify, send_pending


class FlakySender:
    def __init__(self) -> None:
        self.calls = 0

    def send(self, phone: str, text: str) -> None:
        self.calls += 1
        raise ConnectionError("provider down")


def person_of(session: Session, username: str) -> int:
    person_id = session.scalar(select(Account.person_id).where(Account.username == username))
    assert person_id is not None
    return int(person_id)


def test_inbox_at_once_and_sms_sent_exactly_once(demo_db: Session, keyring: Keyring) -> None:
    person = person_of(demo_db, "citizen1")
    notify(demo_db, person, "case:1", "出生登记", "已受理", sms=True)
    assert [m.body for m in inbox(demo_db, person)] == ["已受理"]
    sender = LogSender()
    assert send_pending(demo_db, keyring, sender) == (1, 0)
    assert send_pending(demo_db, keyring, sender) == (0, 0)  # never twice
    phone, text = sender.sent[0]
    assert phone.startswith("1")
    assert text == "【出生登记】已受理"


def test_a_failed_send_is_kept_and_retried(demo_db: Session, keyring: Keyring) -> None:
    person = person_of(demo_db, "citizen2")
    notify(demo_db, person, "case:2", "居住证", "需要补正", sms=True)
    flaky = FlakySender()
    assert send_pending(demo_db, keyring, flaky) == (0, 1)
    waiting = demo_db.scalars(
        select(Message).where(Message.channel == "sms", Message.person_id == person)
    ).one()
    assert waiting.sent_at is None
    assert waiting.last_error == "provider down"
    assert send_pending(demo_db, keyring, LogSender()) == (1, 0)


def test_only_ones_own_messages_can_be_marked_read(demo_db: Session) -> None:
    from tongban.errors import DomainError

    mine, theirs = person_of(demo_db, "citizen1"), person_of(demo_db, "citizen2")
    notify(demo_db, mine, "case:3", "t", "b", sms=False)
    message = inbox(demo_db, mine)[0]
    assert mark_read(demo_db, mine, message.id).read_at is not None
    with pytest.raises(DomainError):
        mark_read(demo_db, theirs, message.id)
