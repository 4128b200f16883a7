"""`tongban doctor`: is this deployment configured to run? Each check looks at one thing
(the database, its schema and region, the keys, the uploads folder, the login settings, the
calendar, the peers) and says ok, warn or error, with a line of why. The checks read and never
write: what they open in the database is rolled back, and the uploads probe is removed.

Checks that read the database's tables run only once the database answers and its schema is
current; those that need the KEK, only once it unwraps the data keys. The check that stopped
them says which were left out."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from sqlalchemy import Engine, make_url, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tongban.settings import Settings, demo_kek_path, files_dir_for

if TYPE_CHECKING:
    from tongban.federation.transport import Transport

Status = Literal["ok", "warn", "error"]
GIB = 1024**3
MIB = 1024**2
UPLOADS_WARN_BELOW = 1 * GIB
UPLOADS_ERROR_BELOW = 100 * MIB
PEER_TIMEOUT_SECONDS = 3.0


class Check(NamedTuple):
    status: Status
    name: str
    message: str


def has_errors(checks: list[Check]) -> bool:
    return any(c.status == "error" for c in checks)


def summary(checks: list[Check]) -> str:
    count = {s: sum(c.status == s for c in checks) for s in ("ok", "warn", "error")}
    return (
        f"{len(checks)} checks: {count['ok']} ok, {_n(count['warn'], 'warning')}, "
        f"{_n(count['error'], 'error')}"
    )


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def line(check: Check) -> str:
    return f"{check.status:<5} {check.name:<15} {check.message}"


@contextlib.contextmanager
def _reading(engine: Engine) -> Iterator[Session]:
    """A session whose every change is thrown away (a check must not change the database)."""
    from tongban.db import make_sessionmaker

    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def is_demo(engine: Engine) -> bool:
    """Whether `tongban demo` made this database (False when it cannot say)."""
    from tongban.identity.service import is_demo_database

    try:
        with _reading(engine) as session:
            return is_demo_database(session)
    except SQLAlchemyError:
        return False


def _sqlite_file(settings: Settings) -> Path | None:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


# -- the database ------------------------------------------------------------------------------


def check_database(settings: Settings, engine: Engine) -> Check:
    """It answers; which backend and where. SQLite outside a demo is a warning."""
    url = make_url(settings.database_url)
    file = _sqlite_file(settings)
    if file is not None and not file.exists():
        # Connecting would create an empty file: say so instead.
        return Check(
            "error",
            "database",
            f"no database file at {file} (`tongban db upgrade` or `tongban demo` makes one)",
        )
    try:
        with engine.connect() as conn:
            if url.get_backend_name() == "sqlite":
                version = str(conn.exec_driver_sql("select sqlite_version()").scalar())
            else:
                version = ".".join(str(n) for n in engine.dialect.server_version_info or ())
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        where = url.render_as_string(hide_password=True)
        return Check("error", "database", f"cannot connect to {where}: {reason}")
    if url.get_backend_name() == "sqlite":
        found = f"SQLite {version} at {file}"
        if is_demo(engine):
            return Check("ok", "database", f"{found} (a demo database)")
        return Check(
            "warn",
            "database",
            f"{found}: SQLite is for one machine and demos; a city runs PostgreSQL",
        )
    name = "PostgreSQL" if url.get_backend_name() == "postgresql" else url.get_backend_name()
    port = f":{url.port}" if url.port else ""
    return Check("ok", "database", f"{name} {version} at {url.host or ''}{port}/{url.database}")


def check_read_replica(settings: Settings) -> Check:
    """TONGBAN_READ_DATABASE_URL: a standby of this database, answering and keeping up. Only a
    wrong schema is an error; a replica away or behind is a warning, since the catalog's reads
    then go to the primary."""
    from tongban.migrate import current_revision, head_revision
    from tongban.replica import ReadReplica

    assert settings.read_database_url
    replica = ReadReplica(settings.read_database_url, settings.read_max_lag_seconds, pool_size=1)
    where = make_url(settings.read_database_url).render_as_string(hide_password=True)
    try:
        replica.usable()
        state = replica.state
        if state.reason == "unreachable":
            return Check("warn", "read-replica", f"{where} does not answer: reads use the primary")
        revision = current_revision(replica.engine)
    finally:
        replica.dispose()
    if revision != head_revision():
        return Check(
            "error",
            "read-replica",
            f"{where} is at schema {revision}, not {head_revision()}: not a replica of this "
            "database?",
        )
    lag = f"{state.lag_seconds:.1f} s behind"
    if not state.in_recovery:
        return Check("warn", "read-replica", f"{where} is not a standby (it takes writes)")
    if state.reason == "behind":
        return Check(
            "warn",
            "read-replica",
            f"{where} is {lag} (more than {settings.read_max_lag_seconds:g} s): reads use the "
            "primary",
        )
    return Check("ok", "read-replica", f"{where}, {lag}")


def check_migrations(engine: Engine) -> Check:
    """The schema is the newest this release knows (alembic head)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from tongban.migrate import alembic_config, current_revision, head_revision

    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return Check("ok", "migrations", f"schema at revision {head} (head)")
    if current is None:
        return Check(
            "error", "migrations", f"the database has no schema: run `tongban db upgrade` ({head})"
        )
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(current)
    except CommandError:
        return Check(
            "error",
            "migrations",
            f"revision {current} is unknown to this release (head {head}): was the database "
            "migrated by a newer one?",
        )
    return Check(
        "error",
        "migrations",
        f"schema at revision {current}, this release needs {head}: run `tongban db upgrade`",
    )


