"""Who may call what. Every route declares one rule; a test walks the route table to be sure.

A rule is a FastAPI dependency: `dependencies=[Depends(PUBLIC)]` on a public router, or
`principal: Annotated[Principal, Depends(allow(Role.ADMIN))]` where the handler needs the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from tongban.errors import DomainError
from tongban.identity.schemas import Role
from tongban.identity.service import Principal, principal_for_token


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


SESSION_COOKIE = "tb_session"


def current_principal(request: Request, session: Session) -> Principal | None:
    """The caller, from a bearer token (API) or the session cookie (portal).

    A present but bad bearer token is an error, not anonymity; a stale cookie is just a
    logged-out visitor.
    """
    token = _bearer(request)
    if token is not None:
        return principal_for_token(session, token)
    if request.headers.get("authorization"):
        raise _unauthenticated()
    # The session cookie is for portal pages only: an API call must carry its bearer token, so a
    # page on another site cannot make a logged-in browser call the API.
    cookie = None if request.url.path.startswith("/api/") else request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            return principal_for_token(session, cookie, kind="session")
        except DomainError:
            return None
    return None


def _unauthenticated() -> DomainError:
    return DomainError(
        code="unauthenticated",
        title="请先登录",
        title_en="Authentication required",
        status=401,
    )


def _forbidden() -> DomainError:
    return DomainError(
        code="forbidden",
        title="无权访问",
        title_en="You may not do this",
        status=403,
    )


@dataclass(frozen=True)
class AccessRule:
    """public: anyone; authenticated: any logged-in account; roles: accounts with one of them."""

    kind: str
    roles: frozenset[str] = frozenset()

    def __call__(self, request: Request) -> Principal | None:
        if self.kind == "public":
            return None
        sessions = request.app.state.sessions
        with sessions() as session:
            principal = current_principal(request, session)
        if principal is None:
            raise _unauthenticated()
        if self.kind == "roles" and not any(r in self.roles for r, _ in principal.roles):
            raise _forbidden()
        request.state.principal = principal
        return principal

    def describe(self) -> str:
        return self.kind if self.kind != "roles" else "roles: " + ", ".join(sorted(self.roles))


PUBLIC = AccessRule("public")
AUTHENTICATED = AccessRule("authenticated")


def allow(*roles: Role) -> AccessRule:
    return AccessRule("roles", frozenset(r.value for r in roles))
