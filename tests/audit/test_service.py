"""The audit chain: appended in the caller's transaction, and every kind of tampering found."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tongban.audit.models import AuditEntry
from tongban.audit.service import data_usage, record, verify


def fill(db: Session, n: int = 6) -> None:
    for i in range(1, n + 1):
        record(
            db,
            actor=f"account:{i}",
            actor_role="window_staff",
            action="person.read",
            subject_type="person",
            subject_id=str(100 + i % 2),
            data_subject=100 + i % 2,
            reason=f"受理办件 #{i}",
            details={"fields": ["id_number"]},
        )
    db.flush()


def test_an_untouched_chain_verifies(empty_db: Session) -> None:
    fill(empty_db)
    report = verify(empty_db)
    assert report.ok and report.entries == 6
    seqs = [e.seq for e in empty_db.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert seqs == [1, 2, 3, 4, 5, 6]


def test_an_empty_chain_verifies(empty_db: Session) -> None:
    assert verify(empty_db).ok


def test_a_changed_entry_is_found(empty_db: Session) -> None:
    fill(empty_db)
    empty_db.execute(text("UPDATE audit_entries SET reason = '没有理由' WHERE seq = 3"))
    empty_db.expire_all()
    assert verify(empty_db).problems == ["entry 3 was changed (its hash does not match)"]


def test_a_removed_entry_is_found(empty_db: Session) -> None:
    fill(empty_db)
    empty_db.execute(text("DELETE FROM audit_entries WHERE seq = 4"))
    empty_db.expire_all()
    problems = verify(empty_db).problems
    assert "entries 4 removed (the sequence jumps to 5)" in problems
    assert "entry 5 does not follow the entry before it (removed or reordered)" in problems


def test_reordered_entries_are_found(empty_db: Session) -> None:
    fill(empty_db)
    # Swap the contents of entries 2 and 3, keeping each row's sequence number.
    empty_db.execute(text("UPDATE audit_entries SET seq = -2 WHERE seq = 2"))
    empty_db.execute(text("UPDATE audit_entries SET seq = 2 WHERE seq = 3"))
    empty_db.execute(text("UPDATE audit_entries SET seq = 3 WHERE seq = -2"))
    empty_db.expire_all()
    problems = verify(empty_db).problems
    assert any(p.startswith("entry 2 ") for p in problems)
    assert any(p.startswith("entry 3 ") for p in problems)


def test_a_removed_tail_is_found(empty_db: Session) -> None:
    fill(empty_db)
    empty_db.execute(text("DELETE FROM audit_entries WHERE seq >= 5"))
    empty_db.expire_all()
    assert verify(empty_db).problems == ["entries 5..6 at the end were removed"]


def test_an_entry_rolls_back_with_its_transaction(empty_db: Session) -> None:
    fill(empty_db, 2)
    empty_db.commit()
    record(empty_db, actor="account:9", action="person.read", data_subject=100)
    empty_db.rollback()
    record(empty_db, actor="account:9", action="person.read", data_subject=100)
    assert verify(empty_db).ok and verify(empty_db).entries == 3


def test_a_person_sees_who_used_their_data(empty_db: Session) -> None:
    fill(empty_db)
    mine = data_usage(empty_db, 101)
    assert [e.seq for e in mine] == [5, 3, 1]
    assert all(e.reason for e in mine)
