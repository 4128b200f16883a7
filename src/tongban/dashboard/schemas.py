"""The dashboard's document: what `GET /api/v1/dashboard` answers and the page draws."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class DayCount(BaseModel):
    day: date
    channels: dict[str, int] = Field(description="cases handed in that day, per channel")
    total: int


class Deadlines(BaseModel):
    decided: int = Field(description="cases decided in the period that had a promised day")
    on_time: int
    on_time_rate: float | None
    open_overdue: int = Field(description="open cases past their promised day")
    open_warned: int = Field(description="open cases marked 预警 (80% of their time used)")


class Exemption(BaseModel):
    catalog_rate: float = Field(description="免提交 by the catalog: department-issued materials")
    cases_total: int = Field(description="materials of the cases handed in in the period")
    cases_exempt: int = Field(description="of those, met by an e-license or shared data")
    cases_rate: float | None
    by_resolution: dict[str, int]
    prefillable_fields: int
    fields: int


class Reduction(BaseModel):
    code: str
    name: str
    name_en: str | None
    kind: str = Field(description="bundle (一件事) or industry (一业一证)")
    before: dict[str, int]
    after: dict[str, int]
    reduction: dict[str, float | None]


class RatingFigures(BaseModel):
    count: int
    satisfaction_rate: float | None
    bad: int
    rectification_rate: float | None
    on_time_rate: float | None
    levels: dict[str, int]


class Dashboard(BaseModel):
    today: date
    days: list[DayCount]
    cases_in_period: int
    channel_totals: dict[str, int]
    deadlines: Deadlines
    exemption: Exemption
    reductions: list[Reduction]
    average_reduction: dict[str, float | None]
    ratings: RatingFigures
