"""Portal pages of the catalog: home and search, the guide, departments and halls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tongban.access import SESSION_COOKIE, current_principal
from tongban.catalog import service
from tongban.catalog.rules import CASE_TYPE_LABELS
from tongban.catalog.schemas import AudienceFilter, DepartmentFilter, DistrictFilter, OnlineFilter
from tongban.deps import DbSession, ReadSession
from tongban.identity.schemas import Role
from tongban.portal.i18n import N_, Words, requested_language
from tongban.portal.rendering import is_elder_mode, render

router = APIRouter(include_in_schema=False)

# What people come for most; each is a search a person would type (the search stays in
# Chinese; the link's words are translated where shown).
POPULAR_SEARCHES = [
    N_("生孩子"),
    N_("办居住证"),
    N_("退休"),
    N_("开便利店"),
    N_("开餐馆"),
    N_("公司注册"),
    N_("结婚登记"),
    N_("护照"),
]

CASE_TYPE_WORDS = Words(CASE_TYPE_LABELS)


def districts_by_code(db: DbSession) -> dict[str, dict[str, str]]:
    """Every district by its code, with its English name, for `| local` in the templates."""
    return {d["code"]: d for d in service.list_districts(db)}


# 长辈版 shows fewer results a page: each card is twice as tall in large type, and a short
# list with a clear "next page" is easier to take in than a long scroll.
PAGE_SIZE = 20
ELDER_PAGE_SIZE = 8


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: ReadSession) -> HTMLResponse:
    stats = service.catalog_stats(db)
    return render(
        request,
        "catalog/home.html",
        stats=stats,
        popular=POPULAR_SEARCHES,
        districts=service.list_districts(db),
        bundles=service.list_bundles(db)[:4],
    )


@router.get("/matters", response_class=HTMLResponse)
def search_page(
    request: Request,
    db: ReadSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    audience: AudienceFilter = None,
    department: DepartmentFilter = None,
    district: DistrictFilter = None,
    online: OnlineFilter = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    params = service.SearchParams(
        q=q,
        audience=audience,
        department=department,
        district=district,
        online=online,
        page=page,
        size=ELDER_PAGE_SIZE if is_elder_mode(request) else PAGE_SIZE,
    )
    result = service.search_matters(db, params)
    pages = (result.total + result.size - 1) // result.size
    return render(
        request,
        "catalog/search.html",
        result=result,
        params=params,
        pages=pages,
        departments=[d for d in service.list_departments(db) if d.matters],
        districts=service.list_districts(db),
    )


@router.get("/matters/{code}", response_class=HTMLResponse)
def guide_page(
    request: Request,
    db: DbSession,
    code: str,
    version: Annotated[int | None, Query(ge=1)] = None,
    district: DistrictFilter = None,
) -> HTMLResponse:
    guide = service.get_guide(db, code, version)
    halls = [h for h in guide.halls if district is None or h.district == district]
    hall_districts = sorted({(h.district, h.district_name) for h in guide.halls})
    english = requested_language(request) == "en"
    return render(
        request,
        "catalog/guide.html",
        guide=guide,
        halls=halls,
        hall_districts=hall_districts,
        district=district,
        is_current=version is None or version == guide.versions[-1],
        case_type_labels=CASE_TYPE_WORDS,
        district_names=districts_by_code(db),
        in_english=service.guide_in_english(db, guide) if english else None,
        can_edit=_is_admin(request, db),
    )


def _is_admin(request: Request, db: DbSession) -> bool:
    """The guide is public; an administrator reading it also gets the link to edit it."""
    if SESSION_COOKIE not in request.cookies:
        return False
    principal = current_principal(request, db)
    return principal is not None and principal.has(Role.ADMIN)


@router.get("/catalog/stats", response_class=HTMLResponse)
def stats_page(request: Request, db: DbSession) -> HTMLResponse:
    return render(request, "catalog/stats.html", stats=service.catalog_stats(db))


@router.get("/departments", response_class=HTMLResponse)
def departments_page(request: Request, db: DbSession) -> HTMLResponse:
    return render(request, "catalog/departments.html", departments=service.list_departments(db))


@router.get("/departments/{code}", response_class=HTMLResponse)
def department_page(request: Request, db: DbSession, code: str) -> HTMLResponse:
    department = service.get_department(db, code)
    matters = service.search_matters(db, service.SearchParams(department=code, size=100))
    return render(
        request,
        "catalog/department.html",
        department=department,
        matters=matters,
        district_names=districts_by_code(db),
    )


@router.get("/halls", response_class=HTMLResponse)
def halls_page(
    request: Request,
    db: DbSession,
    district: DistrictFilter = None,
) -> HTMLResponse:
    districts = service.list_districts(db)
    return render(
        request,
        "catalog/halls.html",
        halls=service.list_halls(db, district=district),
        districts=districts,
        district_names={d["code"]: d for d in districts},
        district=district,
    )


@router.get("/halls/{code}", response_class=HTMLResponse)
def hall_page(request: Request, db: DbSession, code: str) -> HTMLResponse:
    return render(
        request,
        "catalog/hall.html",
        hall=service.get_hall(db, code),
        district_names=districts_by_code(db),
    )
