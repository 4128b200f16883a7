"""Principals and login: passwords (argon2), lockout, a second factor for staff, bearer tokens.

Tokens are random strings; the database keeps only their SM3 hash, so a leaked table yields no
usable token. Refresh tokens rotate: each use revokes the old one and issues a new pair in the
same family, and presenting a revoked refresh token revokes the whole family (a stolen token
used after its owner already refreshed).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.common.identifiers import birth_date_of, is_valid_id_number
from tongban.common.logging import mask_text
from tongban.common.masking import mask_address, mask_id_number, mask_phone
from tongban.crypto.primitives import sm3
from tongban.crypto.service import Keyring
from tongban.db import utcnow
from tongban.errors import DomainError, FieldError, validation_failed
from tongban.identity.models import (
    Account,
    AuthToken,
    Enterprise,
    EnterpriseAgent,
    Person,
    Photo,
    RoleGrant,
    SystemFlag,
)
from tongban.identity.schemas import (
    STAFF_ROLES,
    AgentGrantOut,
    EnterpriseOut,
    MeOut,
    PersonOut,
    Role,
    RoleOut,
    TokenOut,
)
from tongban.settings import Settings

# Argon2id with OWASP's recommended floor (19 MiB, 2 passes, 1 lane): about 30 ms a check on
# our 2-core machine, against 170 ms for argon2-cffi's default (64 MiB, 3 passes, 4 lanes),
# which would cap a process at about 6 logins a second. Stronger settings rehash on next login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# A real hash of a random password: checked when the username is unknown, so a wrong username
# costs the same time as a wrong password and does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
DEMO_FLAG = "demo_database"
ELDERLY_AGE = 60


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# ---------------------------------------------------------------------------------------------
# Persons
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewPerson:
    name: str
    id_number: str
    phone: str | None = None
    address: str | None = None
    district_code: str | None = None
    street_code: str | None = None
    disabled: bool = False
    photo_ref: str | None = None
    medical_voucher: str | None = None


def normalize_id_number(value: str) -> str:
    return value.strip().upper()


def create_person(session: Session, keyring: Keyring, new: NewPerson) -> Person:
    """A person with their personal fields encrypted and their ID number indexed blindly."""
    id_number = normalize_id_number(new.id_number)
    if not is_valid_id_number(id_number):
        raise validation_failed(
            [
                FieldError(
                    "id_number", "公民身份号码有误 (GB 11643 check failed)", "invalid_id_number"
                )
            ]
        )
    index = keyring.blind_index(session, "person.id_number", id_number)
    if session.scalars(select(Person.id).where(Person.id_number_index == index)).first():
        raise DomainError(
            code="person_exists",
            title="该身份证号码已登记",
            title_en="A person with this ID number already exists",
            status=409,
        )
    born = birth_date_of(id_number)
    person = Person(
        name=new.name,
        id_number_enc=keyring.encrypt(session, "person.id_number", id_number),
        id_number_index=index,
        phone_enc=keyring.encrypt(session, "person.phone", new.phone) if new.phone else None,
        phone_index=keyring.blind_index(session, "person.phone", new.phone) if new.phone else None,
        address_enc=keyring.encrypt(session, "person.address", new.address)
        if new.address
        else None,
        district_code=new.district_code,
        street_code=new.street_code,
        birth_date=born,
        # GB 11643: the 17th digit is odd for men and even for women.
        gender="男" if int(id_number[16]) % 2 else "女",
        disabled=new.disabled,
        photo_ref=new.photo_ref,
        medical_voucher_enc=keyring.encrypt(session, "person.medical_voucher", new.medical_voucher)
        if new.medical_voucher
        else None,
    )
    session.add(person)
    session.flush()
    return person


def find_person_by_id_number(session: Session, keyring: Keyring, id_number: str) -> Person | None:
    index = keyring.blind_index(session, "person.id_number", normalize_id_number(id_number))
    return session.scalars(select(Person).where(Person.id_number_index == index)).first()


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def person_out(
    session: Session, keyring: Keyring, p: Person, today: date | None = None
) -> PersonOut:
    """The profile as a screen shows it: every personal field masked."""
    today = today or utcnow().date()
    id_number = keyring.decrypt(session, "person.id_number", p.id_number_enc)
    phone = keyring.decrypt(session, "person.phone", p.phone_enc) if p.phone_enc else ""
    address = keyring.decrypt(session, "person.address", p.address_enc) if p.address_enc else ""
    age = age_on(p.birth_date, today)
    return PersonOut(
        name=p.name,
        id_number=mask_id_number(id_number),
        phone=mask_phone(phone),
        address=mask_address(address),
        district=p.district_code,
        street=p.street_code,
        birth_date=p.birth_date.isoformat()[:4] + "-**-**",
        age=age,
        gender=p.gender,
        elderly=age >= ELDERLY_AGE,
        disabled=p.disabled,
        real_name_verified=p.real_name_verified_at is not None,
    )


# ---------------------------------------------------------------------------------------------
# Accounts and login
# ---------------------------------------------------------------------------------------------


def create_account(
    session: Session,
    username: str,
    password: str | None,
    roles: list[tuple[Role, str]],
    *,
    display_name: str,
    person_id: int | None = None,
    enterprise_id: int | None = None,
    demo: bool = False,
    password_hash: str | None = None,
) -> Account:
    """An account with its roles; give the password, or an argon2 hash of it already made."""
    if password_hash is None:
        if password is None:
            raise ValueError("an account needs a password or its hash")
        password_hash = hash_password(password)
    account = Account(
        username=username,
        password_hash=password_hash,
        display_name=display_name,
        person_id=person_id,
        enterprise_id=enterprise_id,
        demo=demo,
        failed_logins=0,
        active=True,
    )
    account.roles = [RoleGrant(role=r.value, binding=b) for r, b in roles]
    session.add(account)
    session.flush()
    return account


def mark_demo_database(session: Session) -> None:
    session.merge(SystemFlag(key=DEMO_FLAG, value="true"))


def is_demo_database(session: Session) -> bool:
    flag = session.get(SystemFlag, DEMO_FLAG)
    return flag is not None and flag.value == "true"


REGION_FLAG = "region_code"


def claim_region(session: Session, region_code: str) -> None:
    """A database is one region's: its keys, people and licenses are that region's. The first
    node to use it says which; a node of another region is refused it (`settled_region`)."""
    if session.get(SystemFlag, REGION_FLAG) is None:
        session.add(SystemFlag(key=REGION_FLAG, value=region_code))
        session.flush()


def database_region(engine: Engine) -> str | None:
    """The region a database belongs to, or None (new, or made before regions were kept)."""
    try:
        with engine.connect() as conn:
            value = conn.execute(
                select(SystemFlag.value).where(SystemFlag.key == REGION_FLAG)
            ).scalar()
    except SQLAlchemyError:  # not migrated yet
        return None
    return str(value) if value is not None else None


class RegionMismatch(Exception):
    """The configured region is not the database's."""


