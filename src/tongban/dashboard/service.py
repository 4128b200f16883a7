"""The dashboard's figures, gathered from each module's own service functions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tongban.cases import figures
from tongban.catalog.service import catalog_stats
from tongban.dashboard.schemas import (
    Dashboard,
    DayCount,
    Deadlines,
    Exemption,
    RatingFigures,
    Reduction,
)
from tongban.industry import service as industry
from tongban.onething import service as onething
from tongban.ratings import service as ratings

# The reductions a leader compares: the four the 一件事 and 一业一证 pages share.
REDUCED = ("materials", "days", "trips")


def dashboard(session: Session, today: date, period_days: int = 30) -> Dashboard:
    first = today - timedelta(days=period_days - 1)
    days = [DayCount.model_validate(d) for d in figures.daily_by_channel(session, first, today)]
    channel_totals = {c: sum(d.channels[c] for d in days) for c in figures.CHANNELS}
    reductions = _bundle_reductions(session) + _industry_reductions(session)
    return Dashboard(
        today=today,
        days=days,
        cases_in_period=sum(channel_totals.values()),
        channel_totals=channel_totals,
        deadlines=_deadlines(session, first, today),
        exemption=_exemption(session, first, today),
        reductions=reductions,
        average_reduction=_average(reductions),
        ratings=RatingFigures.model_validate(ratings.stats(session, ratings.Filters())),
    )


def _deadlines(session: Session, first: date, today: date) -> Deadlines:
    d = figures.deadlines(session, first, today)
    return Deadlines(
        decided=d.decided,
        on_time=d.on_time,
        on_time_rate=d.on_time_rate,
        open_overdue=d.open_overdue,
        open_warned=d.open_warned,
    )


def _exemption(session: Session, first: date, today: date) -> Exemption:
    stats = catalog_stats(session)
    m = figures.materials(session, first, today)
    return Exemption(
        catalog_rate=stats.exemption_rate,
        cases_total=m.total,
        cases_exempt=m.exempt,
        cases_rate=m.exempt_rate,
        by_resolution=m.by_resolution,
        prefillable_fields=stats.prefillable_fields,
        fields=stats.fields,
    )


def _bundle_reductions(session: Session) -> list[Reduction]:
    english = {row.entry.code: row.entry.name_en for row in onething.bundles(session)}
    return [
        _reduction(m, m["bundle"], english.get(m["bundle"]), "bundle")
        for m in onething.overview(session)["bundles"]
    ]


def _industry_reductions(session: Session) -> list[Reduction]:
    return [
        _reduction(
            industry.metrics(industry.checklist(session, row.entry.code, None)),
            row.entry.code,
            row.entry.name_en,
            "industry",
        )
        for row in industry.industries(session)
    ]


def _reduction(m: dict[str, Any], code: str, name_en: str | None, kind: str) -> Reduction:
    """One bundle's or industry's before and after (its fullest scenario), the compared keys."""
    return Reduction(
        code=code,
        name=m["name"],
        name_en=name_en,
        kind=kind,
        before={k: m["before"][k] for k in REDUCED},
        after={k: m["after"][k] for k in REDUCED},
        reduction={k: m["reduction"][k] for k in REDUCED},
    )


def _average(rows: list[Reduction]) -> dict[str, float | None]:
    average: dict[str, float | None] = {}
    for key in REDUCED:
        values = [r.reduction[key] for r in rows if r.reduction.get(key) is not None]
        average[key] = (
            round(sum(v for v in values if v is not None) / len(values), 4) if values else None
        )
    return average
