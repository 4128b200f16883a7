"""一业一证: an industry's checklist (一单告知) and its reductions, computed from the permits'
matters with the same planner as the 一件事 bundles: which permits apply for the answers, one
merged form, one merged material list, one time limit.

Before: each permit applied for on its own (its own application, form, materials, time and
license). After: one application, one form, the merged materials still to hand in, one time
limit (the district's 一业一证 promise where the catalog has that matter; else the slowest
permit, since the departments review in parallel) and one comprehensive license.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tongban.catalog.schemas import Audience, BundleIn, BundleMatterIn, IndustryIn
from tongban.catalog.service import (
    IndustryRow,
    get_industry,
    list_industries,
    matter_case_facts,
    plan_matters,
)
from tongban.errors import DomainError, FieldError, validation_failed
from tongban.onething.plan import (
    AnswersInvalid,
    Plan,
    build_plan,
    check_answers,
    fullest_answers,
    reduction,
)

# domain.md: Pudong's convenience store, reported before and after 一业一证. Shown beside ours
# for that industry; never used to compute anything.
REPORTED = {
    "convenience-store": {
        "before": {"materials": 53, "forms": 9, "applications": 5, "days": 95},
        "after": {"materials": 10, "forms": 1, "applications": 1, "days": 5},
    }
}
_PROBLEMS = {
    "missing": "请回答此问题",
    "not_an_option": "答案不在可选范围内",
    "unknown_question": "没有这个问题",
}


def industries(session: Session, q: str | None = None) -> list[IndustryRow]:
    """Every industry; with `q`, those whose name or what people call it matches what was
    typed (开便利店 finds 便利店, and so does 便利店)."""
    rows = list_industries(session)
    text = (q or "").strip()
    if not text:
        return rows
    return [r for r in rows if _matches(r.entry, text)]


def _matches(ind: IndustryIn, text: str) -> bool:
    names = [ind.name, *ind.aliases]
    return any(n in text or text in n for n in names)


def industry(session: Session, code: str) -> IndustryRow:
    return get_industry(session, code)


def as_bundle(ind: IndustryIn) -> BundleIn:
    """The industry's permits as the planner's bundle: no permit waits for another (一标核准:
    the departments review their parts in parallel). Built without re-validation: the catalog
    checked the industry when it was loaded."""
    return BundleIn.model_construct(
        code=ind.code,
        name=ind.name,
        name_en=ind.name_en,
        audience=Audience.ENTERPRISE,
        lead_department=ind.lead_department,
        description=ind.description,
        keywords=list(ind.aliases),
        questions=list(ind.questions),
        matters=[BundleMatterIn(matter=p.matter, when=p.when) for p in ind.permits],
        assumptions=dict(ind.assumptions),
    )


@dataclass(frozen=True)
class Checklist:
    """一单告知: what the business needs for these answers."""

    industry: IndustryIn
    plan: Plan
    days: int  # the one time limit
    days_from: str  # application | parallel

    def scope(self, code: str) -> str:
        return next(p.scope for p in self.industry.permits if p.matter == code)


def checklist(session: Session, code: str, answers: Mapping[str, str] | None) -> Checklist:
    ind = get_industry(session, code).entry
    bundle = as_bundle(ind)
    try:
        checked = fullest_answers(bundle) if answers is None else check_answers(bundle, answers)
    except AnswersInvalid as exc:
        raise validation_failed(
            [FieldError(f"answers.{q}", _PROBLEMS[p], p) for q, p in exc.problems]
        ) from exc
    facts = plan_matters(session, [p.matter for p in ind.permits])
    missing = [p.matter for p in ind.permits if p.matter not in facts]
    if missing:
        raise DomainError(
            code="industry_matter_missing",
            title="该行业的许可事项不在事项库中",
            title_en="A permit of this industry is not in the catalog",
            status=409,
            detail=", ".join(missing),
        )
    plan = build_plan(bundle, checked, facts)
    if ind.application is not None:
        days, source = matter_case_facts(session, ind.application).promised_days, "application"
    else:
        days, source = max((t.days for t in plan.tasks), default=0), "parallel"
    return Checklist(ind, plan, days, source)


def metrics(c: Checklist) -> dict[str, Any]:
    """Before and after, with the arithmetic per permit."""
    tasks = c.plan.tasks
    n = len(tasks)
    before = {
        "permits": n,
        "applications": n,
        "forms": n,
        "materials": c.plan.before.materials,
        "days": c.plan.before.days,
        "trips": c.plan.before.trips,
    }
    after = {
        "permits": 1 if n else 0,
        "applications": 1 if n else 0,
        "forms": 1 if n else 0,
        "materials": c.plan.after.materials,
        "days": c.days,
        "trips": c.plan.after.trips,
    }
    return {
        "industry": c.industry.code,
        "name": c.industry.name,
        "answers": c.plan.answers,
        "before": before,
        "after": after,
        "reduction": {k: reduction(v, after[k]) for k, v in before.items()},
        "days_from": c.days_from,
        "per_permit": [{**row, "scope": c.scope(str(row["code"]))} for row in c.plan.per_matter],
        "reported": REPORTED.get(c.industry.code),
    }


def checklist_document(c: Checklist) -> dict[str, Any]:
    plan = c.plan
    return {
        "industry": c.industry.code,
        "answers": plan.answers,
        "permits": [
            {
                "code": t.code,
                "name": t.name,
                "department": t.department_name,
                "days": t.days,
                "scope": c.scope(t.code),
            }
            for t in plan.tasks
        ],
        "not_needed": list(plan.skipped),
        "days": c.days,
        "days_from": c.days_from,
        "fields": [
            {"key": f.key, "label": f.label, "required": f.required, "prefillable": f.prefillable}
            for f in plan.asked_fields()
        ],
        "materials": [
            {"identity": m.identity, "name": m.name, "required": m.required, "via": m.via}
            for m in plan.materials
        ],
        "trips": plan.after.trips,
    }


def summary(row: IndustryRow) -> dict[str, Any]:
    ind = row.entry
    return {
        "code": ind.code,
        "name": ind.name,
        "name_en": ind.name_en,
        "aliases": ind.aliases,
        "lead_department": ind.lead_department,
        "application": ind.application,
        "license_type": ind.license_type,
        "description": ind.description,
        "permits": len(ind.permits),
        "questions": [
            {
                "key": q.key,
                "text": q.text,
                "text_en": q.text_en,
                "help": q.help,
                "options": [o.model_dump() for o in q.options],
            }
            for q in ind.questions
        ],
        "version": row.version,
        "assumptions": ind.assumptions,
    }
