"""The `tongban` command: serve, demo, doctor, db, catalog, keys, backup, code, audit, accounts."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine, func, select

from tongban.settings import Settings, get_settings, sqlite_url

app = typer.Typer(help="通办 Tongban: a city's government services platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
catalog_app = typer.Typer(help="The service catalog (事项库).", no_args_is_help=True)
keys_app = typer.Typer(help="Field-encryption and code-signing keys.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts.", no_args_is_help=True)
license_app = typer.Typer(
    help="电子证照: verify license documents offline, expire due licenses.", no_args_is_help=True
)
cases_app = typer.Typer(help="办件: applications.", no_args_is_help=True)
calendar_app = typer.Typer(help="工作日: the working-day calendar.", no_args_is_help=True)
industry_app = typer.Typer(help="一业一证: industry comprehensive licenses.", no_args_is_help=True)
ratings_app = typer.Typer(help="好差评: ratings and their tickets.", no_args_is_help=True)
prereview_app = typer.Typer(
    help="政务智能办: pre-review of applications (rules and document reading).",
    no_args_is_help=True,
)
code_app = typer.Typer(
    help="随申码: verify codes offline, export the trust list.", no_args_is_help=True
)
peers_app = typer.Typer(
    help="跨省通办: the peer regions this node trusts (trust lists, agreed types).",
    no_args_is_help=True,
)
federation_app = typer.Typer(
    help="跨省通办: the worker and the messages between regions.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(accounts_app, name="accounts")
app.add_typer(code_app, name="code")
app.add_typer(license_app, name="license")
app.add_typer(calendar_app, name="calendar")
app.add_typer(cases_app, name="cases")
app.add_typer(industry_app, name="industry")
app.add_typer(prereview_app, name="prereview")
app.add_typer(ratings_app, name="ratings")
app.add_typer(peers_app, name="peers")
app.add_typer(federation_app, name="federation")

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="SQLite file to use; default: TONGBAN_DATABASE_URL or ./tongban.db"),
]


def _settings(db: Path | None) -> Settings:
    """The settings of the node the database belongs to (its region is the database's)."""
    from tongban.identity.service import RegionMismatch, settled_region

    settings = get_settings()
    if db is not None:
        settings = settings.model_copy(update={"database_url": sqlite_url(db)})
    engine = _engine(settings)
    try:
        return settled_region(settings, engine)
    except RegionMismatch as exc:
        raise _fail(str(exc)) from exc
    finally:
        engine.dispose()


def _engine(settings: Settings) -> Engine:
    from tongban.db import make_engine

    return make_engine(settings.database_url)


def _where(settings: Settings) -> str:
    from sqlalchemy import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None, revision: str = "head") -> None:
    """Migrate the database to the newest schema."""
    from tongban.migrate import current_revision, upgrade

    engine = _engine(_settings(db))
    upgrade(engine, revision)
    typer.echo(f"database at revision {current_revision(engine)}")


@db_app.command("current")
def db_current(db: DbOption = None) -> None:
    """Show the database's schema revision and whether it is the newest."""
    from tongban.migrate import current_revision, head_revision

    engine = _engine(_settings(db))
    typer.echo(f"current {current_revision(engine)}, head {head_revision()}")


@catalog_app.command("check")
def catalog_check(directory: Annotated[Path | None, typer.Argument()] = None) -> None:
    """Validate a catalog folder without touching any database."""
    from tongban.catalog.loader import SHIPPED_CATALOG, CatalogInvalid, read_catalog

    try:
        src = read_catalog(directory or SHIPPED_CATALOG)
    except CatalogInvalid as exc:
        typer.echo(str(exc), err=True)
        raise _fail(f"{len(exc.problems)} problem(s); nothing loaded") from exc
    typer.echo(f"ok: {len(src.matters)} matters, {len(src.departments)} departments")


@catalog_app.command("load")
def catalog_load(
    directory: Annotated[
        Path | None, typer.Argument(help="catalog folder; default: shipped")
    ] = None,
    db: DbOption = None,
) -> None:
    """Validate and load a catalog folder; a file with any problem loads nothing."""
    from tongban.catalog.loader import CatalogInvalid
    from tongban.catalog.service import load_catalog_dir
    from tongban.db import make_sessionmaker, transaction

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            report = load_catalog_dir(session, directory or settings.catalog_dir)
    except CatalogInvalid as exc:
        typer.echo(str(exc), err=True)
        raise _fail(f"{len(exc.problems)} problem(s); nothing loaded") from exc
    typer.echo(report.summary())


