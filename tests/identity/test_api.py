"""Login, lockout, one-time codes, tokens (expiry, refresh, reuse, revocation), /me."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from tests.fixtures_identity import login
from tongban.app import create_app
from tongban.audit.models import AuditEntry
from tongban.audit.service import record
from tongban.crypto.service import Keyring
from tongban.db import make_sessionmaker, transaction, utcnow
from tongban.identity.models import Account, AuthToken, SystemFlag
from tongban.identity.service import enroll_otp, otp_now
from tongban.settings import Settings

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_login_and_me(app_client: TestClient) -> None:
    tokens = login(app_client, "citizen1")
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 15 * 60
    me = app_client.get("/api/v1/me", headers=bearer(tokens["access_token"])).json()
    assert me["username"] == "citizen1" and me["roles"] == [{"role": "citizen", "binding": ""}]
    assert "*" in me["person"]["id_number"] and "*" in me["person"]["phone"]
    assert len(me["person"]["id_number"]) == 18


def test_me_for_an_enterprise_agent_shows_the_enterprise(app_client: TestClient) -> None:
    tokens = login(app_client, "enterprise1")
    me = app_client.get("/api/v1/me", headers=bearer(tokens["access_token"])).json()
    assert me["enterprise"]["uscc"].startswith("91310") and me["enterprise"]["name"]
    agent_roles = [r for r in me["roles"] if r["role"] == "enterprise_agent"]
    assert len(agent_roles) == 1 and agent_roles[0]["binding"].isdigit()


def test_wrong_credentials_are_a_401_problem_that_reveals_nothing(app_client: TestClient) -> None:
    wrong = app_client.post("/api/v1/auth/token", json={"username": "citizen1", "password": "x"})
    nobody = app_client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"})
    for r in (wrong, nobody):
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
        assert r.json()["code"] == "invalid_credentials"
    assert wrong.json()["title"] == nobody.json()["title"]


def test_a_bad_body_is_a_422(app_client: TestClient) -> None:
    r = app_client.post("/api/v1/auth/token", json={"username": "citizen1"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    r = app_client.post(
        "/api/v1/auth/token", content=b"not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422


def test_lockout_after_repeated_failures(app_client: TestClient, demo_engine: Engine) -> None:
    for _ in range(5):
        r = app_client.post("/api/v1/auth/token", json={"username": "citizen2", "password": "bad"})
        assert r.status_code == 401
    r = app_client.post(
        "/api/v1/auth/token", json={"username": "citizen2", "password": "Demo@2026"}
    )
    assert r.status_code == 423 and r.json()["code"] == "account_locked"
    with transaction(make_sessionmaker(demo_engine)) as s:
        failures = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "auth.login_failed")
        ).all()
        assert len(failures) == 5
        s.execute(
            update(Account).where(Account.username == "citizen2").values(locked_until=utcnow())
        )
    login(app_client, "citizen2")  # the lock has run out


def test_a_demo_account_works_only_in_a_demo_database(
    app_client: TestClient, demo_engine: Engine
) -> None:
    with transaction(make_sessionmaker(demo_engine)) as s:
        s.execute(SystemFlag.__table__.delete())
    r = app_client.post("/api/v1/auth/token", json={"username": "admin", "password": "Demo@2026"})
    assert r.status_code == 401


def test_staff_need_a_one_time_code(
    demo_engine: Engine, settings: Settings, keyring: Keyring
) -> None:
    strict = settings.model_copy(update={"require_staff_otp": True})
    with TestClient(create_app(strict, demo_engine)) as c:
        r = c.post("/api/v1/auth/token", json={"username": "window1", "password": "Demo@2026"})
        assert r.status_code == 401 and r.json()["code"] == "otp_required"
        r = c.post(
            "/api/v1/auth/token",
            json={"username": "window1", "password": "Demo@2026", "otp": "123456"},
        )
        assert r.status_code == 403 and r.json()["code"] == "otp_not_enrolled"
        with transaction(make_sessionmaker(demo_engine)) as s:
            account = s.scalars(select(Account).where(Account.username == "window1")).one()
            secret = enroll_otp(s, c.app.state.keyring, account)  # type: ignore[attr-defined]
        good = otp_now(secret)
        wrong = f"{(int(good) + 1) % 1_000_000:06d}"
        r = c.post(
            "/api/v1/auth/token",
            json={"username": "window1", "password": "Demo@2026", "otp": wrong},
        )
        assert r.status_code == 401
        login(c, "window1", otp=good)
        login(c, "citizen1")  # citizens need no second factor


def test_tokens_expire_refresh_and_revoke(app_client: TestClient, demo_engine: Engine) -> None:
    first = login(app_client, "citizen1")
    # Refresh: a new pair; the old refresh token is spent.
    r = app_client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert app_client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200
    # Reusing the spent refresh token ends the whole family, the new tokens included.
    r = app_client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    assert app_client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 401
    # Expiry.
    third = login(app_client, "citizen1")
    with transaction(make_sessionmaker(demo_engine)) as s:
        s.execute(update(AuthToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = app_client.get("/api/v1/me", headers=bearer(third["access_token"]))
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    # Logout.
    fourth = login(app_client, "citizen1")
    assert (
        app_client.post("/api/v1/auth/logout", headers=bearer(fourth["access_token"])).status_code
        == 200
    )
    assert app_client.get("/api/v1/me", headers=bearer(fourth["access_token"])).status_code == 401
    r = app_client.post("/api/v1/auth/refresh", json={"refresh_token": fourth["refresh_token"]})
    assert r.status_code == 401


def test_anonymous_and_malformed_credentials(app_client: TestClient) -> None:
    r = app_client.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    r = app_client.get("/api/v1/me", headers={"authorization": "Basic abc"})
    assert r.status_code == 401
    r = app_client.get("/api/v1/me", headers=bearer("made-up-token"))
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


def test_login_is_rate_limited(demo_engine: Engine, settings: Settings) -> None:
    tight = settings.model_copy(update={"login_rate_per_minute": 3})
    with TestClient(create_app(tight, demo_engine)) as c:
        for _ in range(3):
            c.post("/api/v1/auth/token", json={"username": "citizen1", "password": "bad"})
        r = c.post("/api/v1/auth/token", json={"username": "citizen1", "password": "Demo@2026"})
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"


def test_a_person_sees_who_used_their_data(app_client: TestClient, demo_engine: Engine) -> None:
    tokens = login(app_client, "citizen1")
    with transaction(make_sessionmaker(demo_engine)) as s:
        person_id = s.scalars(select(Account.person_id).where(Account.username == "citizen1")).one()
        record(
            s,
            actor="account:4",
            actor_role="window_staff",
            action="person.read",
            data_subject=person_id,
            reason="窗口受理办件",
        )
    usage = app_client.get("/api/v1/me/data-usage", headers=bearer(tokens["access_token"])).json()
    assert [(u["action"], u["reason"]) for u in usage] == [("person.read", "窗口受理办件")]
    other = login(app_client, "citizen2")
    assert (
        app_client.get("/api/v1/me/data-usage", headers=bearer(other["access_token"])).json() == []
    )


def test_security_headers(app_client: TestClient) -> None:
    for path in ("/", "/api/v1/matters", "/api/v1/me"):
        r = app_client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in r.headers["content-security-policy"]
