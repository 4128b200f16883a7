"""Portal login with a session cookie, CSRF-protected forms, my page, logout."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

HTML = {"accept": "text/html"}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def portal_login(client: TestClient, username: str = "citizen1", password: str = "Demo@2026"):  # type: ignore[no-untyped-def]
    page = client.get("/login", headers=HTML)
    token = csrf_of(page.text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/me"},
        headers=HTML,
        follow_redirects=False,
    )


def test_the_login_form_carries_a_csrf_token(app_client: TestClient) -> None:
    r = app_client.get("/login", headers=HTML)
    assert r.status_code == 200 and 'name="password"' in r.text
    assert csrf_of(r.text) == app_client.cookies.get("tb_csrf")
    assert "<script" not in r.text


def test_a_post_without_the_token_is_refused(app_client: TestClient) -> None:
    app_client.get("/login", headers=HTML)
    r = app_client.post(
        "/login", data={"username": "citizen1", "password": "Demo@2026"}, headers=HTML
    )
    assert r.status_code == 403 and "页面已过期" in r.text
    r = app_client.post(
        "/login",
        data={"username": "citizen1", "password": "Demo@2026", "csrf_token": "x" * 40},
        headers=HTML,
    )
    assert r.status_code == 403


def test_login_sets_a_safe_session_cookie_and_my_page_is_masked(app_client: TestClient) -> None:
    r = portal_login(app_client)
    assert r.status_code == 303 and r.headers["location"] == "/me"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("tb_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = app_client.get("/me", headers=HTML)
    assert page.status_code == 200 and "我的数据使用记录" in page.text
    ids = re.findall(r"\b[0-9]{17}[0-9X]\b", page.text)
    assert ids == []  # no whole ID number on the page
    assert "***********" in page.text


def test_wrong_password_shows_the_form_again(app_client: TestClient) -> None:
    r = portal_login(app_client, password="wrong")
    assert r.status_code == 401 and "用户名或密码错误" in r.text and 'value="citizen1"' in r.text


def test_my_page_needs_a_login(app_client: TestClient) -> None:
    r = app_client.get("/me", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/me"


def test_logout_ends_the_session(app_client: TestClient) -> None:
    portal_login(app_client)
    page = app_client.get("/me", headers=HTML)
    r = app_client.post(
        "/logout", data={"csrf_token": csrf_of(page.text)}, headers=HTML, follow_redirects=False
    )
    assert r.status_code == 303
    r = app_client.get("/me", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_the_next_page_is_never_another_site(app_client: TestClient) -> None:
    page = app_client.get("/login", headers=HTML)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = app_client.post(
            "/login",
            data={
                "username": "citizen2",
                "password": "Demo@2026",
                "csrf_token": csrf_of(page.text),
                "next": target,
            },
            headers=HTML,
            follow_redirects=False,
        )
        assert r.headers["location"] == "/me"
        app_client.cookies.delete("tb_session")


def test_a_failed_login_in_english_says_why_in_english(app_client: TestClient) -> None:
    page = app_client.get("/login?lang=en", headers=HTML)
    assert "Log in to One-Stop Government Services" in page.text
    r = app_client.post(
        "/login",
        data={"username": "citizen1", "password": "wrong", "csrf_token": csrf_of(page.text)},
        headers=HTML,
    )
    assert r.status_code == 401 and "Wrong username or password" in r.text
    assert "用户名或密码错误" not in r.text