@catalog_app.command("stats")
def catalog_stats(db: DbOption = None, as_json: bool = typer.Option(False, "--json")) -> None:
    """Materials by source, the exemption rate, matters fully online, average trips."""
    from tongban.catalog.service import catalog_stats as compute
    from tongban.db import make_sessionmaker, transaction

    engine = _engine(_settings(db))
    _require_current_schema(engine)
    with transaction(make_sessionmaker(engine)) as session:
        stats = compute(session)
    if as_json:
        typer.echo(json.dumps(stats.model_dump(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"事项 matters                 {stats.matters}")
    typer.echo(f"部门 departments             {stats.departments}")
    typer.echo(f"大厅 halls                   {stats.halls}")
    typer.echo(f"材料 materials               {stats.materials}  {stats.materials_by_source}")
    typer.echo(
        f"部门核发材料免提交率         {stats.department_issued_exempt}/"
        f"{stats.department_issued_materials} = {stats.exemption_rate:.1%}"
    )
    typer.echo(f"免填报字段 prefillable fields {stats.prefillable_fields}/{stats.fields}")
    online = f"{stats.fully_online_matters} ({stats.fully_online_rate:.1%})"
    typer.echo(f"全程网办 fully online         {online}")
    typer.echo(f"平均跑动 average trips        {stats.average_trips:.2f}")


@catalog_app.command("export")
def catalog_export(
    directory: Annotated[Path, typer.Argument(help="folder to write the YAML files to")],
    db: DbOption = None,
) -> None:
    """Write the catalog in the database back out as YAML (loadable again with `load`)."""
    from tongban.catalog.service import export_catalog
    from tongban.db import make_sessionmaker, transaction
    from tongban.errors import DomainError

    engine = _engine(_settings(db))
    _require_current_schema(engine)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            written = export_catalog(session, directory)
    except DomainError as exc:
        raise _fail(f"{exc.title_en}: {exc.detail}") from exc
    typer.echo(f"wrote {directory}: " + ", ".join(f"{k} {v}" for k, v in written.items()))


@keys_app.command("init")
def keys_init(db: DbOption = None) -> None:
    """Create the data keys and signing keys of a new database under the KEK (idempotent)."""
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.service import KeyUnavailable
    from tongban.crypto.signing import SigningKeys
    from tongban.db import make_sessionmaker, transaction
    from tongban.idcode.keys import CodeKeys
    from tongban.identity.service import claim_region

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    try:
        ring = keyring_for(settings)
        with transaction(make_sessionmaker(engine)) as session:
            ring.ensure_keys(session)
            signing = SigningKeys(settings, ring)
            CodeKeys(signing).ensure(session)
            signing.ensure(session, "federation", signing.region_owner)
            claim_region(session, settings.region_code)
    except KeyUnavailable as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"data and signing keys ready under key-encryption key {ring.kek.id}")


@keys_app.command("rotate")
def keys_rotate(db: DbOption = None, batch: int = typer.Option(500, min=1, max=100_000)) -> None:
    """A new field key; every encrypted value re-encrypted under it, in committed batches."""
    from tongban.audit.service import record
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.service import KeyUnavailable, rotate_all
    from tongban.db import make_sessionmaker, transaction
    from tongban.models_registry import import_all_models

    import_all_models()  # registers every encrypted column
    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    factory = make_sessionmaker(engine)
    try:
        new_id, count = rotate_all(lambda: transaction(factory), keyring_for(settings), batch)
    except KeyUnavailable as exc:
        raise _fail(str(exc)) from exc
    with transaction(factory) as session:
        record(
            session, actor="system", action="keys.rotate", details={"key": new_id, "values": count}
        )
    typer.echo(f"field key {new_id} active; {count} values re-encrypted")


def _signing_keys(db: Path | None) -> tuple[Settings, Engine, Any]:
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.service import KeyUnavailable
    from tongban.crypto.signing import SigningKeys

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    try:
        return settings, engine, SigningKeys(settings, keyring_for(settings))
    except KeyUnavailable as exc:
        raise _fail(str(exc)) from exc


@keys_app.command("signing-list")
def keys_signing_list(db: DbOption = None) -> None:
    """The region's SM2 signing keys: purpose, status, and when each was made and retired."""
    from tongban.crypto.models import SigningKey
    from tongban.db import make_sessionmaker, transaction

    _, engine, _ = _signing_keys(db)
    with transaction(make_sessionmaker(engine)) as session:
        for row in session.scalars(select(SigningKey).order_by(SigningKey.activated_at)):
            ended = row.revoked_at or row.retired_at
            typer.echo(
                f"{row.kid}  {row.purpose:<7} {row.owner:<22} {row.status:<8} "
                f"{row.activated_at:%Y-%m-%d %H:%M}"
                + (f" .. {ended:%Y-%m-%d %H:%M}" if ended else "")
            )


@keys_app.command("signing-rotate")
def keys_signing_rotate(
    db: DbOption = None,
    root: bool = typer.Option(False, "--root", help="rotate the trust-list root key instead"),
    department: Annotated[
        str | None, typer.Option("--department", help="rotate this department's license key")
    ] = None,
) -> None:
    """A new signing key (the region's code key by default); what the old one signed keeps
    verifying (codes until they expire, licenses for good)."""
    from tongban.audit.service import record
    from tongban.db import make_sessionmaker, transaction

    settings, engine, keys = _signing_keys(db)
    if department:
        purpose, owner = "license", f"dept:{department}"
    else:
        purpose, owner = ("root" if root else "code"), keys.region_owner
    with transaction(make_sessionmaker(engine)) as session:
        row = keys.rotate(session, purpose, owner)
        record(session, actor="system", action="keys.signing_rotate", details={"kid": row.kid})
        told = _announce(session, settings, keys, f"{purpose} key rotated")
    typer.echo(f"{purpose} key {row.kid} active" + (f"; {told} peer regions told" if told else ""))


@keys_app.command("signing-revoke")
def keys_signing_revoke(kid: str, db: DbOption = None) -> None:
    """Stop trusting a signing key at once (it leaked); codes it signed stop verifying."""
    from tongban.audit.service import record
    from tongban.db import make_sessionmaker, transaction
    from tongban.errors import DomainError

    settings, engine, keys = _signing_keys(db)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            row = keys.revoke(session, kid)
            record(session, actor="system", action="keys.signing_revoke", details={"kid": kid})
            told = _announce(session, settings, keys, f"key {kid} revoked")
    except DomainError as exc:
        raise _fail(f"{exc.title_en}: {kid}") from exc
    typer.echo(f"{row.purpose} key {kid} revoked" + (f"; {told} peer regions told" if told else ""))


def _announce(session: Any, settings: Settings, keys: Any, why: str) -> int:
    """Peer regions hear of a key change at once (跨省通办)."""
    from tongban.federation.service import announce_trust_change
    from tongban.licenses.service import Registry

    return announce_trust_change(session, Registry(settings, keys.keyring, keys), why)


@code_app.command("trust-list")
def code_trust_list(
    db: DbOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here, not stdout")] = None,
) -> None:
    """This region's signed trust list, as `GET /api/v1/trust-list` serves it."""
    from tongban.crypto.sm2 import public_key_from_pem
    from tongban.crypto.trustlist import root_fingerprint_of
    from tongban.db import make_sessionmaker, transaction

    _, engine, keys = _signing_keys(db)
    with transaction(make_sessionmaker(engine)) as session:
        document = keys.document(session)
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    root = public_key_from_pem(document["root"]["public_key_pem"])
    typer.echo(f"wrote {out}; root key fingerprint (SM3) {root_fingerprint_of(root)}")


@code_app.command("prune")
def code_prune(
    db: DbOption = None,
    issues_days: int = typer.Option(7, min=1, help="keep expired dynamic codes this long"),
    scans_days: int = typer.Option(180, min=1, help="keep the scan history this long"),
) -> None:
    """Forget expired dynamic codes and old scans (run daily; paper codes stay while valid)."""
    from tongban.db import make_sessionmaker, transaction
    from tongban.idcode.service import prune

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with transaction(make_sessionmaker(engine)) as session:
        issues, scans = prune(session, issues_days=issues_days, scans_days=scans_days)
    typer.echo(f"pruned {issues} expired codes and {scans} scans")


@code_app.command("verify")
def code_verify(
    token: str,
    trust: TrustOption,
    unpinned: UnpinnedOption = False,
    skew: int = typer.Option(5, help="seconds of clock difference forgiven"),
) -> None:
    """Verify a code with nothing but trust lists: no server, no database, no network.

    Prints what the code says (never who holds it) and exits 0, or the refusal and exits 1.
    """
    import time

    from tongban.errors import DomainError
    from tongban.idcode.trust import verify_token

    now = int(time.time())
    try:
        lists = _trust_lists(trust, unpinned, now)
        verified = verify_token(token, lists, now=now, skew=skew)
    except DomainError as exc:
        typer.echo(
            json.dumps(
                {"valid": False, "code": exc.code, "title": exc.title, "title_en": exc.title_en},
                ensure_ascii=False,
            )
        )
        raise typer.Exit(code=1) from exc
    claims = verified.claims
    typer.echo(
        json.dumps(
            {
                "valid": True,
                "subject_type": claims.subject_type.name.lower(),
                "region_code": claims.region_code,
                "paper": claims.paper,
                "kid": claims.kid,
                "issued_at": claims.issued_at,
                "expires_at": claims.expires_at,
                "channel": claims.channel.name.lower() if claims.channel else None,
            },
            ensure_ascii=False,
        )
    )


@license_app.command("verify")
def license_verify(
    file: Path,
    trust: TrustOption,
    status_list: Annotated[
        Path | None, typer.Option("--status-list", help="the region's signed status list")
    ] = None,
    unpinned: UnpinnedOption = False,
) -> None:
    """Verify a license document with nothing but the trust list (and the status list).

    Prints the verdict and every check as JSON; exits 0 when valid, 1 otherwise.
    """
    import time
    from datetime import datetime, timedelta, timezone

    from tongban.errors import DomainError
    from tongban.licenses.document import status_from_list, verify_document
    from tongban.licenses.service import load_status_list

    now = int(time.time())
    try:
        document = _read_json(file)
        lists = _trust_lists(trust, unpinned, now)
        status = None
        if status_list is not None:
            region = lists.get(str(_read_json(status_list).get("region_code")))
            if region is None:
                raise _fail("the status list is of a region whose trust list was not given")
            checked = load_status_list(_read_json(status_list), region, now=now)
            status = status_from_list(document, checked)
    except DomainError as exc:
        typer.echo(json.dumps({"valid": False, "reason": exc.code, "detail": exc.detail}))
        raise typer.Exit(code=1) from exc
    today = datetime.now(timezone(timedelta(hours=8))).date()
    result = verify_document(document, lists, today=today, status=status)
    typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    if not result.valid:
        raise typer.Exit(code=1)


TrustOption = Annotated[
    list[str],
    typer.Option(
        "--trust",
        help="a trust list file, pinned to its root key: FILE=SM3_FINGERPRINT "
        "(printed by `tongban code trust-list -o`); repeat for peer regions",
    ),
]
UnpinnedOption = Annotated[
    bool,
    typer.Option(
        "--insecure-unpinned",
        help="accept trust lists without a pinned root (anyone can sign a list of their own)",
    ),
]


def _trust_lists(entries: list[str], unpinned: bool, now: int) -> dict[str, Any]:
    """Each trust list read, checked against the root key pinned for it, one per region."""
    from tongban.crypto.trustlist import load_document

    lists: dict[str, Any] = {}
    for entry in entries:
        path, _, pin = entry.rpartition("=") if "=" in entry else (entry, "", "")
        if not pin and not unpinned:
            raise _fail(
                f"{path}: pin its root key as FILE=FINGERPRINT, or accept the risk with "
                "--insecure-unpinned"
            )
        loaded = load_document(_read_json(Path(path)), now=now, root_fingerprint=pin or None)
        if loaded.region_code in lists:
            raise _fail(f"two trust lists for region {loaded.region_code}")
        lists[loaded.region_code] = loaded
    return lists


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read {path}: {exc}") from exc


@calendar_app.command("seed")
def calendar_seed(db: DbOption = None) -> None:
    """Enter every year the chinesecalendar package knows and the database does not yet."""
    from tongban.db import make_sessionmaker, transaction
    from tongban.workdays.service import known_years, seed_from_chinesecalendar

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with transaction(make_sessionmaker(engine)) as session:
        added = seed_from_chinesecalendar(session)
        years = known_years(session)
    typer.echo(
        f"calendar knows {years[0]}–{years[-1]}"
        + (f"; added {len(added)} years" if added else "; nothing new")
        + (f". Enter {years[-1] + 1} when it is published" if years else "")
    )


@cases_app.command("sweep")
def cases_sweep(db: DbOption = None) -> None:
    """预警 and overdue: mark cases at 80% of their time and past their due date (run daily)."""
    from tongban.cases.service import deadline_report, sweep
    from tongban.db import make_sessionmaker, transaction
    from tongban.licenses.service import today

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with transaction(make_sessionmaker(engine)) as session:
        warned, late = sweep(session, today())
        report = deadline_report(session)
    typer.echo(f"{warned} cases warned, {late} overdue")
    for line in report:
        if line.warned or line.overdue:
            typer.echo(
                f"  {line.hall or '-'} / {line.department}: {line.open} open, "
                f"{line.warned} 预警, {line.overdue} overdue"
            )


@ratings_app.command("sweep")
def ratings_sweep(db: DbOption = None) -> None:
    """差评工单: escalate overdue steps to the supervisors, close answers left unreplied (daily)."""
    from tongban.db import make_sessionmaker, transaction
    from tongban.licenses.service import today
    from tongban.ratings.service import sweep

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with transaction(make_sessionmaker(engine)) as session:
        report = sweep(session, settings, today())
    typer.echo(
        f"{report.escalated} tickets escalated, {report.closed_no_reply} closed without a reply, "
        f"{report.dated} given their due day"
    )


@industry_app.command("remind")
def industry_remind(
    db: DbOption = None,
    days: int = typer.Option(60, min=1, max=365, help="remind this many days ahead"),
) -> None:
    """延续提醒: tell each enterprise whose comprehensive license ends soon (run daily)."""
    from tongban.db import make_sessionmaker, transaction
    from tongban.industry.service import remind_renewals
    from tongban.licenses.service import today

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with transaction(make_sessionmaker(engine)) as session:
        told = remind_renewals(session, today(), days)
    typer.echo(f"{told} enterprises reminded to renew")


def _prereview_pass(settings: Settings, engine: Engine) -> tuple[int, int]:
    from tongban.cases.files import FileStore
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.signing import SigningKeys
    from tongban.db import make_sessionmaker, transaction
    from tongban.licenses.service import Registry
    from tongban.prereview.service import run_pending
    from tongban.settings import files_dir_for

    ring = keyring_for(settings)
    factory = make_sessionmaker(engine)
    return run_pending(
        lambda: transaction(factory),
        Registry(settings, ring, SigningKeys(settings, ring)),
        FileStore(files_dir_for(settings)),
    )


@prereview_app.command("work")
def prereview_work(
    db: DbOption = None,
    once: bool = typer.Option(False, "--once", help="one pass over the queue, then exit"),
    interval: float = typer.Option(2.0, min=0.2, max=60, help="seconds between passes"),
) -> None:
    """The pre-review worker: run the queued pre-reviews (rules and OCR), oldest first. Run
    one or more beside the web processes; a pre-review is claimed by one worker only."""
    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    while True:
        try:
            done, failed = _prereview_pass(settings, engine)
        except Exception:  # the database away a moment: the worker goes on
            if once:
                raise
            logging.getLogger("tongban").exception("pre-review pass failed")
            done = failed = 0
        if done or failed or once:
            typer.echo(f"{done} pre-reviews done, {failed} failed (retried)")
        if once:
            return
        time.sleep(interval)


@prereview_app.command("eval")
def prereview_eval(
    directory: Annotated[Path, typer.Argument(help="the evaluation set (docs/prereview.md)")],
    as_json: bool = typer.Option(False, "--json", help="the figures as JSON"),
) -> None:
    """Pre-review accuracy on a labelled set: verdict accuracy, findings precision and recall
    per rule, seconds per application (documents read by OCR on this machine)."""
    from tongban.prereview.evaluation import evaluate, folders, summary

    if not folders(directory):
        typer.echo(f"no applications (case.json) under {directory}", err=True)
        raise typer.Exit(2)
    figures = evaluate(directory).as_dict()
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False, indent=1))
        return
    for line in summary(figures):
        typer.echo(line)