def check_region(settings: Settings, engine: Engine) -> Check:
    """The database's region is the configured one (or, not configured, taken from it)."""
    from tongban.identity.service import RegionMismatch, database_region, settled_region

    try:
        settled = settled_region(settings, engine)
    except RegionMismatch as exc:
        return Check("error", "region", str(exc))
    found = database_region(engine)
    if found is None:
        return Check(
            "warn",
            "region",
            f"the database claims no region yet; the first command of region "
            f"{settings.region_code} claims it (`tongban keys init`)",
        )
    how = "" if found == settings.region_code else " (from the database; not configured)"
    return Check("ok", "region", f"{settled.region_code} {settled.region_name}{how}")


# -- keys --------------------------------------------------------------------------------------


def _kek_source(settings: Settings) -> str:
    if settings.kek is not None:
        return "TONGBAN_KEK"
    if settings.kek_file is not None:
        return f"TONGBAN_KEK_FILE {settings.kek_file}"
    return f"the demo key beside the database ({demo_kek_path(settings.database_url)})"


def check_kek(settings: Settings, engine: Engine, *, demo: bool) -> Check:
    """A KEK is configured and unwraps every data key stored in the database."""
    return _kek(settings, engine, demo=demo)[0]


def _kek(settings: Settings, engine: Engine, *, demo: bool) -> tuple[Check, bool]:
    """The check, and whether the KEK opens the data keys (so the signing keys can be read)."""
    from tongban.crypto.keys import configured_kek
    from tongban.crypto.models import DataKey
    from tongban.crypto.primitives import Aead
    from tongban.crypto.service import Keyring, KeyUnavailable

    demo_path = demo_kek_path(settings.database_url)
    if settings.kek_file is not None and settings.kek is None and not settings.kek_file.exists():
        return Check("error", "kek", f"TONGBAN_KEK_FILE {settings.kek_file} does not exist"), False
    none_set = settings.kek is None and settings.kek_file is None
    if none_set and (demo_path is None or not demo_path.exists()):
        return Check(
            "warn" if demo else "error",
            "kek",
            "no key-encryption key: set TONGBAN_KEK or TONGBAN_KEK_FILE; nothing personal can "
            "be read or written",
        ), False
    try:
        ring = Keyring(configured_kek(settings), Aead(settings.field_cipher))
        with _reading(engine) as session:
            if session.scalar(select(DataKey.id).limit(1)) is None:
                return Check(
                    "error", "kek", "no data keys in the database: run `tongban keys init`"
                ), False
            count = ring.open_all(session)  # the very check the server makes before using a key
            active = ring.active_key_id(session)
            ring.index_key(session)
    except KeyUnavailable as exc:
        return Check("error", "kek", f"{exc} (from {_kek_source(settings)})"), False
    found = (
        f"key-encryption key {ring.kek.id} from {_kek_source(settings)} unwraps all "
        f"{count} data keys (field key {active} active)"
    )
    if none_set and not demo:
        return Check(
            "warn",
            "kek",
            f"{found}, but it is kept beside the database, where a copy of one is a copy of "
            "both: set TONGBAN_KEK or TONGBAN_KEK_FILE from a secret store",
        ), True
    return Check("ok", "kek", found), True


