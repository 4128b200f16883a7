"""Template rendering shared by every feature's pages: one layout, one design system."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import escape

from tongban.catalog.schemas import AUDIENCE_LABELS, MATTER_KIND_LABELS
from tongban.common.regions import REGION_NAMES_EN
from tongban.portal.csrf import csrf_token_for, set_csrf_cookie
from tongban.portal.i18n import (
    HTML_LANG,
    LANG_COOKIE,
    LANGUAGES,
    N_,
    Words,
    bilingual,
    catalog,
    field_message,
    gettext,
    local,
    ngettext,
    requested_language,
    speaking,
)

SESSION_COOKIE = "tb_session"  # the same name as tongban.access.SESSION_COOKIE

PORTAL_DIR = Path(__file__).resolve().parent
STATIC_DIR = PORTAL_DIR / "static"
TEMPLATE_DIRS = [PORTAL_DIR / "templates"]

templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(TEMPLATE_DIRS), autoescape=True, extensions=["jinja2.ext.i18n"]
    )
)
# Translations are looked up in the language of the request being rendered (a context
# variable), so one environment serves every language.


def _template_gettext(message: str) -> str:
    """`_()` in a template. Jinja marks what it returns as safe HTML and formats it with `%`,
    which is right for the texts we wrote and wrong for a runtime text passed as a variable
    (a record's words, a message quoting what someone typed): that one is escaped here and its
    `%` doubled, so it reads as written and can neither inject markup nor break the page."""
    if message in catalog("en"):
        return gettext(message)
    return str(escape(message)).replace("%", "%%")


def _template_ngettext(singular: str, plural: str, n: int) -> str:
    if singular in catalog("en"):
        return ngettext(singular, plural, n)
    return str(escape(singular if n == 1 else plural)).replace("%", "%%")


templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    _template_gettext, _template_ngettext, newstyle=True
)
templates.env.filters["bi"] = bilingual
templates.env.filters["local"] = local
templates.env.globals["field_message"] = field_message
templates.env.globals.update(
    audience_labels=AUDIENCE_LABELS,
    kind_labels=MATTER_KIND_LABELS,
    handling_form_labels=Words(
        {
            "online": N_("网上办理"),
            "window": N_("窗口办理"),
            "post": N_("快递寄送"),
            "appointment": N_("预约办理"),
        }
    ),
    source_labels=Words(
        {"applicant": N_("申请人提供"), "department": N_("部门核发"), "license": N_("电子证照")}
    ),
    actor_labels=Words(
        {
            "applicant": N_("申请人"),
            "window": N_("综合窗口"),
            "department": N_("业务部门"),
            "system": N_("系统"),
        }
    ),
    hall_kind_labels=Words(
        {
            "district_center": N_("区行政服务中心"),
            "street_center": N_("街镇社区事务受理服务中心"),
            "specialized": N_("专门服务大厅"),
        }
    ),
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
    language = requested_language(request)
    csrf, new_csrf = csrf_token_for(request)
    with speaking(language):
        response: HTMLResponse = templates.TemplateResponse(
            request,
            template,
            {
                "elder": elder,
                "lang": language,
                "html_lang": HTML_LANG[language],
                "hotline": settings.hotline,
                "region_name": _region_name(settings, language),
                "csrf_token": csrf,
                "logged_in": SESSION_COOKIE in request.cookies,
                **context,
            },
            status_code=status_code,
        )
    if new_csrf:
        set_csrf_cookie(request, response, csrf)
    _remember_choices(request, response)
    return response


def _region_name(settings: Any, language: str) -> str:
    if language == "en":
        return REGION_NAMES_EN.get(settings.region_code, str(settings.region_name))
    return str(settings.region_name)


def _remember_choices(request: Request, response: HTMLResponse) -> None:
    # Remembered for a year: an elderly person should not have to find the switch again.
    year = 365 * 24 * 3600
    mode = request.query_params.get("mode")
    if mode in ("elder", "standard"):
        response.set_cookie(ELDER_COOKIE, mode, max_age=year, samesite="lax", httponly=True)
    language = request.query_params.get("lang")
    if language in LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, max_age=year, samesite="lax", httponly=True)
    response.headers["Content-Language"] = HTML_LANG[requested_language(request)]
    response.headers["Vary"] = "Accept-Language, Cookie"


def render_error_page(
    request: Request, status: int, title: str, detail: str | None, title_en: str | None = None
) -> HTMLResponse:
    """The friendly page for an error; in English its English title (every error has one)."""
    if title_en and requested_language(request) == "en":
        title, detail = title_en, None if detail and _has_chinese(detail) else detail
    return render(
        request, "error.html", status_code=status, status=status, title=title, detail=detail
    )


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