def _start_prereview_thread(settings: Settings, engine: Engine) -> None:
    """The demo's pre-review worker, in a thread beside the web server."""
    import threading

    def loop() -> None:
        while True:
            try:
                _prereview_pass(settings, engine)
            except Exception:  # the demo worker must outlive a bad pass
                logging.getLogger("tongban").exception("pre-review pass failed")
            time.sleep(2.0)

    threading.Thread(target=loop, name="prereview-worker", daemon=True).start()


@cases_app.command("send-sms")
def cases_send_sms(db: DbOption = None) -> None:
    """Send the waiting SMS of the outbox (run every minute). This build's sender logs a
    masked line; a deployment plugs in its provider's sender."""
    from tongban.crypto.keys import keyring_for
    from tongban.db import make_sessionmaker, transaction
    from tongban.notify.service import LogSender, send_pending

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with transaction(make_sessionmaker(engine)) as session:
        sent, failed = send_pending(session, keyring_for(settings), LogSender())
    typer.echo(f"{sent} sms sent, {failed} failed (retried next time)")


@cases_app.command("prune-files")
def cases_prune_files(
    db: DbOption = None,
    min_age_minutes: Annotated[int, typer.Option(min=1, help="spare younger blobs")] = 60,
) -> None:
    """Remove uploaded blobs no case points at (left by a crash or a rolled-back upload)."""
    from tongban.cases.files import FileStore, prune_orphans
    from tongban.db import make_sessionmaker, transaction
    from tongban.settings import files_dir_for

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    store = FileStore(files_dir_for(settings))
    with transaction(make_sessionmaker(engine)) as session:
        removed = prune_orphans(session, store, older_than_seconds=min_age_minutes * 60)
    typer.echo(f"{removed} orphan files removed from {store.root}")