def settled_region(settings: Settings, engine: Engine) -> Settings:
    """The settings with the database's region: unless configured, the region is the one
    the database was made for (so `--db FILE` is enough to run a Jiangsu node's commands);
    configured to another, it is an error, not a node that signs as the wrong region."""
    from tongban.common.regions import region_name

    found = database_region(engine)
    if found is None or found == settings.region_code:
        return settings
    if "region_code" in settings.model_fields_set:
        raise RegionMismatch(
            f"the database belongs to region {found}, not the configured {settings.region_code}"
        )
    return settings.model_copy(update={"region_code": found, "region_name": region_name(found)})


def _invalid_credentials() -> DomainError:
    return DomainError(
        code="invalid_credentials",
        title="用户名或密码错误",
        title_en="Wrong username or password",
        status=401,
    )


def authenticate(
    session: Session,
    settings: Settings,
    keyring: Keyring | None,
    username: str,
    password: str,
    otp: str | None,
    *,
    client: str | None = None,
) -> Account:
    """The account for these credentials; every failure is a 4xx and leaves an audit entry.

    The failure count is written even though the request fails: callers commit it (see
    `api.token`), or lockout would never trigger.
    """
    now = utcnow()
    account = session.scalars(select(Account).where(Account.username == username)).first()
    if account is None or not account.active:
        _verify_password(_DUMMY_HASH, password)
        # What was typed may be an ID or phone number: keep it masked in the permanent log.
        record(
            session,
            actor="anonymous",
            action="auth.login_failed",
            details={"username": mask_text(username[:60]), "client": client},
        )
        raise _invalid_credentials()
    if account.locked_until is not None and account.locked_until > now:
        record(
            session,
            actor=f"account:{account.id}",
            action="auth.login_locked",
            details={"client": client},
        )
        raise DomainError(
            code="account_locked",
            title="登录失败次数过多，账号已暂时锁定",
            title_en="Too many failed logins; the account is locked for a while",
            status=423,
            extra={"locked_until": account.locked_until.isoformat()},
        )
    if account.demo and not is_demo_database(session):
        raise _invalid_credentials()  # a demo account's published password works in demos only
    if not _verify_password(account.password_hash, password):
        _count_failure(session, settings, account, client, "password")
        raise _invalid_credentials()
    if settings.require_staff_otp and any(Role(g.role) in STAFF_ROLES for g in account.roles):
        try:
            _check_otp(session, keyring, account, otp)
        except DomainError as exc:
            if exc.code == "invalid_credentials":  # a wrong code counts like a wrong password
                _count_failure(session, settings, account, client, "otp")
            raise
    account.failed_logins = 0
    account.locked_until = None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    record(session, actor=f"account:{account.id}", action="auth.login", details={"client": client})
    return account


