"""Record and verify the audit chain.

An entry's hash is SM3 over the previous entry's hash and the entry's canonical JSON, so a
changed entry breaks its own hash, a removed or reordered one breaks the next entry's link, and
a removed tail no longer matches the head.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tongban.audit.models import AuditEntry, AuditHead
from tongban.crypto.primitives import sm3
from tongban.db import utcnow

GENESIS = "0" * 64


def _canonical(e: AuditEntry) -> bytes:
    body = {
        "seq": e.seq,
        "at": e.at.isoformat(timespec="microseconds"),
        "actor": e.actor,
        "actor_role": e.actor_role,
        "action": e.action,
        "subject_type": e.subject_type,
        "subject_id": e.subject_id,
        "data_subject": e.data_subject,
        "reason": e.reason,
        "details": e.details or {},
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def entry_hash(prev_hash: str, e: AuditEntry) -> str:
    return sm3(prev_hash.encode() + b"\n" + _canonical(e)).hex()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    actor_role: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    data_subject: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (it lands or vanishes with the change).

    The head is written before it is read: on PostgreSQL that takes its row lock, on SQLite
    the database's write lock, so concurrent appenders queue instead of racing for a number.
    """
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    entry = AuditEntry(
        seq=head.seq + 1,
        at=at or utcnow(),
        actor=actor,
        actor_role=actor_role,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        data_subject=data_subject,
        reason=reason,
        details=details or {},
        prev_hash=head.hash,
        hash="",
    )
    entry.hash = entry_hash(head.hash, entry)
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.flush()
    return entry


@dataclass
class VerifyReport:
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> VerifyReport:
    """Walk the chain from the start; say where it is broken and how."""
    report = VerifyReport()
    prev_hash, expected_seq = GENESIS, 1
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        report.entries += 1
        if e.seq != expected_seq:
            gap = str(expected_seq) if e.seq - 1 == expected_seq else f"{expected_seq}..{e.seq - 1}"
            report.problems.append(f"entries {gap} removed (the sequence jumps to {e.seq})")
        if e.prev_hash != prev_hash:
            report.problems.append(
                f"entry {e.seq} does not follow the entry before it (removed or reordered)"
            )
        if entry_hash(e.prev_hash, e) != e.hash:
            report.problems.append(f"entry {e.seq} was changed (its hash does not match)")
        prev_hash, expected_seq = e.hash, e.seq + 1
    head = session.get(AuditHead, 1)
    last = expected_seq - 1
    if head is None:
        if report.entries:
            report.problems.append("the chain's head is missing (removed with a cut tail?)")
    elif head.seq != last or head.hash != prev_hash:
        if head.seq > last:
            report.problems.append(f"entries {last + 1}..{head.seq} at the end were removed")
        else:
            report.problems.append("the chain's head does not match its last entry")
    return report


def data_usage(session: Session, person_id: int, limit: int = 100) -> list[AuditEntry]:
    """Who read or used this person's data, newest first (我的数据使用记录)."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.data_subject == person_id)
            .order_by(AuditEntry.seq.desc())
            .limit(limit)
        )
    )