@license_app.command("expire")
def license_expire(db: DbOption = None) -> None:
    """失效: mark every license whose validity has ended (run daily)."""
    from tongban.db import make_sessionmaker, transaction
    from tongban.industry.service import renewals_in_progress
    from tongban.licenses.service import expire_due

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with transaction(make_sessionmaker(engine)) as session:
        count = expire_due(session, renewing=renewals_in_progress(session))
    typer.echo(f"{count} licenses expired")


@audit_app.command("verify")
def audit_verify(db: DbOption = None) -> None:
    """Walk the audit chain; exit 1 and say where if an entry was changed, removed or moved."""
    from tongban.audit.service import verify
    from tongban.db import make_sessionmaker, transaction

    engine = _engine(_settings(db))
    _require_current_schema(engine)
    with transaction(make_sessionmaker(engine)) as session:
        report = verify(session)
    if not report.ok:
        for problem in report.problems:
            typer.echo(problem, err=True)
        raise _fail(
            f"audit chain broken: {len(report.problems)} problem(s) in {report.entries} entries"
        )
    typer.echo(f"audit chain intact: {report.entries} entries")


@accounts_app.command("enroll-otp")
def accounts_enroll_otp(username: str, db: DbOption = None) -> None:
    """Give a staff account a new one-time-code secret; prints it once, for an authenticator."""
    import base64
    from urllib.parse import quote

    from sqlalchemy import select

    from tongban.audit.service import record
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.service import KeyUnavailable
    from tongban.db import make_sessionmaker, transaction
    from tongban.identity.models import Account
    from tongban.identity.service import enroll_otp

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    try:
        ring = keyring_for(settings)
        with transaction(make_sessionmaker(engine)) as session:
            account = session.scalars(select(Account).where(Account.username == username)).first()
            if account is None:
                raise _fail(f"no account {username!r}")
            secret = enroll_otp(session, ring, account)
            record(session, actor="system", action="account.otp_enrolled", subject_id=username)
    except KeyUnavailable as exc:
        raise _fail(str(exc)) from exc
    key = base64.b32encode(secret).decode().rstrip("=")
    issuer = quote(f"通办 {settings.region_name}")
    typer.echo(f"secret {key}")
    typer.echo(
        f"otpauth://totp/{issuer}:{quote(username)}?secret={key}&issuer={issuer}&digits=6&period=30"
    )


