"""Portal pages of the catalog: home and search, the guide, departments and halls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tongban.catalog import service
from tongban.catalog.schemas import AudienceFilter, DepartmentFilter, DistrictFilter, OnlineFilter
from tongban.deps import DbSession
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)

# What people come for most; each is a search a person would type.
POPULAR_SEARCHES = [
    "生孩子",
    "办居住证",
    "退休",
    "开便利店",
    "开餐馆",
    "公司注册",
    "结婚登记",
    "护照",
]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: DbSession) -> HTMLResponse:
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
    db: DbSession,
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
        size=20,
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
    return render(
        request,
        "catalog/guide.html",
        guide=guide,
        halls=halls,
        hall_districts=hall_districts,
        district=district,
        is_current=version is None or version == guide.versions[-1],
    )


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
    return render(request, "catalog/department.html", department=department, matters=matters)


@router.get("/halls", response_class=HTMLResponse)
def halls_page(
    request: Request,
    db: DbSession,
    district: DistrictFilter = None,
) -> HTMLResponse:
    return render(
        request,
        "catalog/halls.html",
        halls=service.list_halls(db, district=district),
        districts=service.list_districts(db),
        district=district,
    )


@router.get("/halls/{code}", response_class=HTMLResponse)
def hall_page(request: Request, db: DbSession, code: str) -> HTMLResponse:
    return render(request, "catalog/hall.html", hall=service.get_hall(db, code))
