"""A city-scale database: 1M persons, 3M cases and 5M licenses in PostgreSQL, for
`bench/scale_queries.py` to time the key queries on.

    python bench/scale_data.py --build [--scale 1.0] [--db tongban_scale] [--resume]
    python bench/scale_data.py --drop  [--db tongban_scale]

It starts from a demo database (`tongban demo --no-serve`: the shipped catalog, the calendar,
the demo accounts and their keys) and adds, with COPY in chunks of 20,000:

- persons with their personal fields encrypted under the database's own data keys (SM4-GCM)
  and blind-indexed, valid GB 11643 ID numbers, one citizen account each (its password hash is
  not a hash: nobody logs in as them);
- enterprises with valid GB 32100 credit codes, their legal representatives among the persons;
- cases of the catalog's matters over the last two years: the materials' resolutions as the
  免提交 resolver writes them, due dates on the real working-day calendar, the event log of
  every transition (most decided in time, some late, the recent ones still open);
- licenses (ID card and household register for every person, 1–4 other person licenses each,
  about 10 per enterprise, 5% with an older superseded version) with GB/T 36904 identifiers
  and their documents encrypted. Each document says it was signed when the build brought it
  into the registry (as a city's existing licenses are when it moves to e-licenses), under the
  department's current key. One in 20 is signed by that SM2 key; the others carry a signature
  of the right length that does not verify, so the data set is built in minutes rather than
  an hour (a verification checks everything whatever the outcome, so it costs the same);
- codes issued over the last week and their scans.

Each chunk is written in one transaction with its row in `scale_progress`, so `--resume`
after a crash or Ctrl+C goes on where it stopped and writes nothing twice. `--scale 0.01`
makes a 1% data set to try things on. Without arguments it says how to run and exits (so
`make bench` skips it).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import multiprocessing
import os
import random
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.scale import (
    DATABASE,
    SERVER,
    admin_dsn,
    database_exists,
    database_url,
    kek_path,
    settings_for,
)

CHUNK = 20_000
BASE = {  # at scale 1.0
    "persons": 1_000_000,
    "enterprises": 50_000,
    "cases": 3_000_000,
    "codes": 2_000_000,
}
PHASES = ("persons", "enterprises", "cases", "licenses", "codes")
SIGNED_ONE_IN = 20
# Past the serials `tongban demo` gave (8 digits, so up to 89,999,999 generated).
SERIAL_OFFSET = 10_000_000
NOT_A_HASH = "!scale-data: no password"
GENERATED = "scale-data"  # the persons' real_name_provider: which rows this made
TODAY = date.today()
NOW = datetime.now(UTC)
SIGNED_AT = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")

# ---------------------------------------------------------------------------------------------
# COPY text format
# ---------------------------------------------------------------------------------------------


def cell(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


class Table:
    """Rows of one table in COPY's text format."""

    def __init__(self, name: str, columns: str) -> None:
        self.name, self.columns = name, columns.split()
        self.buffer = io.StringIO()
        self.rows = 0

    def add(self, *values: Any) -> None:
        self.buffer.write("\t".join(map(cell, values)))
        self.buffer.write("\n")
        self.rows += 1

    def sql(self) -> str:
        return f"COPY {self.name} ({', '.join(self.columns)}) FROM STDIN"


# ---------------------------------------------------------------------------------------------
# What every worker knows: the keys, the catalog, the calendar
# ---------------------------------------------------------------------------------------------


@dataclass
class World:
    ring: Any  # a Keyring with its keys opened (it does not go back to the database)
    districts: list[tuple[str, list[str]]]
    halls: list[str]
    person_matters: list[Matter]
    enterprise_matters: list[Matter]
    person_types: list[LicType]
    enterprise_types: list[LicType]
    id_card: LicType
    household: LicType
    signers: dict[str, tuple[str, Any]]  # department key -> (kid, signer)
    code_kid: str
    workdays: Any  # the Calendar
    base: dict[str, int]  # the first id of each generated table
    counts: dict[str, int]
    taken_id_numbers: set[str]
    region_name: str
    due_memo: dict[tuple[date, int], date] = field(default_factory=dict)


@dataclass(frozen=True)
class Matter:
    code: str
    name: str
    department: str
    promised_days: int
    materials: list[Any]  # MaterialFacts


@dataclass(frozen=True)
class LicType:
    id: int
    key: str
    code: str
    name: str
    validity_years: int | None
    department_id: int
    department_key: str
    department_name: str
    department_uscc: str


WORLD: World | None = None


def world() -> World:
    assert WORLD is not None
    return WORLD