def _federation(settings: Settings) -> Any:
    from tongban.cases.files import FileStore
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.service import KeyUnavailable
    from tongban.crypto.signing import SigningKeys
    from tongban.federation.peers import make_federation
    from tongban.licenses.service import Registry
    from tongban.settings import files_dir_for

    try:
        ring = keyring_for(settings)
    except KeyUnavailable as exc:
        raise _fail(str(exc)) from exc
    registry = Registry(settings, ring, SigningKeys(settings, ring))
    return make_federation(settings, registry, FileStore(files_dir_for(settings)))


def _sessions(engine: Engine) -> Any:
    from tongban.db import make_sessionmaker, transaction

    factory = make_sessionmaker(engine)
    return lambda: transaction(factory)


RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="this node's region code (310000 上海, 320000 江苏 …); default: TONGBAN_REGION_CODE",
    ),
]


def _regional(settings: Settings, region: str | None) -> Settings:
    from tongban.common.regions import is_region_code, region_name

    if region is None:
        return settings
    if not is_region_code(region):
        raise _fail(f"{region} is not a province-level region code (like 320000)")
    return settings.model_copy(update={"region_code": region, "region_name": region_name(region)})


@peers_app.command("add")
def peers_add(
    url: Annotated[str, typer.Option("--url", help="the peer node's address")],
    fingerprint: Annotated[
        str | None,
        typer.Option(
            "--fingerprint",
            help="the SM3 fingerprint of the peer's root key, compared out of band; without "
            "it the key seen now is pinned (and printed, to compare)",
        ),
    ] = None,
    agree: Annotated[
        list[str] | None,
        typer.Option("--agree", help="a license type both recognize: KEY or KEY=PEER_CODE"),
    ] = None,
    agree_shared: Annotated[
        bool, typer.Option("--agree-shared", help="every type both catalogs have by key")
    ] = False,
    share_records: Annotated[
        bool,
        typer.Option(
            "--share-records", help="answer its look-ups of a person's base record (人口库) too"
        ),
    ] = False,
    db: DbOption = None,
    region: RegionOption = None,
) -> None:
    """Trust a peer region: fetch its trust list, pin its root key, record the agreed types."""
    from tongban.errors import DomainError
    from tongban.federation import peers
    from tongban.federation.peers import PeerRequest

    settings = _regional(_settings(db), region)
    engine = _engine(settings)
    _require_current_schema(engine)
    fed = _federation(settings)
    try:
        with _sessions(engine)() as session:
            peer = peers.add_peer(
                session,
                fed,
                "system",
                PeerRequest(url, fingerprint, tuple(agree or ()), agree_shared, share_records),
            )
            pairs = [
                f"{a.local_type_key}={a.peer_type_code}"
                for a in peers.agreements(session, peer.region_code)
            ]
            typer.echo(f"peer {peer.region_code} {peer.name} at {peer.url}")
            typer.echo(f"root key fingerprint (SM3) {peer.root_fingerprint}")
            typer.echo(f"agreed types: {', '.join(pairs) or 'none'}")
    except DomainError as exc:
        raise _fail(f"{exc.title_en}: {exc.detail or ''}".strip()) from exc


