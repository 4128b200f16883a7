"""Demo data across regions (made up, demo databases only): a Suzhou family living in Pudong,
known to both regions, with licenses in both; and the Jiangsu node's own demo accounts.

周晓东 (citizen3) and 陈雪梅 (citizen4) have their household registration in Suzhou and live
in Shanghai: Jiangsu holds their ID cards, household register and marriage certificates;
Shanghai holds 周晓东's residence permit. Their ID numbers are generated with correct check
characters and belong to nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.common.identifiers import uscc_with_check_digit
from tongban.db import utcnow
from tongban.identity.demo import DEMO_PASSWORD, demo_portrait
from tongban.identity.models import Account, Enterprise, Person
from tongban.identity.realname import DemoRealNameProvider
from tongban.identity.schemas import Role
from tongban.identity.service import (
    NewPerson,
    add_photo,
    create_account,
    create_person,
    hash_password,
    mark_demo_database,
)
from tongban.licenses.demo import issue_identity_papers
from tongban.licenses.service import Actor, IssueRequest, Registry, issue_license

SYSTEM = Actor("system:demo", None)


def _id_number(body17: str) -> str:
    from stdnum.cn import ric

    return body17 + str(ric.calc_check_digit(body17 + "0"))


@dataclass(frozen=True)
class Resident:
    username: str | None
    name: str
    id_number: str
    phone: str
    # Where each region has them: Jiangsu the household address, Shanghai where they live.
    js_address: str
    js_district: str
    js_street: str | None
    sh_address: str
    sh_district: str


FAMILY = (
    Resident(
        "citizen3",
        "周晓东",
        _id_number("32058319910618033"),
        "13951210618",
        "江苏省昆山市玉山镇人民路188号",
        "320583",
        "320583100",
        "上海市浦东新区张江镇祖冲之路100弄8号601室",
        "310115",
    ),
    Resident(
        "citizen4",
        "陈雪梅",
        _id_number("32050819930209024"),
        "13962190209",
        "江苏省苏州市姑苏区平江路66号",
        "320508",
        "320508008",
        "上海市浦东新区张江镇祖冲之路100弄8号601室",
        "310115",
    ),
)
MARRIED_ON = date(2021, 10, 1)


def _person(session: Session, registry: Registry, r: Resident, region: str) -> Person:
    js = region == "320000"
    person = create_person(
        session,
        registry.keyring,
        NewPerson(
            name=r.name,
            id_number=r.id_number,
            phone=r.phone,
            address=r.js_address if js else r.sh_address,
            district_code=r.js_district if js else r.sh_district,
            street_code=r.js_street if js else None,
        ),
    )
    person.photo_ref = add_photo(session, person.id, *demo_portrait(person.name))
    result = DemoRealNameProvider().verify(r.name, r.id_number, None)
    if result.verified:
        person.real_name_verified_at = utcnow()
        person.real_name_provider = result.provider
    return person


def _account(
    session: Session,
    username: str,
    display: str,
    roles: list[tuple[Role, str]],
    person_id: int | None,
    shared_hash: str,
) -> None:
    create_account(
        session,
        username,
        None,
        roles,
        password_hash=shared_hash,
        display_name=display,
        person_id=person_id,
        demo=True,
    )


def load_shanghai_family(session: Session, registry: Registry) -> int:
    """The Suzhou family in Shanghai's registry (where they live), 周晓东's residence permit,
    and their accounts; returns the licenses issued."""
    shared_hash = hash_password(DEMO_PASSWORD)
    persons = [_person(session, registry, r, "310000") for r in FAMILY]
    for r, p in zip(FAMILY, persons, strict=True):
        if r.username:
            _account(session, r.username, r.name, [(Role.CITIZEN, "")], p.id, shared_hash)
    issue_license(
        session,
        registry,
        SYSTEM,
        IssueRequest(
            type_key="residence_permit",
            holder_id_number=FAMILY[0].id_number,
            content={
                "person.residence_address": FAMILY[0].sh_address,
                "resident.permit_number": "310115202300618",
            },
            valid_from=date(2023, 6, 18),
        ),
    )
    return 1


def load_jiangsu_demo(session: Session, registry: Registry) -> dict[str, int]:
    """The Jiangsu node's demo: the family (at home in its registry, with their ID cards,
    household register and marriage certificates), a Suzhou enterprise, and the accounts of
    its citizens and staff. Returns the accounts made."""
    mark_demo_database(session)
    shared_hash = hash_password(DEMO_PASSWORD)
    persons = [_person(session, registry, r, "320000") for r in FAMILY]
    ids: dict[str, int] = {}
    for r, p in zip(FAMILY, persons, strict=True):
        if r.username:
            _account(session, r.username, r.name, [(Role.CITIZEN, "")], p.id, shared_hash)
        issue_identity_papers(session, registry, r.id_number)
    for me, spouse in ((FAMILY[0], FAMILY[1]), (FAMILY[1], FAMILY[0])):
        issue_license(
            session,
            registry,
            SYSTEM,
            IssueRequest(
                type_key="marriage_certificate",
                holder_id_number=me.id_number,
                content={
                    "spouse.name": spouse.name,
                    "spouse.id_number": spouse.id_number,
                    "marriage.registration_date": MARRIED_ON.isoformat(),
                    "marriage.certificate_number": "J320508-2021-004518",
                },
                valid_from=MARRIED_ON,
            ),
        )
    session.add(
        Enterprise(
            uscc=uscc_with_check_digit("91320583MA1X00010"),
            name="昆山玉山便利店有限公司",
            type="有限责任公司（自然人投资或控股）",
            legal_rep_id=persons[0].id,
            address="江苏省昆山市玉山镇人民路190号",
            district_code="320583",
            credit_class="A",
        )
    )
    staff = [
        ("window1", "昆山市政务服务中心综合窗口", [(Role.WINDOW_STAFF, "hall-320583-admin")]),
        ("reviewer1", "苏州市公安局审核员", [(Role.REVIEWER, "sz-gaj")]),
        ("issuer1", "苏州市公安局发证员", [(Role.ISSUER, "sz-gaj")]),
        ("admin", "平台管理员", [(Role.ADMIN, "")]),
    ]
    for username, display, roles in staff:
        _account(session, username, display, roles, None, shared_hash)
    session.flush()
    for username in [r.username for r in FAMILY if r.username] + [s[0] for s in staff]:
        found = session.scalar(select(Account.id).where(Account.username == username))
        ids[username] = int(found or 0)
    return ids
