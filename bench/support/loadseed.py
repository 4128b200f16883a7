"""The people and staff a load test adds to a demo database, written in-process with the
product's own service functions (as `tongban demo` writes its own): citizens like the demo's
(real-name verified, with an ID card and a household register in the license registry, spread
over the districts and streets), and reviewers of the departments whose cases the load makes.

Every account has the demo password and is marked demo, so it works only in a demo database.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tongban.catalog.models import Street
from tongban.crypto.keys import keyring_for
from tongban.crypto.signing import SigningKeys
from tongban.db import make_engine, make_sessionmaker, transaction, utcnow
from tongban.identity.demo import DEMO_PASSWORD, demo_people
from tongban.identity.models import Account
from tongban.identity.schemas import Role
from tongban.identity.service import NewPerson, create_account, create_person, hash_password
from tongban.licenses.demo import issue_identity_papers
from tongban.licenses.service import Registry
from tongban.settings import Settings
from tongban.workdays.service import Special, known_years, set_year

DEMO_PEOPLE = 30  # the demo's own residents: the first of demo_people()'s sequence


def add_citizens(settings: Settings, prefix: str, count: int) -> list[str]:
    """`count` more residents, each with a citizen account `{prefix}{n:03d}` and the identity
    papers the demo citizens hold. The usernames, in order."""
    engine = make_engine(settings.database_url)
    ring = keyring_for(settings)
    registry = Registry(settings, ring, SigningKeys(settings, ring))
    names: list[str] = []
    try:
        with transaction(make_sessionmaker(engine)) as session:
            streets: dict[str, list[tuple[str, str]]] = {}
            for s in session.scalars(select(Street).order_by(Street.code)):
                streets.setdefault(s.district_code, []).append((s.code, s.name))
            # The generator is seeded: its first DEMO_PEOPLE are the demo's own residents.
            people = demo_people(streets, DEMO_PEOPLE + count * 2)[DEMO_PEOPLE:]
            seen: set[str] = set()
            shared_hash = hash_password(DEMO_PASSWORD)
            now = utcnow()
            for p in people:
                if len(names) == count:
                    break
                if p.id_number in seen:
                    continue
                seen.add(p.id_number)
                person = create_person(
                    session,
                    ring,
                    NewPerson(
                        name=p.name,
                        id_number=p.id_number,
                        phone=p.phone,
                        address=p.address,
                        district_code=p.district,
                        street_code=p.street,
                        medical_voucher=p.medical_voucher,
                    ),
                )
                person.real_name_verified_at = now
                person.real_name_provider = "demo"
                username = f"{prefix}{len(names) + 1:03d}"
                create_account(
                    session,
                    username,
                    None,
                    [(Role.CITIZEN, "")],
                    password_hash=shared_hash,
                    display_name=p.name,
                    person_id=person.id,
                    demo=True,
                )
                issue_identity_papers(session, registry, p.id_number)
                names.append(username)
    finally:
        engine.dispose()
    return names


def add_reviewers(settings: Settings, prefix: str, departments: list[str]) -> list[str]:
    """One reviewer account per entry of `departments` (a department may come more than
    once), `{prefix}{department}-{n}`; their usernames, in the same order."""
    engine = make_engine(settings.database_url)
    names: list[str] = []
    seen: dict[str, int] = {}
    try:
        with transaction(make_sessionmaker(engine)) as session:
            shared_hash = hash_password(DEMO_PASSWORD)
            for department in departments:
                seen[department] = n = seen.get(department, 0) + 1
                username = f"{prefix}{department}-{n}"
                if session.scalar(select(Account.id).where(Account.username == username)) is None:
                    create_account(
                        session,
                        username,
                        None,
                        [(Role.REVIEWER, department)],
                        password_hash=shared_hash,
                        display_name=f"{department} 审核员 {n}",
                        demo=True,
                    )
                names.append(username)
    finally:
        engine.dispose()
    return names


def ensure_next_year(settings: Settings) -> int | None:
    """A case accepted in December may fall due next year, which the calendar must know (409
    `calendar_year_unknown` otherwise). When chinesecalendar does not know it yet, enter it as
    an administrator would before 1 January, with only the one fixed holiday (元旦) — this is
    a throwaway load-test database. The year entered, or None."""
    engine = make_engine(settings.database_url)
    year = date.today().year + 1
    try:
        with transaction(make_sessionmaker(engine)) as session:
            if year in known_years(session):
                return None
            set_year(session, year, [Special(date(year, 1, 1), "holiday", "元旦")], "bench:load")
            return year
    finally:
        engine.dispose()
