"""CSRF protection for portal forms: a double-submit token.

Every page that renders a form puts the visitor's `tb_csrf` cookie value into a hidden field;
a POST is accepted only when the field matches the cookie. Another site can make a browser send
the cookie, but cannot read it to fill in the field. (The cookie is also SameSite=Lax.)
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from tongban.errors import DomainError

CSRF_COOKIE = "tb_csrf"
CSRF_FIELD = "csrf_token"


def csrf_token_for(request: Request) -> tuple[str, bool]:
    """The visitor's token, and whether it is new (and so must be set as a cookie)."""
    current = request.cookies.get(CSRF_COOKIE)
    if current and 20 <= len(current) <= 100:
        return current, False
    return secrets.token_urlsafe(32), True


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=24 * 3600,
    )


def verify_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    # Compared as bytes: compare_digest refuses non-ASCII text with a TypeError.
    if not cookie or not submitted or not hmac.compare_digest(cookie.encode(), submitted.encode()):
        raise DomainError(
            code="csrf_failed",
            title="页面已过期，请返回重新提交",
            title_en="The form has expired or did not come from this site; please try again",
            status=403,
        )
