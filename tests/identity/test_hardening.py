"""What the security review found: races, replays, leaks and loops, each shown fixed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from tests.fixtures_identity import login
from tongban.audit.models import AuditEntry
from tongban.audit.service import record, verify
from tongban.crypto.service import Keyring
from tongban.db import make_sessionmaker, transaction
from tongban.errors import DomainError
from tongban.identity.models import Account
from tongban.identity.service import authenticate, enroll_otp, otp_now, refresh_tokens
from tongban.settings import Settings


def _attempt(engine: Engine, settings: Settings, password: str) -> str:
    session = make_sessionmaker(engine)()
    try:
        authenticate(session, settings, None, "citizen1", password, None)
        session.commit()
        return "ok"
    except DomainError as exc:
        session.commit()
        return exc.code
    finally:
        session.close()


def test_concurrent_wrong_passwords_still_lock_the_account(
    demo_engine: Engine, settings: Settings
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: _attempt(demo_engine, settings, "wrong"), range(12)))
    assert set(results) <= {"invalid_credentials", "account_locked"}
    assert _attempt(demo_engine, settings, "Demo@2026") == "account_locked"


def test_concurrent_audit_appends_keep_one_chain(demo_engine: Engine) -> None:
    def append(i: int) -> None:
        with transaction(make_sessionmaker(demo_engine)) as s:
            record(s, actor=f"account:{i}", action="test.append")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(append, range(24)))
    with transaction(make_sessionmaker(demo_engine)) as s:
        report = verify(s)
        assert report.ok, report.problems
        assert s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc())) == report.entries


def test_a_refresh_token_is_spent_once_under_concurrency(
    demo_engine: Engine, settings: Settings, app_client: TestClient
) -> None:
    refresh = login(app_client, "citizen2")["refresh_token"]

    def spend(_: int) -> str:
        session = make_sessionmaker(demo_engine)()
        try:
            refresh_tokens(session, settings, refresh)
            session.commit()
            return "ok"
        except DomainError as exc:
            session.commit()
            return exc.code
        except Exception:  # a writer that lost the race for the database lock
            session.rollback()
            return "busy"
        finally:
            session.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(spend, range(6)))
    assert results.count("ok") <= 1
    assert set(results) <= {"ok", "invalid_token", "busy"}


def test_a_one_time_code_works_once_and_wrong_codes_count(
    demo_engine: Engine, settings: Settings, keyring: Keyring
) -> None:
    strict = settings.model_copy(update={"require_staff_otp": True})
    with transaction(make_sessionmaker(demo_engine)) as s:
        account = s.scalars(select(Account).where(Account.username == "window1")).one()
        secret = enroll_otp(s, keyring, account)
    code = otp_now(secret)

    def attempt(otp: str) -> str:
        with make_sessionmaker(demo_engine)() as s:
            try:
                authenticate(s, strict, keyring, "window1", "Demo@2026", otp)
                s.commit()
                return "ok"
            except DomainError as exc:
                s.commit()
                return exc.code

    assert attempt(code) == "ok"
    assert attempt(code) == "invalid_credentials"  # replayed
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    for _ in range(4):
        assert attempt(wrong) == "invalid_credentials"
    assert attempt(wrong) == "account_locked"  # the replay and 4 wrong codes made 5 failures
    with transaction(make_sessionmaker(demo_engine)) as s:
        failures = [
            e.details
            for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login_failed"))
        ]
        assert sum(1 for d in failures if d.get("wrong") == "otp") >= 5


def test_a_typed_id_number_is_masked_in_the_audit_log(
    app_client: TestClient, demo_db: Session
) -> None:
    app_client.post("/api/v1/auth/token", json={"username": "310115198001010016", "password": "x"})
    details = [str(e.details) for e in demo_db.scalars(select(AuditEntry))]
    assert not any("310115198001010016" in d for d in details)
    assert any("310***********0016" in d for d in details)


def test_a_missing_head_is_reported(demo_db: Session) -> None:
    record(demo_db, actor="system", action="test.append")
    demo_db.execute(text("DELETE FROM audit_head"))
    demo_db.expire_all()
    assert "the chain's head is missing (removed with a cut tail?)" in verify(demo_db).problems


def test_nul_bytes_in_bodies_are_a_400(app_client: TestClient) -> None:
    r = app_client.post("/api/v1/auth/token", json={"username": "citizen1\u0000", "password": "x"})
    assert r.status_code == 400 and r.json()["code"] == "bad_request"
    r = app_client.post("/login", data={"username": "a\x00b", "password": "x"})
    assert r.status_code == 400
    r = app_client.post("/api/v1/auth/token", content=b"x" * (1024 * 1024 + 1))
    assert r.status_code == 413


def test_the_api_does_not_take_the_portal_cookie(app_client: TestClient) -> None:
    page = app_client.get("/login", headers={"accept": "text/html"})
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    app_client.post(
        "/login",
        data={"username": "citizen1", "password": "Demo@2026", "csrf_token": token},
        follow_redirects=False,
    )
    assert app_client.cookies.get("tb_session")
    assert app_client.get("/me", headers={"accept": "text/html"}).status_code == 200
    assert app_client.get("/api/v1/me").status_code == 401


def test_a_stale_session_cookie_does_not_loop(app_client: TestClient) -> None:
    app_client.cookies.set("tb_session", "revoked-or-made-up")
    r = app_client.get("/login", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 200 and 'name="password"' in r.text
    assert any(h.startswith("tb_session=") for h in r.headers.get_list("set-cookie"))


def test_agent_scopes_are_validated(app_client: TestClient) -> None:
    token = login(app_client, "citizen1")["access_token"]
    body = {"id_number": "11010519491231002X", "scope": ["x" * 1000], "days": 30}
    r = app_client.post(
        "/api/v1/me/agents", json=body, headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("scope")


def test_servers_follow_a_rotation(demo_db: Session, keyring: Keyring) -> None:
    keyring.active_ttl_seconds = 0
    before = keyring.encrypt(demo_db, "t.f", "x").split(".")[1]
    other = Keyring(keyring.kek, keyring.algorithm)
    new_id = other.rotate(demo_db)
    after = keyring.encrypt(demo_db, "t.f", "x").split(".")[1]
    assert before != after == str(new_id)
