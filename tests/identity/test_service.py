"""Persons with encrypted personal fields, blind look-ups, masking; the demo principals."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tongban.common.identifiers import is_valid_id_number, is_valid_uscc
from tongban.crypto.service import Keyring
from tongban.errors import DomainError
from tongban.identity.models import Account, Enterprise, EnterpriseAgent, Person
from tongban.identity.service import (
    NewPerson,
    create_person,
    find_person_by_id_number,
    person_out,
)

ZHANG = NewPerson(
    name="张三",
    id_number="310115198001010016",
    phone="13800138000",
    address="上海市浦东新区世纪大道100号",
    district_code="310115",
)


def test_personal_fields_are_encrypted_at_rest(demo_db: Session, keyring: Keyring) -> None:
    person = create_person(demo_db, keyring, ZHANG)
    row = (
        demo_db.execute(text("SELECT * FROM persons WHERE id = :id"), {"id": person.id})
        .mappings()
        .one()
    )
    stored = " ".join(str(v) for v in row.values())
    for secret in ("310115198001010016", "13800138000", "世纪大道"):
        assert secret not in stored
    assert row["id_number_enc"].startswith("tb1.")
    assert person.birth_date == date(1980, 1, 1) and person.gender == "男"


def test_a_person_is_found_by_id_number_through_the_blind_index(
    demo_db: Session, keyring: Keyring
) -> None:
    person = create_person(demo_db, keyring, ZHANG)
    assert find_person_by_id_number(demo_db, keyring, "310115198001010016") == person
    assert find_person_by_id_number(demo_db, keyring, " 310115198001010016 ") == person
    assert find_person_by_id_number(demo_db, keyring, "11010519491231002X") is None


def test_bad_and_duplicate_id_numbers_are_refused(demo_db: Session, keyring: Keyring) -> None:
    with pytest.raises(DomainError) as info:
        create_person(demo_db, keyring, NewPerson(name="李四", id_number="310115198001010017"))
    assert info.value.status == 422 and info.value.errors[0].field == "id_number"
    create_person(demo_db, keyring, ZHANG)
    with pytest.raises(DomainError) as info:
        create_person(demo_db, keyring, ZHANG)
    assert info.value.code == "person_exists" and info.value.status == 409


def test_the_profile_on_screen_is_masked(demo_db: Session, keyring: Keyring) -> None:
    person = create_person(demo_db, keyring, ZHANG)
    out = person_out(demo_db, keyring, person, today=date(2026, 11, 27))
    assert out.id_number == "310***********0016"
    assert out.phone == "138****8000"
    assert out.address == "上海市浦东新****"
    assert out.birth_date == "1980-**-**"
    assert (out.age, out.elderly) == (46, False)


def test_the_demo_principals(demo_db: Session, keyring: Keyring) -> None:
    persons = list(demo_db.scalars(select(Person)))
    assert len(persons) >= 30
    assert len({p.district_code for p in persons}) >= 5
    ids = [keyring.decrypt(demo_db, "person.id_number", p.id_number_enc) for p in persons]
    assert all(is_valid_id_number(i) for i in ids) and len(set(ids)) == len(ids)
    enterprises = list(demo_db.scalars(select(Enterprise)))
    assert len(enterprises) >= 10 and all(is_valid_uscc(e.uscc) for e in enterprises)
    accounts = {a.username: a for a in demo_db.scalars(select(Account))}
    assert set(accounts) == {
        "citizen1", "citizen2", "enterprise1", "window1", "window2",
        "reviewer1", "issuer1", "admin", "supervisor1", "metro1", "hospital1", "hotel1",
        "credit1", "hall1",
    }  # fmt: skip
    assert all(a.demo for a in accounts.values())
    elderly = demo_db.get(Person, accounts["citizen2"].person_id)
    assert elderly is not None and person_out(demo_db, keyring, elderly).elderly
    roles = {u: {(g.role, g.binding) for g in a.roles} for u, a in accounts.items()}
    assert ("reviewer", "sh-scjgj") in roles["reviewer1"]
    window1 = next(iter(roles["window1"]))
    assert window1[0] == "window_staff" and window1[1].startswith("hall-31")
    assert ("window_staff", "hall-310115-admin") in roles["window2"]
    agent = accounts["enterprise1"]
    grant = demo_db.scalars(select(EnterpriseAgent)).one()
    assert (grant.person_id, grant.enterprise_id) == (agent.person_id, agent.enterprise_id)
    assert demo_db.scalar(select(func.count()).select_from(Person).where(Person.disabled)) >= 1