def load_world(settings: Any, counts: dict[str, int]) -> World:
    from sqlalchemy import func, or_, select

    from tongban.catalog.models import District, Hall, LicenseType, Street
    from tongban.catalog.models import Matter as MatterRow
    from tongban.catalog.service import matter_materials_facts
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.signing import SigningKeys
    from tongban.db import make_engine, make_sessionmaker, transaction
    from tongban.idcode.keys import CODE as CODE_PURPOSE
    from tongban.identity.models import Person
    from tongban.licenses.service import LICENSE
    from tongban.workdays.service import calendar

    engine = make_engine(settings.database_url)
    ring = keyring_for(settings)
    signing = SigningKeys(settings, ring)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            ring.active_key_id(session)
            ring.index_key(session)
            ring.active_ttl_seconds = float("inf")
            streets: dict[str, list[str]] = {}
            for s in session.scalars(select(Street).order_by(Street.code)):
                streets.setdefault(s.district_code, []).append(s.code)
            districts = [
                (d, streets.get(d, []))
                for d in session.scalars(select(District.code).order_by(District.code))
            ]
            halls = list(session.scalars(select(Hall.key).order_by(Hall.key)))
            matters = session.scalars(select(MatterRow).order_by(MatterRow.code)).all()
            person_matters, enterprise_matters = [], []
            for m in matters:
                facts = matter_materials_facts(session, m.code)
                item = Matter(m.code, m.name, m.department.key, m.promised_days, facts.materials)
                (enterprise_matters if m.for_enterprise else person_matters).append(item)
            types = []
            for t in session.scalars(select(LicenseType).order_by(LicenseType.id)):
                types.append(
                    (
                        t.holder,
                        LicType(
                            t.id,
                            t.key,
                            t.code,
                            t.name,
                            t.validity_years,
                            t.department_id,
                            t.department.key,
                            t.department.name,
                            t.department.uscc or "",
                        ),
                    )
                )
            signers = {
                t.department_key: signing.signer(session, LICENSE, f"dept:{t.department_key}")
                for _, t in types
            }
            code_kid, _ = signing.signer(session, CODE_PURPOSE, signing.region_owner)
            taken = {
                ring.decrypt(session, "person.id_number", p.id_number_enc)
                for p in session.scalars(
                    select(Person).where(
                        or_(
                            Person.real_name_provider.is_(None),
                            Person.real_name_provider != GENERATED,
                        )
                    )
                )
            }
            base = {
                table: int(session.scalar(select(func.max(model.id))) or 0) + 1_000
                for table, model in _models().items()
            }
            workdays = calendar(session, fresh=True)
    finally:
        engine.dispose()
    person_types = [t for h, t in types if h == "person"]
    by_key = {t.key: t for t in person_types}
    return World(
        ring=ring,
        districts=[d for d in districts if d[1]],
        halls=halls,
        person_matters=person_matters,
        enterprise_matters=enterprise_matters,
        person_types=[t for t in person_types if t.key not in _IDENTITY],
        enterprise_types=[t for h, t in types if h == "enterprise"],
        id_card=by_key["resident_id_card"],
        household=by_key["household_register"],
        signers=signers,
        code_kid=code_kid,
        workdays=workdays,
        base=base,
        counts=counts,
        taken_id_numbers=taken,
        region_name=settings.region_name,
    )


_IDENTITY = ("resident_id_card", "household_register")


def _models() -> dict[str, Any]:
    from tongban.cases.models import Case, CaseEvent
    from tongban.idcode.models import CodeIssue, CodeScan
    from tongban.identity.models import Account, Enterprise, Person, RoleGrant
    from tongban.licenses.models import License, LicenseEvent

    return {
        "persons": Person,
        "accounts": Account,
        "role_grants": RoleGrant,
        "enterprises": Enterprise,
        "cases": Case,
        "case_events": CaseEvent,
        "licenses": License,
        "license_events": LicenseEvent,
        "code_issues": CodeIssue,
        "code_scans": CodeScan,
    }


# ---------------------------------------------------------------------------------------------
# Persons (and their accounts)
# ---------------------------------------------------------------------------------------------

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程"
)
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英文华建国志红玉兰海燕"
_ROADS = ["中山路", "淮海路", "南京路", "四川路", "长宁路", "天山路", "武宁路", "大连路"]
_BIRTH_DAYS = (date(2008, 12, 31) - date(1940, 1, 1)).days