def check_signing_keys(settings: Settings, engine: Engine) -> Check:
    """An active root and code key of the region, whose private halves open under the KEK;
    and each issuing department's license key (made on its first license if it has none)."""
    from sqlalchemy import func

    from tongban.catalog.models import Department, LicenseType
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.models import SigningKey
    from tongban.crypto.signing import ROOT, SigningKeys
    from tongban.idcode.keys import CODE
    from tongban.licenses.service import LICENSE

    signing = SigningKeys(settings, keyring_for(settings))
    owner = signing.region_owner
    problems: list[str] = []
    found: list[str] = []
    with _reading(engine) as session:
        for purpose in (ROOT, CODE):
            row = signing._active_row(session, purpose, owner)
            if row is None:
                problems.append(f"no active {purpose} key of {owner}: run `tongban keys init`")
                continue
            try:
                signing.signer(session, purpose, owner)
            except Exception as exc:  # the private half does not open: any reason is fatal
                problems.append(f"the {purpose} key {row.kid} does not open: {exc}")
                continue
            found.append(f"{purpose} {row.kid}")
        departments = sorted(
            session.scalars(
                select(Department.key)
                .join(LicenseType, LicenseType.department_id == Department.id)
                .distinct()
            )
        )
        keyed = 0
        for department in departments:
            dept_owner = f"dept:{department}"
            row = signing._active_row(session, LICENSE, dept_owner)
            if row is None:
                continue  # made when the department issues its first license
            try:
                signing.signer(session, LICENSE, dept_owner)
            except Exception as exc:
                problems.append(f"the license key {row.kid} of {dept_owner} does not open: {exc}")
                continue
            keyed += 1
        revoked = session.scalar(
            select(func.count())
            .select_from(SigningKey)
            .where(SigningKey.status == "revoked", SigningKey.region_code == settings.region_code)
        )
    if problems:
        return Check("error", "signing-keys", "; ".join(problems))
    message = f"{', '.join(found)} active; " + (
        f"license keys of {keyed} of {len(departments)} issuing departments (the others are "
        "made on their first license)"
        if departments
        else "no department issues licenses (no catalog loaded?)"
    )
    if revoked:
        message += f"; {revoked} revoked keys stay listed as revoked"
    return Check("ok", "signing-keys", message)


# -- files -------------------------------------------------------------------------------------


def check_uploads(
    settings: Settings,
    *,
    demo: bool = False,
    warn_below: int = UPLOADS_WARN_BELOW,
    error_below: int = UPLOADS_ERROR_BELOW,
) -> Check:
    """The uploads folder exists, takes a file (written and removed) and has room."""
    folder = files_dir_for(settings).resolve()
    if not folder.exists():
        return Check(
            "warn" if demo else "error",
            "uploads",
            f"{folder} does not exist (TONGBAN_FILES_DIR: is the volume mounted?)",
        )
    if not folder.is_dir():
        return Check("error", "uploads", f"{folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".tongban-doctor-", dir=folder)
        try:
            os.write(fd, b"probe")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        return Check("error", "uploads", f"{folder} is not writable: {exc.strerror or exc}")
    free = shutil.disk_usage(folder).free
    room = f"{folder}: writable, {_size(free)} free"
    if free < error_below:
        return Check("error", "uploads", f"{room} (below {_size(error_below)}: uploads fail)")
    if free < warn_below:
        return Check("warn", "uploads", f"{room} (below {_size(warn_below)})")
    return Check("ok", "uploads", room)


def _size(n: int) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / MIB:.0f} MiB"


