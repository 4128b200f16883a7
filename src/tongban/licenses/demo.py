"""Licenses of the demo people and enterprises (made up, in a demo database only): issued by the
platform as if the departments had issued them, signed with the departments' demo keys."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.identity.models import Account, Enterprise, Person
from tongban.licenses.service import Actor, IssueRequest, Registry, issue_license

SYSTEM = Actor("system:demo", None)
IDENTITY_PAPERS = ("resident_id_card", "household_register")


def load_demo_licenses(session: Session, registry: Registry) -> int:
    """Business and food licences for every demo enterprise; an ID card and a household register
    for the demo citizens. Returns how many were issued."""
    issued = 0
    for i, enterprise in enumerate(session.scalars(select(Enterprise).order_by(Enterprise.id))):
        issue_license(
            session,
            registry,
            SYSTEM,
            IssueRequest(
                type_key="business_license",
                holder_uscc=enterprise.uscc,
                content={
                    "enterprise.registered_capital": str(50 + 10 * i),
                    "enterprise.business_scope": "食品销售；日用百货销售；烟草制品零售",
                    "enterprise.established_date": date(2019 + i % 6, 3, 1 + i).isoformat(),
                },
                valid_from=date(2019 + i % 6, 3, 1 + i),
            ),
        )
        issued += 1
        if i == 0:  # the convenience store of enterprise1's agent also sells food
            issue_license(
                session,
                registry,
                SYSTEM,
                IssueRequest(
                    type_key="food_business_license",
                    holder_uscc=enterprise.uscc,
                    content={
                        "premises.address": enterprise.address,
                        "food.main_format": "食品销售经营者",
                        "food.business_items": "预包装食品（含冷藏冷冻食品）销售",
                    },
                ),
            )
            issued += 1
    for username in ("citizen1", "citizen2"):
        person_id = session.scalar(select(Account.person_id).where(Account.username == username))
        person = session.get(Person, person_id) if person_id else None
        if person is None:
            continue
        id_number = registry.keyring.decrypt(session, "person.id_number", person.id_number_enc)
        issued += issue_identity_papers(session, registry, id_number)
    return issued


def issue_identity_papers(session: Session, registry: Registry, id_number: str) -> int:
    """A demo resident's ID card and household register: the papers most matters ask for."""
    for type_key in IDENTITY_PAPERS:
        issue_license(
            session,
            registry,
            SYSTEM,
            IssueRequest(
                type_key=type_key,
                holder_id_number=id_number,
                content={"person.ethnicity": "汉族"},
            ),
        )
    return len(IDENTITY_PAPERS)
