"""Template rendering shared by every feature's pages: one layout, one design system."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from tongban.catalog.schemas import AUDIENCE_LABELS, MATTER_KIND_LABELS
from tongban.portal.csrf import csrf_token_for, set_csrf_cookie

SESSION_COOKIE = "tb_session"  # the same name as tongban.access.SESSION_COOKIE

PORTAL_DIR = Path(__file__).resolve().parent
STATIC_DIR = PORTAL_DIR / "static"
TEMPLATE_DIRS = [PORTAL_DIR / "templates"]

templates = Jinja2Templates(directory=TEMPLATE_DIRS)
templates.env.globals.update(
    audience_labels=AUDIENCE_LABELS,
    kind_labels=MATTER_KIND_LABELS,
    handling_form_labels={
        "online": "网上办理",
        "window": "窗口办理",
        "post": "快递寄送",
        "appointment": "预约办理",
    },
    source_labels={"applicant": "申请人提供", "department": "部门核发", "license": "电子证照"},
    actor_labels={
        "applicant": "申请人",
        "window": "综合窗口",
        "department": "业务部门",
        "system": "系统",
    },
    hall_kind_labels={
        "district_center": "区行政服务中心",
        "street_center": "街镇社区事务受理服务中心",
        "specialized": "专门服务大厅",
    },
)

CHINA = timezone(timedelta(hours=8))


def local_time(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC moment as people here read it: Beijing time (no daylight saving)."""
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).strftime(fmt)


templates.env.filters["local_time"] = local_time

ELDER_COOKIE = "tb_mode"


def page_url(request: Request, page: int) -> str:
    """A link to another page of the same listing, relative: never built from the Host header."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    params.append(("page", str(page)))
    return "?" + urlencode(params)


templates.env.globals["page_url"] = page_url


def is_elder_mode(request: Request) -> bool:
    mode = request.query_params.get("mode") or request.cookies.get(ELDER_COOKIE)
    return mode == "elder"


def wants_html(request: Request) -> bool:
    """Portal paths get an HTML error page; the API and probes get problem+json."""
    path = request.url.path
    if path == "/api" or path.startswith(("/api/", "/healthz", "/readyz", "/static/")):
        return False
    return "text/html" in request.headers.get("accept", "") or path == "/" or "." not in path


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    settings = request.app.state.settings
    elder = is_elder_mode(request)
    csrf, new_csrf = csrf_token_for(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "elder": elder,
            "hotline": settings.hotline,
            "region_name": settings.region_name,
            "csrf_token": csrf,
            "logged_in": SESSION_COOKIE in request.cookies,
            **context,
        },
        status_code=status_code,
    )
    if new_csrf:
        set_csrf_cookie(request, response, csrf)
    mode = request.query_params.get("mode")
    if mode in ("elder", "standard"):
        # Remembered for a year: an elderly person should not have to find the switch again.
        response.set_cookie(
            ELDER_COOKIE, mode, max_age=365 * 24 * 3600, samesite="lax", httponly=True
        )
    return response


def render_error_page(
    request: Request, status: int, title: str, detail: str | None
) -> HTMLResponse:
    return render(
        request, "error.html", status_code=status, status=status, title=title, detail=detail
    )