# -- login -------------------------------------------------------------------------------------


def check_staff_otp(settings: Settings, *, demo: bool) -> Check:
    if settings.require_staff_otp:
        return Check("ok", "staff-otp", "staff log in with a one-time code")
    if demo:
        return Check("ok", "staff-otp", "staff log in without a one-time code (a demo database)")
    return Check(
        "warn",
        "staff-otp",
        "TONGBAN_REQUIRE_STAFF_OTP is false: a staff password alone opens personal data",
    )


def check_cookies(settings: Settings) -> Check:
    if settings.cookie_secure:
        return Check("ok", "cookies", "portal cookies are always marked Secure")
    return Check(
        "warn",
        "cookies",
        "TONGBAN_COOKIE_SECURE is false: cookies are Secure only on requests that arrive "
        "over HTTPS; behind a proxy that ends TLS, set it true",
    )


# -- the calendar ------------------------------------------------------------------------------


def check_calendar(engine: Engine, today: date | None = None) -> Check:
    """The working-day calendar knows this year (else no deadline can be set) and the next."""
    from tongban.licenses.service import today as china_today
    from tongban.workdays.service import known_years

    year = (today or china_today()).year
    with _reading(engine) as session:
        years = known_years(session)
    span = f"{years[0]}–{years[-1]}" if years else "no year"
    if year not in years:
        return Check(
            "error",
            "calendar",
            f"the working-day calendar knows {span}, not {year}: no case can be accepted "
            f"(`tongban calendar seed`, or PUT /api/v1/calendar/{year})",
        )
    if year + 1 not in years:
        return Check(
            "warn",
            "calendar",
            f"the working-day calendar knows {span}; enter {year + 1} when the State Council "
            "publishes it (each November): until then no deadline may run into it",
        )
    return Check("ok", "calendar", f"the working-day calendar knows {span}")


# -- peers -------------------------------------------------------------------------------------


