"""Demo principals and accounts for `tongban demo`: made-up people with valid-format identifiers.

Everything here is invented for demonstration: names are drawn from common surnames and given
names, ID numbers and credit codes are generated with correct check characters but belong to
nobody, and every account's password is the published `Demo@2026`, which only a database marked
as a demo accepts (`identity.service.authenticate`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.catalog.models import Hall, Street
from tongban.common.identifiers import uscc_with_check_digit
from tongban.crypto.service import Keyring
from tongban.db import utcnow
from tongban.identity.models import Enterprise, EnterpriseAgent
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

DEMO_PASSWORD = "Demo@2026"
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "国强",
    "志明",
    "海燕",
    "晓东",
    "雪梅",
]
_DISTRICTS = ["310115", "310101", "310104", "310105", "310106", "310107", "310110", "310112"]
_ROADS = ["世纪大道", "南京东路", "衡山路", "长宁路", "延安中路", "曹杨路", "国定路", "莘庄路"]
_SHOPS = [
    ("浦江便利店", "有限责任公司"), ("申城餐饮管理", "有限公司"), ("东方明珠酒店管理", "有限公司"),
    ("活力健身", "有限公司"), ("仁心大药房", "有限公司"), ("书香文化传播", "有限公司"),
    ("海上影城", "有限公司"), ("云购电子商务", "有限公司"), ("蓝湾游泳馆", "有限公司"),
    ("沪上小吃", "有限公司"),
]  # fmt: skip


@dataclass(frozen=True)
class DemoPerson:
    name: str
    id_number: str
    phone: str
    address: str
    district: str
    street: str | None
    disabled: bool
    medical_voucher: str


def _id_number(rng: random.Random, district: str, born: date, male: bool) -> str:
    from stdnum.cn import ric

    seq = rng.randrange(0, 50) * 2 + (1 if male else 0)
    body = f"{district}{born:%Y%m%d}{rng.randrange(0, 10)}{seq:02d}"
    return body + ric.calc_check_digit(body + "0")


def demo_people(streets: dict[str, list[tuple[str, str]]], count: int = 30) -> list[DemoPerson]:
    """`count` made-up residents across districts; the second is elderly, some are disabled."""
    rng = random.Random(20260101)
    people: list[DemoPerson] = []
    for i in range(count):
        district = _DISTRICTS[i % len(_DISTRICTS)]
        if i == 1:
            born = date(1948, 3, 12)  # citizen2: elderly
        else:
            born = date(1955 + rng.randrange(0, 48), rng.randrange(1, 13), rng.randrange(1, 29))
        male = rng.random() < 0.5
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        street = rng.choice(streets[district]) if streets.get(district) else None
        road = _ROADS[_DISTRICTS.index(district)]
        people.append(
            DemoPerson(
                name=name,
                id_number=_id_number(rng, district, born, male),
                phone=f"13{rng.randrange(0, 10)}{rng.randrange(0, 10**8):08d}",
                address=f"上海市{road}{rng.randrange(1, 999)}弄{rng.randrange(1, 30)}号"
                + f"{rng.randrange(101, 2001)}室",
                district=district,
                street=street[0] if street else None,
                disabled=i % 11 == 7,
                medical_voucher=f"E{district[:4]}{rng.randrange(0, 10**11):011d}",
            )
        )
    return people


_PORTRAIT_COLOURS = ["#dbe7f5", "#f5e6d8", "#e2f0df", "#efe0f2", "#f3efd6"]


def demo_portrait(name: str) -> tuple[str, bytes]:
    """A drawn stand-in for a real-name photo, marked 演示 so nobody takes it for a person."""
    background = _PORTRAIT_COLOURS[sum(map(ord, name)) % len(_PORTRAIT_COLOURS)]
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 160" width="120" height="160">'
        f'<rect width="120" height="160" fill="{background}"/>'
        '<circle cx="60" cy="62" r="30" fill="#8a97a8"/>'
        '<path d="M14 160c4-38 24-54 46-54s42 16 46 54z" fill="#8a97a8"/>'
        f'<text x="60" y="72" font-size="28" text-anchor="middle" fill="#fff">{name[0]}</text>'
        '<text x="60" y="150" font-size="14" text-anchor="middle" fill="#fff">演示照片</text>'
        "</svg>"
    )
    return "image/svg+xml", svg.encode()


def load_demo_principals(session: Session, keyring: Keyring) -> dict[str, int]:
    """Persons, enterprises, agents and the documented demo accounts; marks the database demo."""
    mark_demo_database(session)
    streets: dict[str, list[tuple[str, str]]] = {}
    for s in session.scalars(select(Street).order_by(Street.code)):
        streets.setdefault(s.district_code, []).append((s.code, s.name))
    people = demo_people(streets)
    persons = [
        create_person(
            session,
            keyring,
            NewPerson(
                name=p.name,
                id_number=p.id_number,
                phone=p.phone,
                address=p.address,
                district_code=p.district,
                street_code=p.street,
                disabled=p.disabled,
                medical_voucher=p.medical_voucher,
            ),
        )
        for p in people
    ]
    for person in persons:
        person.photo_ref = add_photo(session, person.id, *demo_portrait(person.name))
    now = utcnow()
    provider = DemoRealNameProvider()
    for person, made_up in zip(persons, people, strict=True):
        result = provider.verify(made_up.name, made_up.id_number, None)
        if result.verified:
            person.real_name_verified_at = now
            person.real_name_provider = result.provider
    enterprises = []
    for i, (word, suffix) in enumerate(_SHOPS):
        district = _DISTRICTS[i % len(_DISTRICTS)]
        body = f"91{district}MA1{i + 1:06d}"[:17]
        enterprises.append(
            Enterprise(
                uscc=uscc_with_check_digit(body),
                name=f"上海{word}{suffix}",
                type="有限责任公司（自然人投资或控股）",
                legal_rep_id=persons[3 + i].id,
                address=f"上海市{_ROADS[i % len(_ROADS)]}{100 + i * 7}号",
                district_code=district,
                credit_class="ABBAC"[i % 5],
            )
        )
    session.add_all(enterprises)
    session.flush()
    agent = persons[2]
    session.add(
        EnterpriseAgent(
            enterprise_id=enterprises[0].id,
            person_id=agent.id,
            scope=["*"],
            expires_at=now + timedelta(days=365),
        )
    )
    street_hall = session.scalars(
        select(Hall.key).where(Hall.kind == "street_center").order_by(Hall.key)
    ).first()
    district_hall = session.scalars(
        select(Hall.key).where(Hall.kind == "district_center", Hall.district_code == "310115")
    ).first()
    accounts = [
        ("citizen1", persons[0].name, [(Role.CITIZEN, "")], persons[0].id, None),
        ("citizen2", persons[1].name, [(Role.CITIZEN, "")], persons[1].id, None),
        (
            "enterprise1",
            agent.name,
            [(Role.CITIZEN, ""), (Role.ENTERPRISE_AGENT, str(enterprises[0].id))],
            agent.id,
            enterprises[0].id,
        ),
        ("window1", "街镇受理窗口", [(Role.WINDOW_STAFF, street_hall or "")], None, None),
        ("window2", "区中心受理窗口", [(Role.WINDOW_STAFF, district_hall or "")], None, None),
        ("reviewer1", "市场监管审核员", [(Role.REVIEWER, "sh-scjgj")], None, None),
        ("issuer1", "市场监管发证员", [(Role.ISSUER, "sh-scjgj")], None, None),
        ("admin", "平台管理员", [(Role.ADMIN, "")], None, None),
        ("supervisor1", "好差评监督员", [(Role.SUPERVISOR, "")], None, None),
        ("metro1", "上海地铁闸机", [(Role.VERIFIER, "metro")], None, None),
        ("hospital1", "市第一人民医院挂号处", [(Role.VERIFIER, "hospital")], None, None),
        ("hotel1", "外滩酒店前台", [(Role.VERIFIER, "hotel")], None, None),
        ("credit1", "银行对公信贷部", [(Role.VERIFIER, "credit")], None, None),
        (
            "hall1",
            "区行政服务中心取号机",
            [(Role.VERIFIER, f"hall@{district_hall}" if district_hall else "hall")],
            None,
            None,
        ),
    ]
    # One hash for the one published password: argon2 is slow on purpose, and these accounts
    # protect nothing (they work only in a demo database).
    shared_hash = hash_password(DEMO_PASSWORD)
    ids = {}
    for username, display, roles, person_id, enterprise_id in accounts:
        account = create_account(
            session,
            username,
            None,
            roles,
            password_hash=shared_hash,
            display_name=display,
            person_id=person_id,
            enterprise_id=enterprise_id,
            demo=True,
        )
        ids[username] = account.id
    session.flush()
    return ids