def _count_failure(
    session: Session, settings: Settings, account: Account, client: str | None, what: str
) -> None:
    """Add one failure in the database itself, so concurrent guesses cannot overwrite each other."""
    count = session.execute(
        update(Account)
        .where(Account.id == account.id)
        .values(failed_logins=Account.failed_logins + 1)
        .returning(Account.failed_logins)
    ).scalar_one()
    if count >= settings.max_failed_logins:
        session.execute(
            update(Account)
            .where(Account.id == account.id)
            .values(
                failed_logins=0,
                locked_until=utcnow() + timedelta(minutes=settings.lockout_minutes),
            )
        )
    session.expire(account, ["failed_logins", "locked_until"])
    record(
        session,
        actor=f"account:{account.id}",
        action="auth.login_failed",
        details={"client": client, "wrong": what},
    )


def _verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _totp(secret: bytes) -> TOTP:
    return TOTP(secret, 6, hashes.SHA1(), 30, enforce_key_length=False)


def enroll_otp(session: Session, keyring: Keyring, account: Account) -> bytes:
    """A new TOTP secret (RFC 6238: 6 digits, 30 s), stored encrypted; returned once."""
    secret = secrets.token_bytes(20)
    account.totp_secret_enc = keyring.encrypt(session, "account.totp_secret", secret.hex())
    return secret


def otp_now(secret: bytes, at: datetime | None = None) -> str:
    return _totp(secret).generate(int((at or utcnow()).timestamp())).decode()


def _check_otp(
    session: Session, keyring: Keyring | None, account: Account, otp: str | None
) -> None:
    if not otp:
        raise DomainError(
            code="otp_required",
            title="请输入动态验证码",
            title_en="A one-time code is required for staff accounts",
            status=401,
            errors=[
                FieldError("otp", "工作人员登录需要动态验证码 (one-time code required)", "missing")
            ],
        )
    if keyring is None or account.totp_secret_enc is None:
        raise DomainError(
            code="otp_not_enrolled",
            title="该账号尚未绑定动态验证码",
            title_en="This staff account has no one-time code enrolled",
            status=403,
        )
    secret = bytes.fromhex(keyring.decrypt(session, "account.totp_secret", account.totp_secret_enc))
    now = int(utcnow().timestamp())
    for drift in (0, -30, 30):  # one step either side for clock skew
        step = (now + drift) // 30
        if account.totp_last_step is not None and step <= account.totp_last_step:
            continue  # this code (or an older one) was already used: no replay
        try:
            _totp(secret).verify(otp.encode(), now + drift)
        except InvalidToken:
            continue
        account.totp_last_step = step
        return
    raise _invalid_credentials()


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return sm3(token.encode()).hex()


def issue_tokens(
    session: Session, settings: Settings, account: Account, family: str | None = None
) -> TokenOut:
    now = utcnow()
    family = family or secrets.token_hex(16)
    access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    ttl = timedelta(minutes=settings.access_token_minutes)
    session.add_all(
        [
            AuthToken(
                account_id=account.id,
                kind="access",
                token_hash=_token_hash(access),
                family=family,
                expires_at=now + ttl,
            ),
            AuthToken(
                account_id=account.id,
                kind="refresh",
                token_hash=_token_hash(refresh),
                family=family,
                expires_at=now + timedelta(days=settings.refresh_token_days),
            ),
        ]
    )
    session.flush()
    return TokenOut(access_token=access, expires_in=int(ttl.total_seconds()), refresh_token=refresh)


def _invalid_token() -> DomainError:
    return DomainError(
        code="invalid_token",
        title="登录已失效，请重新登录",
        title_en="The token is invalid, expired or revoked",
        status=401,
    )