def person_of(i: int) -> dict[str, Any]:
    """The i-th generated person: always the same for the same i."""
    w = world()
    rng = random.Random(i * 7_919 + 11)
    district, streets = w.districts[i % len(w.districts)]
    # Unique by construction: (district, birthday, sequence) is a function of i that no two
    # i share — j walks the birthdays in a scrambled order, then the sequence numbers.
    j = i // len(w.districts)
    born = date(1940, 1, 1) + timedelta(days=(j * 7_919) % _BIRTH_DAYS)
    male = rng.random() < 0.5
    from stdnum.cn import ric

    body = f"{district}{born:%Y%m%d}{100 + 2 * (j // _BIRTH_DAYS) + (1 if male else 0):03d}"
    return {
        "name": rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(["", *_GIVEN]),
        "id_number": body + ric.calc_check_digit(body + "0"),
        "phone": f"13{rng.randrange(10)}{rng.randrange(10**8):08d}",
        "address": f"上海市{rng.choice(_ROADS)}{rng.randrange(1, 999)}弄{rng.randrange(1, 30)}号"
        f"{rng.randrange(101, 2001)}室",
        "district": district,
        "street": rng.choice(streets),
        "born": born,
        "gender": "男" if male else "女",
        "disabled": rng.random() < 0.015,
    }


def persons_chunk(chunk: int) -> list[Table]:
    w = world()
    ring = w.ring
    persons = Table(
        "persons",
        "id name id_number_enc id_number_index phone_enc phone_index address_enc "
        "district_code street_code birth_date gender disabled real_name_verified_at "
        "real_name_provider created_at",
    )
    accounts = Table(
        "accounts",
        "id username password_hash person_id display_name failed_logins active demo created_at",
    )
    grants = Table("role_grants", "id account_id role binding")
    for i in _range(chunk, w.counts["persons"]):
        p = person_of(i)
        if p["id_number"] in w.taken_id_numbers:
            # Cannot happen (the demo's sequence numbers are below 100, ours from 100): the
            # cases and licenses name every generated person, so none may be left out.
            raise RuntimeError(f"person {i} would share a demo resident's ID number")
        pid, aid = w.base["persons"] + i, w.base["accounts"] + i
        joined = NOW - timedelta(days=random.Random(i).randrange(1, 3_000))
        persons.add(
            pid,
            p["name"],
            ring.encrypt(None, "person.id_number", p["id_number"]),
            ring.blind_index(None, "person.id_number", p["id_number"]),
            ring.encrypt(None, "person.phone", p["phone"]),
            ring.blind_index(None, "person.phone", p["phone"]),
            ring.encrypt(None, "person.address", p["address"]),
            p["district"],
            p["street"],
            p["born"],
            p["gender"],
            p["disabled"],
            joined,
            GENERATED,
            joined,
        )
        accounts.add(aid, f"p{i:08d}", NOT_A_HASH, pid, p["name"], 0, True, False, joined)
        grants.add(w.base["role_grants"] + i, aid, "citizen", "")
    return [persons, accounts, grants]


def _range(chunk: int, total: int) -> range:
    return range(chunk * CHUNK, min(total, (chunk + 1) * CHUNK))


def chunks(total: int) -> int:
    return (total + CHUNK - 1) // CHUNK


# ---------------------------------------------------------------------------------------------
# Enterprises
# ---------------------------------------------------------------------------------------------

_TRADES = ["科技", "贸易", "餐饮", "物流", "文化传媒", "建筑工程", "医疗器械", "咨询", "旅游"]
_KINDS = ["有限责任公司（自然人投资或控股）", "股份有限公司（非上市）", "有限责任公司（外商独资）"]


def enterprise_uscc(i: int) -> str:
    from tongban.common.identifiers import uscc_with_check_digit

    # 91 (enterprise, company) + the district's code + a 9-character organisation code.
    w = world()
    district = w.districts[i % len(w.districts)][0]
    return uscc_with_check_digit(f"91{district}M{i:08d}")


def enterprises_chunk(chunk: int) -> list[Table]:
    w = world()
    table = Table(
        "enterprises",
        "id uscc name type legal_rep_id address district_code registration_status "
        "credit_class created_at",
    )
    for i in _range(chunk, w.counts["enterprises"]):
        rng = random.Random(i * 104_729 + 3)
        district = w.districts[i % len(w.districts)][0]
        table.add(
            w.base["enterprises"] + i,
            enterprise_uscc(i),
            enterprise_name(i),
            rng.choice(_KINDS),
            w.base["persons"] + legal_rep(i),
            f"上海市{rng.choice(_ROADS)}{rng.randrange(1, 2000)}号",
            district,
            "存续" if rng.random() < 0.95 else rng.choice(["吊销", "注销"]),
            rng.choice(["A", "A", "B", "B", "B", "C", None]),
            NOW - timedelta(days=rng.randrange(30, 6_000)),
        )
    return [table]


def enterprise_name(i: int) -> str:
    rng = random.Random(i * 15_487_469 + 9)
    return f"上海{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}{rng.choice(_TRADES)}有限公司{i}"


