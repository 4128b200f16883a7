"""HTTP API of the catalog: a thin layer over `catalog.service`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from tongban.catalog import service
from tongban.catalog.schemas import (
    AudienceFilter,
    CatalogStats,
    DepartmentFilter,
    DepartmentOut,
    DistrictFilter,
    GuideOut,
    HallKindFilter,
    HallOut,
    KindFilter,
    MatterPage,
    OnlineFilter,
)
from tongban.deps import ReadSession

router = APIRouter(prefix="/api/v1", tags=["catalog"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "problem+json with code matter_not_found and the like"}
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "problem+json with code validation_failed naming each parameter"}
}


@router.get("/matters", response_model=MatterPage, responses=_INVALID, summary="Search matters")
def search_matters(
    db: ReadSession,
    q: Annotated[str | None, Query(max_length=100, description="what the person typed")] = None,
    audience: AudienceFilter = None,
    department: Annotated[DepartmentFilter, Query(description="department code")] = None,
    district: Annotated[DistrictFilter, Query(description="district code, e.g. 310115")] = None,
    online: Annotated[OnlineFilter, Query(description="fully online (全程网办) only")] = None,
    kind: KindFilter = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> MatterPage:
    params = service.SearchParams(
        q=q,
        audience=audience,
        department=department,
        district=district,
        online=online,
        kind=kind.value if kind else None,
        page=page,
        size=size,
    )
    return service.search_matters(db, params)


@router.get(
    "/matters/{code}",
    response_model=GuideOut,
    responses={**_NOT_FOUND, **_INVALID},
    summary="The guide (办事指南) of a matter",
)
def get_guide(
    db: ReadSession,
    code: str,
    version: Annotated[int | None, Query(ge=1, description="an earlier published version")] = None,
) -> GuideOut:
    return service.get_guide(db, code, version)


@router.get("/catalog/stats", response_model=CatalogStats, summary="Catalog statistics")
def catalog_stats(db: ReadSession) -> CatalogStats:
    return service.catalog_stats(db)


@router.get("/departments", response_model=list[DepartmentOut], summary="Departments")
def list_departments(db: ReadSession) -> list[DepartmentOut]:
    return service.list_departments(db)


@router.get("/departments/{code}", response_model=DepartmentOut, responses=_NOT_FOUND)
def get_department(db: ReadSession, code: str) -> DepartmentOut:
    return service.get_department(db, code)


@router.get("/halls", response_model=list[HallOut], responses=_INVALID, summary="Service halls")
def list_halls(
    db: ReadSession,
    district: DistrictFilter = None,
    kind: HallKindFilter = None,
) -> list[HallOut]:
    return service.list_halls(db, district, kind.value if kind else None)


@router.get("/halls/{code}", response_model=HallOut, responses=_NOT_FOUND)
def get_hall(db: ReadSession, code: str) -> HallOut:
    return service.get_hall(db, code)


@router.get("/license-types", summary="The license catalog (证照目录): types, codes, issuers")
def license_types(db: ReadSession) -> list[dict[str, str]]:
    return service.license_types(db)


@router.get("/districts", summary="Districts of the region")
def list_districts(db: ReadSession) -> list[dict[str, str]]:
    return service.list_districts(db)