def refresh_tokens(session: Session, settings: Settings, refresh_token: str) -> TokenOut:
    now = utcnow()
    row = session.scalars(
        select(AuthToken).where(
            AuthToken.token_hash == _token_hash(refresh_token), AuthToken.kind == "refresh"
        )
    ).first()
    if row is None:
        raise _invalid_token()
    if row.revoked_at is not None:
        # Reuse of a spent refresh token: someone else has a copy. End the whole family.
        revoke_family(session, row.family)
        record(session, actor=f"account:{row.account_id}", action="auth.refresh_reused")
        raise _invalid_token()
    if row.expires_at <= now:
        raise _invalid_token()
    account = session.get(Account, row.account_id)
    if account is None or not account.active:
        raise _invalid_token()
    # Spend it atomically: of several concurrent uses exactly one wins; the rest are reuse.
    spent = session.execute(
        update(AuthToken)
        .where(AuthToken.id == row.id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        revoke_family(session, row.family)
        raise _invalid_token()
    return issue_tokens(session, settings, account, family=row.family)


def revoke_family(session: Session, family: str) -> None:
    session.execute(
        update(AuthToken)
        .where(AuthToken.family == family, AuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_token(session: Session, token: str) -> None:
    """Log out: the token's whole family (its access and refresh tokens) stops working."""
    row = session.scalars(
        select(AuthToken).where(AuthToken.token_hash == _token_hash(token))
    ).first()
    if row is not None:
        revoke_family(session, row.family)


@dataclass(frozen=True)
class Principal:
    """Who is calling, with what roles (bound where the role is bound)."""

    account_id: int
    username: str
    roles: tuple[tuple[str, str], ...]
    person_id: int | None
    enterprise_id: int | None
    display_name: str = ""

    def has(self, *roles: Role) -> bool:
        wanted = {r.value for r in roles}
        return any(r in wanted for r, _ in self.roles)

    def bindings(self, role: Role) -> set[str]:
        return {b for r, b in self.roles if r == role.value}


def account_names(session: Session, ids: list[int]) -> dict[int, str]:
    """Accounts' display names (staff in statistics), by id."""
    if not ids:
        return {}
    rows = session.execute(select(Account.id, Account.display_name).where(Account.id.in_(ids)))
    return {int(row[0]): str(row[1]) for row in rows}


def open_portal_session(session: Session, settings: Settings, account: Account) -> str:
    """A portal login: a random token for an httponly cookie, stored only as its hash."""
    token = secrets.token_urlsafe(32)
    session.add(
        AuthToken(
            account_id=account.id,
            kind="session",
            token_hash=_token_hash(token),
            family=secrets.token_hex(16),
            expires_at=utcnow() + timedelta(hours=settings.session_hours),
        )
    )
    session.flush()
    return token


def principal_for_token(session: Session, token: str, kind: str = "access") -> Principal:
    row = session.scalars(
        select(AuthToken).where(AuthToken.token_hash == _token_hash(token), AuthToken.kind == kind)
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise _invalid_token()
    account = session.get(Account, row.account_id)
    if account is None or not account.active:
        raise _invalid_token()
    return principal_of(account)


def principal_of(account: Account) -> Principal:
    return Principal(
        account_id=account.id,
        username=account.username,
        roles=tuple((g.role, g.binding) for g in account.roles),
        person_id=account.person_id,
        enterprise_id=account.enterprise_id,
        display_name=account.display_name,
    )


def me(session: Session, keyring: Keyring | None, principal: Principal) -> MeOut:
    account = session.get(Account, principal.account_id)
    assert account is not None
    person = session.get(Person, account.person_id) if account.person_id else None
    enterprise = session.get(Enterprise, account.enterprise_id) if account.enterprise_id else None
    return MeOut(
        username=account.username,
        display_name=account.display_name,
        roles=[RoleOut(role=g.role, binding=g.binding) for g in account.roles],
        person=person_out(session, keyring, person) if person and keyring else None,
        enterprise=(
            EnterpriseOut(
                uscc=enterprise.uscc,
                name=enterprise.name,
                type=enterprise.type,
                legal_representative=enterprise.legal_rep.name,
                address=enterprise.address,
                district=enterprise.district_code,
            )
            if enterprise
            else None
        ),
    )


def lookup_person(
    session: Session, keyring: Keyring, principal: Principal, id_number: str, reason: str
) -> PersonOut:
    """Staff read a person's profile (masked); the person will see who, when and why."""
    person = find_person_by_id_number(session, keyring, id_number)
    if person is None:
        raise DomainError(
            code="person_not_found", title="未找到此人", title_en="No such person", status=404
        )
    record(
        session,
        actor=f"account:{principal.account_id}",
        actor_role=",".join(sorted({r for r, _ in principal.roles})),
        action="person.read",
        subject_type="person",
        subject_id=str(person.id),
        data_subject=person.id,
        reason=reason,
    )
    return person_out(session, keyring, person)


def grant_agent(
    session: Session,
    keyring: Keyring,
    principal: Principal,
    agent_id_number: str,
    scope: list[str],
    days: int,
    enterprise_uscc: str | None = None,
) -> AgentGrantOut:
    """A legal representative authorizes a person to act for their enterprise (audited)."""
    represented = list(
        session.scalars(
            select(Enterprise)
            .where(Enterprise.legal_rep_id == principal.person_id)
            .order_by(Enterprise.id)
        )
    )
    if enterprise_uscc is not None:
        represented = [e for e in represented if e.uscc == enterprise_uscc.upper()]
    if principal.person_id is None or not represented:
        raise DomainError(
            code="not_legal_representative",
            title="只有企业法定代表人可以授权经办人",
            title_en="Only an enterprise's legal representative may authorize agents",
            status=403,
        )
    if len(represented) > 1:
        raise validation_failed(
            [FieldError("enterprise_uscc", "您是多家企业的法定代表人，请指明企业", "ambiguous")]
        )
    enterprise = represented[0]
    agent = find_person_by_id_number(session, keyring, agent_id_number)
    if agent is None:
        raise DomainError(
            code="person_not_found", title="未找到此人", title_en="No such person", status=404
        )
    grant = session.scalars(
        select(EnterpriseAgent).where(
            EnterpriseAgent.enterprise_id == enterprise.id, EnterpriseAgent.person_id == agent.id
        )
    ).first()
    if grant is None:
        grant = EnterpriseAgent(enterprise_id=enterprise.id, person_id=agent.id)
        session.add(grant)
    grant.scope = sorted(set(scope))
    grant.expires_at = utcnow() + timedelta(days=days)
    grant.revoked_at = None
    session.flush()
    record(
        session,
        actor=f"account:{principal.account_id}",
        action="agent.grant",
        subject_type="enterprise",
        subject_id=enterprise.uscc,
        data_subject=agent.id,
        reason=f"授权为{enterprise.name}的经办人",
        details={"scope": grant.scope, "days": days},
    )
    return AgentGrantOut(
        enterprise=enterprise.uscc,
        agent=agent.name,
        scope=grant.scope,
        expires_at=grant.expires_at.isoformat(),
    )


@dataclass(frozen=True)
class NewEnterprise:
    uscc: str
    name: str
    type: str
    address: str
    district_code: str
    legal_rep_id: int


def register_enterprise(
    session: Session, new: NewEnterprise, founder_account: int, reason: str
) -> Enterprise:
    """企业设立: the registration authority's approval puts the enterprise in the legal-person
    registry; the person who applied for it becomes its agent (经办人) for every kind of matter,
    for a year, until its legal representative says otherwise."""
    uscc = new.uscc.strip().upper()
    if session.scalar(select(Enterprise.id).where(Enterprise.uscc == uscc)) is not None:
        raise DomainError(
            code="uscc_taken",
            title="该统一社会信用代码已被使用",
            title_en="This unified social credit code is already registered",
            status=409,
        )
    account = session.get(Account, founder_account)
    if account is None or account.person_id is None:
        raise DomainError(
            code="no_person",
            title="申请账号不是个人账号",
            title_en="The applying account is not a person's",
            status=409,
        )
    enterprise = Enterprise(
        uscc=uscc,
        name=new.name,
        type=new.type,
        address=new.address,
        district_code=new.district_code,
        legal_rep_id=new.legal_rep_id,
    )
    session.add(enterprise)
    session.flush()
    session.add(
        EnterpriseAgent(
            enterprise_id=enterprise.id,
            person_id=account.person_id,
            scope=["*"],
            expires_at=utcnow() + timedelta(days=365),
        )
    )
    account.roles.append(RoleGrant(role=Role.ENTERPRISE_AGENT.value, binding=str(enterprise.id)))
    session.flush()
    record(
        session,
        actor="system",
        action="enterprise.register",
        subject_type="enterprise",
        subject_id=uscc,
        data_subject=account.person_id,
        reason=reason,
    )
    return enterprise


def add_photo(session: Session, person_id: int, content_type: str, data: bytes) -> str:
    """Store a person's identity photo; its random ref is what codes and pages point at."""
    ref = secrets.token_hex(16)
    session.add(Photo(ref=ref, person_id=person_id, content_type=content_type, data=data))
    session.flush()
    return ref


def photo(session: Session, ref: str) -> Photo | None:
    return session.get(Photo, ref) if len(ref) == 32 else None