@peers_app.command("list")
def peers_list(db: DbOption = None) -> None:
    """The peers, their addresses, pinned roots, lists and agreed types."""
    from tongban.federation import peers

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with _sessions(engine)() as session:
        for p in peers.peers(session):
            state = "active" if p.active else "removed"
            typer.echo(f"{p.region_code} {p.name} {p.url} [{state}]")
            typer.echo(
                f"  root {p.root_fingerprint}, list until {p.trust_next_update:%Y-%m-%d %H:%M}"
            )
            for a in peers.agreements(session, p.region_code):
                typer.echo(f"  {a.local_type_key} = {a.peer_type_code} {a.peer_type_name}")
            if p.last_error:
                typer.echo(f"  last error: {p.last_error}")


@peers_app.command("refresh")
def peers_refresh(
    region_code: Annotated[str | None, typer.Argument(help="one peer; default: all")] = None,
    db: DbOption = None,
) -> None:
    """Fetch the peers' trust lists and license status lists now (the worker does it hourly)."""
    from tongban.federation import peers

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    fed = _federation(settings)
    sessions = _sessions(engine)
    with sessions() as session:
        codes = [p.region_code for p in peers.peers(session) if p.active]
    for code in codes if region_code is None else [region_code]:
        peers.refresh_peer(sessions, fed, code)
        with sessions() as session:
            peer = peers.active_peer(session, code)
            typer.echo(f"{code}: " + (peer.last_error or "trust and status lists current"))


@peers_app.command("remove")
def peers_remove(region_code: str, db: DbOption = None) -> None:
    """Stop trusting a peer: its messages and licenses no longer verify here."""
    from tongban.errors import DomainError
    from tongban.federation import peers

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    try:
        with _sessions(engine)() as session:
            peers.remove_peer(session, "system", region_code)
    except DomainError as exc:
        raise _fail(f"{exc.title_en}: {region_code}") from exc
    typer.echo(f"peer {region_code} removed")


@federation_app.command("work")
def federation_work(
    db: DbOption = None,
    once: bool = typer.Option(False, "--once", help="one pass, then exit"),
    interval: float = typer.Option(1.0, min=0.1, max=60, help="seconds between passes"),
) -> None:
    """The federation worker: refresh peers' lists, send the outbox, apply the inbox. Run one
    or more beside the web processes (on PostgreSQL a message is claimed by one only)."""
    from tongban.federation import worker

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    fed = _federation(settings)
    if once:
        typer.echo(worker.run_pass(_sessions(engine), fed).line())
        return
    worker.run_forever(_sessions(engine), fed, interval)


@federation_app.command("status")
def federation_status(db: DbOption = None) -> None:
    """Messages by peer and status, and the dead letters."""
    from tongban.federation import service

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with _sessions(engine)() as session:
        for o in service.overview(session):
            typer.echo(f"{o.peer_region}: out {o.outbox}, in {o.inbox}")
        for d in service.dead_letters(session):
            typer.echo(f"dead {d.direction} {d.id} {d.type} {d.stream}#{d.seq}: {d.last_error}")


@federation_app.command("skip")
def federation_skip(message_id: str, db: DbOption = None) -> None:
    """Set aside a message received that cannot be applied (audited); its stream goes on."""
    from tongban.errors import DomainError
    from tongban.federation import service

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    try:
        with _sessions(engine)() as session:
            service.skip(session, "system", message_id)
    except DomainError as exc:
        raise _fail(f"{exc.title_en}: {message_id}") from exc
    typer.echo(f"{message_id} set aside")


