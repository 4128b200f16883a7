"""Documents of the calendar API."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field


class DayIn(BaseModel):
    date: date
    kind: Literal["holiday", "workday"]
    name: str = Field(min_length=1, max_length=60)


class YearIn(BaseModel):
    days: list[DayIn] = Field(max_length=120, description="holidays on weekdays, 调休 workdays")


class YearOut(BaseModel):
    year: int
    source: str
    days: list[DayIn]