def check_peers(
    settings: Settings,
    engine: Engine,
    transport: Transport | None = None,
    *,
    timeout: float = PEER_TIMEOUT_SECONDS,
) -> list[Check]:
    """Each active peer: its kept trust list is current and was fetched lately, and its node
    answers with a list signed by the pinned root. A peer away is a warning: its messages wait."""
    from tongban.cases.files import FileStore
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.signing import SigningKeys
    from tongban.db import utcnow
    from tongban.errors import DomainError
    from tongban.federation import peers
    from tongban.federation.transport import HttpTransport
    from tongban.licenses.service import Registry

    with _reading(engine) as session:
        active = [p for p in peers.peers(session) if p.active]
        for p in active:
            session.expunge(p)
    if not active:
        return [Check("ok", "peers", "no peer regions are trusted")]
    quick = settings.model_copy(
        update={"federation_timeout_seconds": min(timeout, settings.federation_timeout_seconds)}
    )
    ring = keyring_for(quick)
    own = transport is None
    net: Transport = HttpTransport() if transport is None else transport
    fed = peers.make_federation(
        quick, Registry(quick, ring, SigningKeys(quick, ring)), FileStore(files_dir_for(quick)), net
    )
    now = utcnow()
    every = timedelta(minutes=settings.federation_refresh_minutes)
    checks = []
    try:
        for peer in active:
            problems: list[str] = []
            notes: list[str] = []
            try:
                kept = peers.peer_trust(peer, int(now.timestamp()))
                notes.append(f"trust list current until {_utc(kept.next_update):%Y-%m-%d %H:%M}")
            except DomainError as exc:
                problems.append(f"its kept trust list verifies nothing: {exc.detail or exc.code}")
            age = now - peer.trust_fetched_at
            if age > 2 * every:
                problems.append(
                    f"its trust list was last fetched {_ago(age)} ago (the worker fetches every "
                    f"{settings.federation_refresh_minutes} min: is `tongban federation work` "
                    "running?)"
                )
            else:
                notes.append(f"fetched {_ago(age)} ago")
            try:
                _, trust = peers.fetch_trust_list(fed, peer.url, peer.root_fingerprint)
                if trust.region_code != peer.region_code:
                    problems.append(f"{peer.url} answers as region {trust.region_code}")
                else:
                    notes.insert(0, "answers")
            except peers.PeerUnavailable as exc:
                problems.append(f"unreachable: {exc.detail}")
            except DomainError as exc:
                problems.append(
                    f"answers, but its trust list does not check against the pinned root: "
                    f"{exc.detail or exc.code}"
                )
            head = f"{peer.name} at {peer.url}"
            if problems:
                checks.append(
                    Check("warn", f"peer {peer.region_code}", f"{head}: " + "; ".join(problems))
                )
            else:
                checks.append(
                    Check("ok", f"peer {peer.region_code}", f"{head}: " + ", ".join(notes))
                )
    finally:
        if own and isinstance(net, HttpTransport):
            net.close()
    return checks


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _ago(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


# -- pre-review --------------------------------------------------------------------------------


def check_ocr() -> Check:
    """The pre-review's OCR models load and read a page (a blank one: no text)."""
    started = time.perf_counter()
    try:
        import numpy as np

        from tongban.prereview.ocr import read_lines

        read_lines(np.full((64, 256, 3), 255, dtype=np.uint8))
    except Exception as exc:  # a missing wheel, a model that does not load: any is fatal
        return Check("error", "ocr", f"the OCR models do not load: {type(exc).__name__}: {exc}")
    return Check(
        "ok", "ocr", f"the OCR models load and read a page ({time.perf_counter() - started:.1f} s)"
    )


# -- all of them -------------------------------------------------------------------------------


def run_checks(
    settings: Settings, engine: Engine, *, deep: bool = False, transport: Transport | None = None
) -> list[Check]:
    """Every check in order; what cannot be checked (the database away, its schema behind,
    another region's database, the KEK wrong) is left out and the check that stopped it says
    so."""
    from tongban.identity.service import RegionMismatch, settled_region

    checks: list[Check] = []

    def add(check: Check, skipped: str = "") -> bool:
        """Keep the check; whether it passed (if not, note what it leaves unchecked)."""
        passed = check.status != "error"
        if not passed and skipped:
            check = check._replace(message=f"{check.message}; {skipped} not checked")
        checks.append(check)
        return passed

    reachable = add(
        _guarded("database", lambda: check_database(settings, engine)), "its tables were"
    )
    demo = reachable and is_demo(engine)
    tables = reachable and add(
        _guarded("migrations", lambda: check_migrations(engine)),
        "the region, keys, calendar and peers were",
    )
    signing = False
    if tables:
        ours = add(
            _guarded("region", lambda: check_region(settings, engine)),
            "the signing keys and peers were",
        )
        with contextlib.suppress(RegionMismatch):
            settings = settled_region(settings, engine)
        try:
            kek, keys_open = _kek(settings, engine, demo=demo)
        except Exception as exc:
            kek, keys_open = _failed("kek", exc), False
        if ours and not keys_open:
            kek = kek._replace(
                message=f"{kek.message}; the signing keys and peers were not checked"
            )
        checks.append(kek)
        signing = ours and keys_open
        if signing:
            add(_guarded("signing-keys", lambda: check_signing_keys(settings, engine)))
    if settings.read_database_url:
        add(_guarded("read-replica", lambda: check_read_replica(settings)))
    add(_guarded("uploads", lambda: check_uploads(settings, demo=demo)))
    add(check_staff_otp(settings, demo=demo))
    add(check_cookies(settings))
    if tables:
        add(_guarded("calendar", lambda: check_calendar(engine)))
    if signing:
        try:
            checks.extend(check_peers(settings, engine, transport))
        except Exception as exc:
            add(_failed("peers", exc))
    if deep:
        add(check_ocr())
    return checks


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:  # a check that breaks is an error to look at, not a traceback
        return _failed(name, exc)


def _failed(name: str, exc: Exception) -> Check:
    return Check("error", name, f"the check failed: {type(exc).__name__}: {exc}")