def legal_rep(i: int) -> int:
    """The person (index) who represents enterprise i: also the one who applies for it."""
    w = world()
    return (i * 37 + 5) % w.counts["persons"]


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

CHANNEL_WEIGHTS = (("web", 30), ("app", 30), ("wechat", 15), ("alipay", 10), ("window", 15))
PERIOD_DAYS = 730


def due_date(accepted: date, days: int) -> date:
    w = world()
    key = (accepted, days)
    if key not in w.due_memo:
        w.due_memo[key] = w.workdays.add_working_days(accepted, days)
    return w.due_memo[key]


def materials_of(m: Matter, held: dict[str, Any]) -> list[dict[str, Any]]:
    """The matter's materials as the 免提交 resolver answers them for this applicant: the
    license they hold (valid or not) or none, a department's shared data, what they hand in."""
    from tongban.licenses.resolver import _resolve

    return [_resolve(fact, held, {}, TODAY).as_dict() for fact in m.materials]


def cases_chunk(chunk: int) -> list[Table]:
    w = world()
    ring = w.ring
    cases = Table(
        "cases",
        "id number matter_code matter_name channel status person_id enterprise_id "
        "created_by hall_key department_key form_enc materials submitted_at accepted_on "
        "due_date warned_on overdue_on paused_since resume_to created_at",
    )
    events = Table("case_events", "id case_id at action from_status to_status actor")
    channels = [c for c, n in CHANNEL_WEIGHTS for _ in range(n)]
    for i in _range(chunk, w.counts["cases"]):
        rng = random.Random(i * 15_485_863 + 7)
        case_id = w.base["cases"] + i
        for_enterprise = rng.random() < 0.12
        if for_enterprise:
            e = rng.randrange(w.counts["enterprises"])
            person, enterprise = legal_rep(e), w.base["enterprises"] + e
            matter = rng.choice(w.enterprise_matters)
        else:
            person, enterprise = _applicant(rng, w.counts["persons"]), None
            matter = rng.choice(w.person_matters)
        pid = w.base["persons"] + person
        account = w.base["accounts"] + person
        channel = rng.choice(channels)
        # Busier lately: the platform's use grows.
        age = int(PERIOD_DAYS * (rng.random() ** 1.3))
        submitted = NOW - timedelta(days=age, seconds=rng.randrange(86_400))
        if submitted > NOW:
            submitted = NOW - timedelta(minutes=5)
        path, late = _path(rng, age, matter.promised_days)
        accepted_on = (submitted + timedelta(hours=8)).date() if "accepted" in path else None
        due = due_date(accepted_on, matter.promised_days) if accepted_on else None
        status = path[-1]
        warned = overdue = paused = resume = None
        if due is not None and status in ("accepted", "under_review", "correction_requested"):
            if due < TODAY:
                overdue = due + timedelta(days=1)
            if accepted_on and (TODAY - accepted_on).days >= 0.8 * (due - accepted_on).days:
                warned = accepted_on + timedelta(days=int(0.8 * (due - accepted_on).days))
        if status == "correction_requested":
            paused, resume = (submitted + timedelta(days=1)).date(), path[-2]
        form = {
            "applicant.contact_phone": f"13{rng.randrange(10**9):09d}",
            "case.note": f"{matter.name}申请",
        }
        holdings = person_holdings(person)
        if for_enterprise:
            holdings += enterprise_holdings(e)
        cases.add(
            case_id,
            f"TB{submitted:%Y%m%d}{case_id:08d}",
            matter.code,
            matter.name,
            channel,
            status,
            pid,
            enterprise,
            account,
            rng.choice(w.halls) if channel == "window" else None,
            matter.department,
            ring.encrypt(None, "case.form", json.dumps(form, ensure_ascii=False)),
            json.dumps(materials_of(matter, held_now(holdings, matter)), ensure_ascii=False),
            submitted if status != "draft" else None,
            accepted_on,
            due,
            warned,
            overdue,
            paused,
            resume,
            submitted - timedelta(minutes=rng.randrange(2, 40)),
        )
        _events(events, w.base["case_events"] + i * 8, case_id, path, submitted, due, late, rng)
    return [cases, events]