@federation_app.command("resend")
def federation_resend(
    peer: Annotated[str, typer.Option("--peer", help="the peer region that restored a backup")],
    since: Annotated[str, typer.Option("--since", help="when its backup was taken (ISO 8601)")],
    db: DbOption = None,
) -> None:
    """After a peer restored its database: send again what we sent it since the backup (it
    takes once what it still has)."""
    from datetime import UTC, datetime

    from tongban.federation import service

    try:
        moment = datetime.fromisoformat(since)
    except ValueError as exc:
        raise _fail(f"--since {since!r} is not an ISO 8601 time") from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with _sessions(engine)() as session:
        count = service.resend_since(session, "system", peer, moment)
    typer.echo(f"{count} messages to {peer} will go again")


@federation_app.command("prune")
def federation_prune(db: DbOption = None) -> None:
    """Forget delivered and applied messages older than the accepted age (daily)."""
    from tongban.federation import service

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    with _sessions(engine)() as session:
        out, inbox = service.prune(session, settings)
    typer.echo(f"forgot {out} sent and {inbox} received messages")


@federation_app.command("replay")
def federation_replay(
    direction: Annotated[str, typer.Argument(help="out (send again) or in (apply again)")],
    message_id: str,
    db: DbOption = None,
) -> None:
    """Send or apply a dead letter again (audited)."""
    from tongban.errors import DomainError
    from tongban.federation import service

    if direction not in ("in", "out"):
        raise _fail("direction is in or out")
    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    try:
        with _sessions(engine)() as session:
            service.replay(session, _federation(settings), "system", direction, message_id)
    except DomainError as exc:
        raise _fail(f"{exc.title_en}: {message_id}") from exc
    typer.echo(f"{message_id} will go again")


def _require_current_schema(engine: Engine) -> None:
    from tongban.migrate import is_current

    if not is_current(engine):
        raise _fail("the database schema is not current: run `tongban db upgrade` first")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    db: DbOption = None,
    workers: int = 1,
) -> None:
    """Serve the platform (the database must be migrated)."""
    import uvicorn

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    if workers > 1:
        # Several processes need an import string; they read the same settings from the env.
        import os

        os.environ["TONGBAN_DATABASE_URL"] = settings.database_url
        uvicorn.run("tongban.asgi:app", host=host, port=port, workers=workers)
        return
    from tongban.app import create_app

    uvicorn.run(create_app(settings, engine), host=host, port=port)


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    db: DbOption = None,
    no_serve: bool = typer.Option(False, "--no-serve", help="prepare the database and exit"),
    region: RegionOption = None,
) -> None:
    """Migrate, load the shipped catalog and demo data into a new database, and serve.

    The database is `--db FILE`, else TONGBAN_DATABASE_URL, else ./tongban.db. With
    `--region 320000` the node is Jiangsu's: its own catalog, keys and demo people (run it
    on another port and database, then `tongban peers add` on both).
    """
    from tongban.catalog.models import Matter
    from tongban.crypto.keys import keyring_for
    from tongban.db import make_sessionmaker, transaction
    from tongban.demodata import DEMO_REGIONS, load_demo
    from tongban.identity.service import claim_region, database_region
    from tongban.migrate import upgrade

    settings = _settings(db)
    if region is not None and region != settings.region_code:
        if database_region(_engine(settings)) is not None:
            raise _fail(f"the database belongs to region {settings.region_code}, not {region}")
        settings = _regional(settings, region)
    if settings.region_code not in DEMO_REGIONS:
        raise _fail(f"no demo data is shipped for region {settings.region_code}")
    engine = _engine(settings)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        claim_region(session, settings.region_code)
    _ensure_demo_keys(settings)
    with transaction(make_sessionmaker(engine)) as session:
        if session.scalar(select(func.count()).select_from(Matter)):
            typer.echo(f"using the existing data in {_where(settings)}")
        else:
            for line in load_demo(session, settings, keyring_for(settings)):
                typer.echo(line)
    if no_serve:
        return
    typer.echo(f"通办 Tongban serving on http://{host}:{port}  (Ctrl+C to stop)")
    import uvicorn

    from tongban.app import create_app

    # A demo has no authenticator app to hand: staff log in without a one-time code.
    demo_settings = settings.model_copy(update={"require_staff_otp": False})
    _start_prereview_thread(demo_settings, engine)
    application = create_app(demo_settings, engine)
    if application.state.federation is not None:
        from tongban.federation.worker import start_thread

        start_thread(_sessions(engine), application.state.federation)
    uvicorn.run(application, host=host, port=port)


@app.command()
def doctor(
    db: DbOption = None,
    deep: bool = typer.Option(False, "--deep", help="also load the OCR models (seconds)"),
    as_json: bool = typer.Option(False, "--json", help="the checks as a JSON list"),
) -> None:
    """Check this deployment's configuration: one line per check (ok, warn, error); exits 1
    when any check is an error."""
    from tongban import doctor as checks

    settings = get_settings()
    if db is not None:
        settings = settings.model_copy(update={"database_url": sqlite_url(db)})
    engine = _engine(settings)
    try:
        found = checks.run_checks(settings, engine, deep=deep)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([c._asdict() for c in found], ensure_ascii=False, indent=1))
    else:
        for check in found:
            typer.echo(checks.line(check))
        typer.echo(checks.summary(found))
    if checks.has_errors(found):
        raise typer.Exit(code=1)


