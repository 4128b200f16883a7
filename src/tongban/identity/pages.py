"""Portal pages of identity: log in, my profile and who used my data, log out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tongban.access import AUTHENTICATED, PUBLIC, SESSION_COOKIE, current_principal
from tongban.audit.service import data_usage
from tongban.deps import DbSession
from tongban.errors import DomainError
from tongban.identity import service
from tongban.identity.api import client_address, enforce_login_rate, keyring
from tongban.identity.service import Principal
from tongban.portal.csrf import verify_csrf
from tongban.portal.i18n import N_, Words
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)

# Who did it, by role: a person reads "the counter staff", not `window_staff`.
ROLE_LABELS = Words(
    {
        "citizen": N_("本人或家人"),
        "enterprise_agent": N_("企业经办人"),
        "window_staff": N_("窗口工作人员"),
        "reviewer": N_("部门审核人员"),
        "issuer": N_("发证人员"),
        "admin": N_("平台管理员"),
        "verifier": N_("扫码单位"),
        "region_peer": N_("外省地区平台"),
        "supervisor": N_("监督人员"),
        "system": N_("系统"),
    }
)
# What was done with a person's data, as the person reads it (looked up translated).
ACTION_LABELS = Words(
    {
        "person.read": N_("查看了您的个人信息"),
        "auth.login": N_("登录"),
        "auth.login_failed": N_("登录失败"),
        "counter.identify": N_("在窗口核验了您的身份"),
        "case.read": N_("查看了您的办件"),
        "case.file_read": N_("查看了您上传的材料"),
        "case.result_printed": N_("打印了您的纸质证照"),
        "proxy.authorize": N_("登记了代办授权"),
        "proxy.withdraw": N_("撤回了代办授权"),
        "agent.grant": N_("授权为企业经办人"),
        "code.paper_issued": N_("打印了纸质随申码"),
        "case.forwarded": N_("将您的申请转交外省（市）办理"),
        "federation.consent_given": N_("您授权从外省（市）调取数据"),
        "federation.fetched": N_("从外省（市）调取了您的电子证照"),
        "license.peer_used": N_("在办事中使用了您的外省（市）电子证照"),
        "license.shared_with_region": N_("向外省（市）提供了您的电子证照"),
        "person.record_shared_with_region": N_("向外省（市）提供了您的户籍信息"),
        "license.used_by_region": N_("外省（市）在办事中使用了您的电子证照"),
        "license.verified_for_region": N_("外省（市）核验了您的电子证照"),
    }
)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host` or `https://host` (an open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/me"


@router.get("/login", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
def login_page(request: Request, db: DbSession, next: str | None = None) -> Response:
    if current_principal(request, db) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    response = render(request, "identity/login.html", next=safe_next(next), error=None, username="")
    if SESSION_COOKIE in request.cookies:  # expired or revoked: forget it, or /me and /login
        response.delete_cookie(SESSION_COOKIE)  # would send the visitor back and forth
    return response


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
def login_submit(
    request: Request,
    db: DbSession,
    username: Annotated[str, Form(max_length=60)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str | None, Form()] = None,
    otp: Annotated[str | None, Form(max_length=6)] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    settings = request.app.state.settings
    try:
        enforce_login_rate(request)
        account = service.authenticate(
            db,
            settings,
            keyring(request),
            username,
            password,
            otp or None,
            client=client_address(request),
        )
    except DomainError as exc:
        db.commit()  # keep the failure count and its audit entry
        return render(
            request,
            "identity/login.html",
            status_code=exc.status,
            next=safe_next(next),
            error=exc,  # shown by its title in the page's language
            username=username,
            need_otp=exc.code == "otp_required",
        )
    token = service.open_portal_session(db, settings, account)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure or request.url.scheme == "https",
        max_age=settings.session_hours * 3600,
    )
    return response


@router.get("/me", response_class=HTMLResponse)
def me_page(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> Response:
    profile = service.me(db, keyring(request), principal)
    usage = data_usage(db, principal.person_id) if principal.person_id else []
    return render(
        request,
        "identity/me.html",
        me=profile,
        usage=usage,
        labels=ACTION_LABELS,
        roles=ROLE_LABELS,
    )


@router.post("/logout", response_class=HTMLResponse)
def logout_submit(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        service.revoke_token(db, cookie)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