def _applicant(rng: random.Random, persons: int) -> int:
    """Some people apply often: a fifth of the people make about half of the cases."""
    if rng.random() < 0.5:
        return rng.randrange(persons // 5)
    return rng.randrange(persons)


def _path(rng: random.Random, age: int, promised: int) -> tuple[list[str], bool]:
    """The statuses a case went through, by how long ago it was handed in; and whether its
    decision came after its due day."""
    roll = rng.random()
    if age <= 2 and roll < 0.15:
        return ["draft"], False
    done_by = max(3, int(promised * 1.4))
    if age < done_by and roll < 0.85:
        opened = ["draft", "submitted", "accepted", "under_review"]
        cut = rng.choice([2, 3, 3, 4, 4, 4])
        path = opened[:cut]
        if rng.random() < 0.08:
            path.append("correction_requested")
        return path, False
    if roll < 0.03:
        return ["draft", "submitted", "rejected_at_intake"], False
    late = rng.random() < 0.06
    decided = "denied" if rng.random() < 0.05 else "approved"
    path = ["draft", "submitted", "accepted", "under_review", decided]
    if decided == "approved" and rng.random() < 0.6:
        path.append("delivered")
    return path, late


_ACTIONS = {
    "draft": "create",
    "submitted": "submit",
    "accepted": "accept",
    "under_review": "start_review",
    "approved": "approve",
    "denied": "deny",
    "delivered": "deliver",
    "rejected_at_intake": "reject_at_intake",
    "correction_requested": "request_correction",
}


def _events(
    table: Table,
    first_id: int,
    case_id: int,
    path: list[str],
    submitted: datetime,
    due: date | None,
    late: bool,
    rng: random.Random,
) -> None:
    at = submitted - timedelta(minutes=rng.randrange(2, 40))
    before = None
    for n, status in enumerate(path):
        if status in ("approved", "denied") and due is not None:
            deadline = datetime(due.year, due.month, due.day, 8, tzinfo=UTC)
            span = max((deadline - at).total_seconds(), 3_600)
            at = (
                deadline + timedelta(days=rng.randrange(1, 6))
                if late
                else at + timedelta(seconds=rng.random() * span)
            )
        elif status == "submitted":
            at = submitted
        elif n:
            at = at + timedelta(hours=rng.random() * 30)
        at = min(at, NOW)
        actor = "account:1" if status in ("draft", "submitted") else "account:6"
        table.add(first_id + n, case_id, at, _ACTIONS[status], before, status, actor)
        before = status


# ---------------------------------------------------------------------------------------------
# Licenses
# ---------------------------------------------------------------------------------------------


def license_identifier(t: LicType, serial: int, version: int) -> str:
    from tongban.licenses.identifier import LicenseIdentifier

    return str(LicenseIdentifier(t.code, t.department_uscc, f"{serial:08d}", version))


@dataclass(frozen=True)
class Version:
    identifier: str
    number: int
    on: date
    until: date | None
    status: str
    current: bool


def versions_of(t: LicType, serial: int) -> list[Version]:
    """The versions of the license of type `t` with this serial (before SERIAL_OFFSET): always
    the same, from a generator of its own, so that a case can name the license its applicant
    holds as the registry has it (its current version, its status)."""
    rng = random.Random(t.id * 1_000_000_007 + serial)
    issued = TODAY - timedelta(days=rng.randrange(1, 4_000))
    count = 2 if rng.random() < 0.05 else 1
    out = []
    for number in range(1, count + 1):
        current = number == count
        on = issued if number == 1 else issued + timedelta(days=rng.randrange(1, 300))
        until = _add_years(on, t.validity_years) if t.validity_years else None
        status = "01"
        if not current:
            status = "99"
        elif until is not None and until < TODAY:
            status = "05"
        elif rng.random() < 0.01:
            status = rng.choice(["02", "03", "04"])
        identifier = license_identifier(t, SERIAL_OFFSET + serial, number)
        out.append(Version(identifier, number, on, until, status, current))
    return out


def person_holdings(i: int) -> list[tuple[LicType, int]]:
    """Person i's licenses (type, serial): the ID card, the household register, 1–4 more."""
    w = world()
    rng = random.Random(i * 32_452_843 + 1)
    others = rng.sample(range(len(w.person_types)), rng.randint(1, 4))
    return [
        (w.id_card, i + 1),
        (w.household, i + 1),
        *((w.person_types[k], i * 8 + k + 1) for k in others),
    ]


def enterprise_holdings(e: int) -> list[tuple[LicType, int]]:
    """Enterprise e's licenses: the business license and 4–14 more."""
    w = world()
    rng = random.Random(e * 49_979_687 + 2)
    types = w.enterprise_types
    kinds = [0, *rng.sample(range(1, len(types)), rng.randint(4, 14))]
    return [(types[k], e * 32 + slot + 1) for slot, k in enumerate(kinds)]


def held_now(holdings: list[tuple[LicType, int]], m: Matter) -> dict[str, Any]:
    """The current version of each license the matter's materials name, by type key, as the
    resolver reads it from the registry."""
    from tongban.licenses.models import License

    wanted = {fact.license_type_key for fact in m.materials if fact.license_type_key}
    held = {}
    for t, serial in holdings:
        if t.key not in wanted:
            continue
        v = versions_of(t, serial)[-1]
        held[t.key] = License(identifier=v.identifier, status=v.status, valid_until=v.until)
    return held


def licenses_chunk(chunk: int) -> list[Table]:
    """The licenses of persons chunk*CHUNK.. and of the enterprises with the same indexes."""
    w = world()
    licenses = Table(
        "licenses",
        "id identifier serial version type_id issuer_id holder_kind person_id "
        "enterprise_id license_number paper_number issued_on valid_from valid_until "
        "status current superseded_by kid document_enc status_changed_at created_at",
    )
    events = Table("license_events", "id license_id at action from_status to_status actor")
    for i in _range(chunk, w.counts["persons"]):
        rng = random.Random(i * 32_452_843 + 1)
        p = person_of(i)
        holder = ("person", p["name"], p["id_number"], "111", w.base["persons"] + i, None)
        for slot, (t, serial) in enumerate(person_holdings(i)):
            _license(licenses, events, (i * 16 + slot) * 2, t, serial, holder, rng)
    if chunk * CHUNK < w.counts["enterprises"]:
        for e in range(chunk * CHUNK, min(w.counts["enterprises"], (chunk + 1) * CHUNK)):
            rng = random.Random(e * 49_979_687 + 2)
            name, uscc = enterprise_name(e), enterprise_uscc(e)
            holder = ("enterprise", name, uscc, "uscc", None, w.base["enterprises"] + e)
            for slot, (t, serial) in enumerate(enterprise_holdings(e)):
                local = (w.counts["persons"] * 16 + e * 32 + slot) * 2
                _license(licenses, events, local, t, serial, holder, rng)
    return [licenses, events]


def _license(
    licenses: Table,
    events: Table,
    local: int,
    t: LicType,
    serial: int,
    holder: tuple[str, str, str, str, int | None, int | None],
    rng: random.Random,
) -> None:
    """One license (and, for one in 20, its older version first); `local` numbers its rows;
    `rng` decides only which are signed."""
    w = world()
    for v in versions_of(t, serial):
        version, on, until, status = v.number, v.on, v.until, v.status
        current = v.current
        row_id = w.base["licenses"] + local + version - 1
        identifier = v.identifier
        serial_text = identifier.split(".")[-3]
        kind, name, hid, id_type, person_id, enterprise_id = holder
        number = f"{t.code[-3:]}{on:%Y}{serial_text}"
        document = {
            "format": "tongban-license/1",
            "identifier": identifier,
            "version": version,
            "type": {"key": t.key, "code": t.code, "name": t.name},
            "defining_body": t.code[:18],
            "license_number": number,
            "paper_number": f"P{on:%Y}{serial_text}",
            "issuer": {"department": t.department_key, "name": t.department_name},
            "jurisdiction": w.region_name,
            "issued_on": on.isoformat(),
            "valid_from": on.isoformat(),
            "valid_until": until.isoformat() if until else None,
            "holder": {"kind": kind, "name": name, "id": hid, "id_type": id_type},
            "matter": None,
            "content": {f"{kind}.name": name},
            # Brought into the registry now, so signed under the department's current key
            # (a key's period bounds what it may have signed).
            "signed_at": SIGNED_AT,
        }
        document["issuer"]["code"] = t.department_uscc
        kid, signer = w.signers[t.department_key]
        document = _signed(document, kid, signer, rng.random() < 1 / SIGNED_ONE_IN)
        changed = datetime(on.year, on.month, on.day, 2, tzinfo=UTC)
        licenses.add(
            row_id,
            identifier,
            serial_text,
            version,
            t.id,
            t.department_id,
            kind,
            person_id,
            enterprise_id,
            number,
            f"P{on:%Y}{serial_text}",
            on,
            on,
            until,
            status,
            current,
            None if current else row_id + 1,
            kid,
            w.ring.encrypt(None, "license.document", json.dumps(document, ensure_ascii=False)),
            changed,
            changed,
        )
        action = "issued" if version == 1 else "new_version"
        event_id = w.base["license_events"] + local + version - 1
        events.add(event_id, row_id, changed, action, None, "01", f"dept:{t.department_key}")


def _signed(document: dict[str, Any], kid: str, signer: Any, genuine: bool) -> dict[str, Any]:
    from tongban.crypto import jsonsig, sm2

    if genuine:
        return jsonsig.sign(document, kid, signer)
    # A DER SM2 signature is 70–72 bytes; this one is random, and does not verify.
    fake = sm2.raw_to_der(secrets.token_bytes(32) + secrets.token_bytes(32))
    value = base64.b64encode(fake).decode()
    return {**document, "signature": {"alg": sm2.ALGORITHM, "key_id": kid, "value": value}}


def _add_years(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years) - timedelta(days=1)
    except ValueError:
        return start.replace(year=start.year + years, day=28) - timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Codes and scans
# ---------------------------------------------------------------------------------------------

SCENES = ("hall_entry", "clinic", "library", "metro", "window")


def codes_chunk(chunk: int) -> list[Table]:
    w = world()
    issues = Table(
        "code_issues",
        "id ref subject_type person_id kind channel kid issued_at expires_at",
    )
    scans = Table(
        "code_scans",
        "id at scene verifier_id verifier_name outcome ref person_id attributes status",
    )
    for i in _range(chunk, w.counts["codes"]):
        rng = random.Random(i * 86_028_121 + 5)
        person = _applicant(rng, w.counts["persons"])
        issued = NOW - timedelta(seconds=rng.randrange(7 * 86_400))
        ref = f"s{i:011d}{rng.randrange(16**12):012x}"
        pid = w.base["persons"] + person
        issues.add(
            w.base["code_issues"] + i,
            ref,
            "person",
            pid,
            "dynamic",
            rng.choice(["app", "wechat", "alipay"]),
            w.code_kid,
            issued,
            issued + timedelta(minutes=5),
        )
        ok = rng.random() < 0.97
        scans.add(
            w.base["code_scans"] + i,
            issued + timedelta(seconds=rng.randrange(1, 240)),
            rng.choice(SCENES),
            6,
            "扫码终端",
            "ok" if ok else "code_expired",
            ref,
            pid,
            json.dumps(["name"] if ok else []),
            200 if ok else 410,
        )
    return [issues, scans]


# ---------------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------------

MAKERS: dict[str, tuple[Callable[[int], list[Table]], str]] = {
    "persons": (persons_chunk, "persons"),
    "enterprises": (enterprises_chunk, "enterprises"),
    "cases": (cases_chunk, "cases"),
    "licenses": (licenses_chunk, "persons"),
    "codes": (codes_chunk, "codes"),
}


def _work(job: tuple[str, int]) -> tuple[str, int, list[tuple[str, str, int]], float]:
    phase, chunk = job
    began = time.perf_counter()
    tables = MAKERS[phase][0](chunk)
    return phase, chunk, [(t.sql(), t.buffer.getvalue(), t.rows) for t in tables], began


def build(args: argparse.Namespace) -> int:
    import psycopg

    global WORLD
    url = database_url(args.server, args.db)
    exists = database_exists(args.server, args.db)
    if exists is None:
        print(f"no PostgreSQL server answers at {args.server}")
        return 1
    if exists and not args.resume:
        print(f"database {args.db} exists: --resume to go on building it, --drop to start over")
        return 1
    if not exists:
        make_base(args)
    settings = settings_for(args.server, args.db)
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS scale_progress (phase text, chunk int, rows bigint, "
            "seconds real, PRIMARY KEY (phase, chunk))"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS scale_counts (name text PRIMARY KEY, value bigint)"
        )
        stored = dict(
            conn.execute("SELECT name, value FROM scale_counts WHERE name NOT LIKE 'base:%'")
        )
        wanted = {k: max(1, int(v * args.scale)) for k, v in BASE.items()}
        if stored and stored != wanted:
            print(f"database {args.db} was begun with other counts {stored}: --drop first")
            return 1
        for k, v in wanted.items():
            conn.execute("INSERT INTO scale_counts VALUES (%s, %s) ON CONFLICT DO NOTHING", (k, v))
        done = {(p, c) for p, c in conn.execute("SELECT phase, chunk FROM scale_progress")}
    WORLD = load_world(settings, wanted)
    _save_bases(url, WORLD.base)
    WORLD.base = _load_bases(url)
    began = time.perf_counter()
    budget = args.stop_after
    for phase in PHASES:
        total = chunks(wanted[MAKERS[phase][1]])
        jobs = [(phase, c) for c in range(total) if (phase, c) not in done]
        if not jobs:
            print(f"{phase}: done before")
            continue
        if budget is not None:
            jobs = jobs[:budget]
            budget -= len(jobs)
        run_phase(url, phase, jobs, total, args.workers)
        if budget == 0:
            print("stopped as asked (--stop-after): --resume goes on from here")
            return 3
    finish(url)
    print(f"built in {time.perf_counter() - began:.0f} s")
    report(url)
    return 0


def run_phase(url: str, phase: str, jobs: list[tuple[str, int]], total: int, workers: int) -> None:
    import psycopg

    began = time.perf_counter()
    rows = 0
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool, psycopg.connect(_dsn(url)) as conn:
        for n, (_, chunk, tables, made_at) in enumerate(pool.imap_unordered(_work, jobs), 1):
            with conn.transaction(), conn.cursor() as cur:
                for sql, text, count in tables:
                    with cur.copy(sql) as copy:
                        copy.write(text)
                    rows += count
                cur.execute(
                    "INSERT INTO scale_progress VALUES (%s, %s, %s, %s)",
                    (phase, chunk, sum(t[2] for t in tables), time.perf_counter() - made_at),
                )
            if n % 10 == 0 or n == len(jobs):
                spent = time.perf_counter() - began
                print(
                    f"{phase}: {n + total - len(jobs)}/{total} chunks, {rows:,} rows, "
                    f"{rows / spent:,.0f} rows/s",
                    flush=True,
                )


def finish(url: str) -> None:
    """The sequences past the generated ids, the serial counters past the generated serials,
    and fresh planner statistics."""
    import psycopg

    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        for table in _models():
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        conn.execute(
            "INSERT INTO license_serials (type_id, issuer_id, last) "
            "SELECT type_id, issuer_id, max(serial::int) FROM licenses GROUP BY 1, 2 "
            "ON CONFLICT (type_id, issuer_id) DO UPDATE SET last = greatest("
            "license_serials.last, excluded.last)"
        )
        began = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")
        print(f"VACUUM (ANALYZE) in {time.perf_counter() - began:.0f} s")


def report(url: str) -> None:
    import psycopg

    with psycopg.connect(_dsn(url)) as conn:
        for table in _models():
            n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            size = conn.execute(
                "SELECT pg_size_pretty(pg_total_relation_size(%s))", (table,)
            ).fetchone()
            assert n is not None
            assert size is not None
            print(f"  {table:<15} {n[0]:>12,} rows  {size[0]:>10}")
        db_size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"  database        {db_size.fetchone()[0]:>23}")  # type: ignore[index]