def _ensure_demo_keys(settings: Settings) -> None:
    """A demo database gets its own random KEK beside it, so no secret lives in the repository."""
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.service import write_kek_file
    from tongban.db import make_sessionmaker, transaction
    from tongban.settings import demo_kek_path

    path = demo_kek_path(settings.database_url)
    if settings.kek is None and settings.kek_file is None and path and not path.exists():
        write_kek_file(path)
        typer.echo(f"generated a demo key-encryption key in {path}")
    from tongban.crypto.signing import SigningKeys
    from tongban.idcode.keys import CodeKeys

    with transaction(make_sessionmaker(_engine(settings))) as session:
        ring = keyring_for(settings)
        ring.ensure_keys(session)
        signing = SigningKeys(settings, ring)
        CodeKeys(signing).ensure(session)
        signing.ensure(session, "federation", signing.region_owner)


# -- keys rewrap: a new key-encryption key -----------------------------------------------------


@keys_app.command("rewrap")
def keys_rewrap(
    new_kek_file: Annotated[
        Path,
        typer.Option("--new-kek-file", help="the new KEK (base64 of 32 bytes), from the store"),
    ],
    db: DbOption = None,
) -> None:
    """A new key-encryption key: every data key wrapped again under it, in one transaction
    (no value is re-encrypted). The current KEK is the configured one; afterwards only the
    new one opens the node. Running it again changes nothing."""
    from tongban.audit.service import record
    from tongban.crypto.keys import configured_kek
    from tongban.crypto.service import KeyUnavailable, read_kek_file, rewrap_data_keys
    from tongban.db import make_sessionmaker, transaction

    settings = _settings(db)
    engine = _engine(settings)
    _require_current_schema(engine)
    try:
        current = configured_kek(settings)
        new = read_kek_file(new_kek_file)
    except (KeyUnavailable, OSError) as exc:
        raise _fail(f"nothing changed: {exc}") from exc
    try:
        with transaction(make_sessionmaker(engine)) as session:
            done = rewrap_data_keys(session, current, new)
            if done.rewrapped:
                record(
                    session,
                    actor="system",
                    action="keys.rewrap",
                    details={"from": done.old_kek, "to": done.new_kek, "keys": done.rewrapped},
                )
    except KeyUnavailable as exc:
        raise _fail(f"nothing changed: {exc}") from exc
    if done.rewrapped:
        typer.echo(
            f"{done.rewrapped} data keys wrapped under key-encryption key {new.id} "
            f"(was {current.id}); configure the new KEK and restart every process"
        )
    else:
        typer.echo(f"all {done.already} data keys already under key-encryption key {new.id}")


# -- backup: the database, the uploads and a manifest -----------------------------------------

backup_app = typer.Typer(
    help="Backups of the database and the uploads (the KEK is backed up in its secret store).",
    no_args_is_help=True,
)
app.add_typer(backup_app, name="backup")


@backup_app.command("create")
def backup_create(
    dest: Annotated[Path, typer.Argument(help="a new or empty folder for this backup")],
    db: DbOption = None,
    pg_dump: Annotated[
        str, typer.Option("--pg-dump", help="pg_dump to use (PostgreSQL)")
    ] = "pg_dump",
) -> None:
    """Copy the database (SQLite's online backup, or pg_dump), then the uploads folder, then
    write manifest.json (revision, region, the wrapped data keys and their KEK's id)."""
    from tongban.backup import BackupFailed, create_backup
    from tongban.settings import files_dir_for

    settings = _settings(db)
    engine = _engine(settings)
    try:
        made = create_backup(
            settings.database_url, engine, files_dir_for(settings), dest, pg_dump=pg_dump
        )
    except BackupFailed as exc:
        raise _fail(f"no backup: {exc}") from exc
    finally:
        engine.dispose()
    typer.echo(
        f"backup in {dest}: {made.backend} database at revision {made.revision} "
        f"({made.database_bytes} bytes), {made.files} uploaded files; data keys under "
        f"key-encryption key {', '.join(made.kek_ids)} (not in the backup: keep it in its store)"
    )


@backup_app.command("check")
def backup_check(
    folder: Annotated[Path, typer.Argument(help="a folder `tongban backup create` wrote")],
) -> None:
    """Is the backup whole, and does the configured KEK open its data keys? Exits 1 if not.
    Run it after each backup with the KEK from the secret store, and before a restore."""
    from tongban.backup import BackupFailed, check_backup
    from tongban.crypto.keys import configured_kek
    from tongban.crypto.service import KeyUnavailable

    settings = get_settings()
    try:
        kek = configured_kek(settings)
    except KeyUnavailable:
        kek = None
    try:
        checked = check_backup(folder, kek)
    except (BackupFailed, ValueError, TypeError) as exc:
        raise _fail(f"{folder}: {exc}") from exc
    m = checked.manifest
    typer.echo(
        f"{m.backend} backup of {m.created_at}, revision {m.revision}, region {m.region_code}, "
        f"{m.files} uploaded files, {len(m.data_keys)} data keys under {', '.join(m.kek_ids)}"
    )
    for problem in checked.problems:
        typer.echo(f"problem: {problem}", err=True)
    if not checked.ok:
        raise _fail(f"{len(checked.problems)} problem(s): this backup would not restore whole")
    typer.echo(f"ok: whole, and key-encryption key {kek.id if kek else ''} opens its data keys")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