def _save_bases(url: str, base: dict[str, int]) -> None:
    import psycopg

    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        for k, v in base.items():
            conn.execute(
                "INSERT INTO scale_counts VALUES (%s, %s) ON CONFLICT DO NOTHING", (f"base:{k}", v)
            )


def _load_bases(url: str) -> dict[str, int]:
    """The first ids as chosen when the build began (a resumed build must use the same)."""
    import psycopg

    with psycopg.connect(_dsn(url)) as conn:
        rows = conn.execute("SELECT name, value FROM scale_counts WHERE name LIKE 'base:%'")
        return {name[5:]: int(value) for name, value in rows}


def make_base(args: argparse.Namespace) -> None:
    import psycopg

    from tongban.crypto.service import write_kek_file

    with psycopg.connect(admin_dsn(args.server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{args.db}"')
    kek = kek_path(args.db)
    kek.parent.mkdir(parents=True, exist_ok=True)
    kek.unlink(missing_ok=True)
    write_kek_file(kek)
    env = {
        **os.environ,
        "TONGBAN_DATABASE_URL": database_url(args.server, args.db),
        "TONGBAN_KEK_FILE": str(kek),
        "TONGBAN_FILES_DIR": str(kek.with_suffix(".files")),
    }
    env.pop("TONGBAN_KEK", None)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tongban", "demo", "--no-serve"], env=env, check=True)
    _ensure_next_year(settings_for(args.server, args.db))
    print(f"demo database {args.db} made in {time.perf_counter() - began:.0f} s")


def _ensure_next_year(settings: Any) -> None:
    from support.loadseed import ensure_next_year

    year = ensure_next_year(settings)
    if year:
        print(f"calendar year {year} entered with only 元旦 (chinesecalendar does not know it)")


def drop(args: argparse.Namespace) -> int:
    import psycopg

    with psycopg.connect(admin_dsn(args.server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    kek_path(args.db).unlink(missing_ok=True)
    shutil.rmtree(kek_path(args.db).with_suffix(".files"), ignore_errors=True)
    print(f"database {args.db} dropped")
    return 0


def _dsn(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="store_true", help="make (or --resume) the data set")
    parser.add_argument("--drop", action="store_true", help="drop the database and its KEK")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 1M persons, 3M cases")
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--db", default=DATABASE)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)))
    parser.add_argument(
        "--stop-after", type=int, help="stop after this many chunks, as a crash would (tests)"
    )
    args = parser.parse_args(argv)
    if args.drop:
        return drop(args)
    if not args.build:
        print(__doc__)
        print("(nothing built: run with --build; it takes about 22 minutes on two cores)")
        return 0
    return build(args)


if __name__ == "__main__":
    sys.exit(main())
