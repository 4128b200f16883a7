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
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.cases.models import Case
from tongban.catalog.schemas import Audience, BundleIn, BundleMatterIn, IndustryIn
from tongban.catalog.service import (
    IndustryRow,
    get_industry,
    license_type_facts,
    list_industries,
    matter_case_facts,
    plan_matters,
)
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.identity.models import Enterprise
from tongban.identity.service import Principal
from tongban.licenses import service as licenses
from tongban.licenses.document import STATUS_LABELS
from tongban.licenses.models import License
from tongban.licenses.service import Registry
from tongban.notify.service import already_told, notify
from tongban.onething import service as onething
from tongban.onething.models import BundleCase
from tongban.onething.plan import (
    Plan,
    applies,
    build_plan,
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


def as_bundle(ind: IndustryIn, only: set[str] | None = None, *, ask: bool = True) -> BundleIn:
    """The industry's permits as the planner's bundle: no permit waits for another (一标核准:
    the departments review their parts in parallel). `only`: just these permits (a change or a
    renewal); `ask=False`: no questions (a renewal reviews what the license carries). Built
    without re-validation: the catalog checked the industry when it was loaded."""
    return BundleIn.model_construct(
        code=ind.code,
        name=ind.name,
        name_en=ind.name_en,
        audience=Audience.ENTERPRISE,
        lead_department=ind.lead_department,
        description=ind.description,
        keywords=list(ind.aliases),
        questions=list(ind.questions) if ask else [],
        matters=[
            BundleMatterIn(matter=p.matter, when=p.when if ask else [])
            for p in ind.permits
            if only is None or p.matter in only
        ],
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
    if answers is None:
        checked = fullest_answers(bundle)
    else:
        checked = onething.checked_answers(bundle, answers)
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
    slowest = max((t.days for t in plan.tasks), default=0)
    days, source = slowest, "parallel"
    if ind.application is not None:
        # The district's promise for the whole application, unless every permit that applies
        # is quicker (the departments review in parallel).
        promised = matter_case_facts(session, ind.application).promised_days
        if promised <= slowest:
            days, source = promised, "application"
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


# ---------------------------------------------------------------------------------------------
# Applying: one application, each permit's department reviews its part, one license
# ---------------------------------------------------------------------------------------------

KINDS = {"industry": "申请", "industry_change": "变更", "industry_renewal": "延续"}


@dataclass(frozen=True)
class ApplyRequest:
    industry: str
    uscc: str
    answers: dict[str, str]
    channel: str = "web"
    idempotency_key: str | None = None
    delivery: str | None = None
    delivery_address: str | None = None
    amends: str | None = None  # a change: the current license it adds permits to
    renew: bool = False  # with `amends`: a renewal of that license


def apply(session: Session, reg: Registry, principal: Principal, req: ApplyRequest) -> BundleCase:
    """一表申请: a draft with one task per permit, each for its own department; the lead
    department's counter accepts it. A change reviews only the permits it adds; a renewal
    reviews every permit the license carries."""
    if req.renew and req.amends is None:
        raise validation_failed([FieldError("amends", "延续须指明要延续的许可证", "missing")])
    kind = "industry" if req.amends is None else KIND_RENEWAL if req.renew else KIND_CHANGE
    start = onething.StartRequest(
        bundle=req.industry,
        answers={} if kind == KIND_RENEWAL else dict(req.answers),
        channel=req.channel,
        uscc=req.uscc,
        idempotency_key=req.idempotency_key,
        delivery=req.delivery,
        delivery_address=req.delivery_address,
        kind=kind,
        amends=req.amends,
    )
    # A retry returns the first case, even once that case has made the license non-current.
    earlier = onething.replay(session, principal, start)
    if earlier is not None:
        return earlier
    row = get_industry(session, req.industry)
    ind = row.entry
    carried: list[dict[str, Any]] | None = None
    bundle = as_bundle(ind)
    if req.amends is not None:
        previous = _licensed_case(session, principal, ind, req.amends, req.uscc)
        _refuse_if_amending(session, req.amends)
        carried = list(previous.carried or [])
        held = {c["code"] for c in carried}
        if req.renew:
            bundle = as_bundle(ind, held, ask=False)
        else:
            bundle = as_bundle(ind, _added_permits(bundle, req.answers, held))
    return onething.start_case(session, reg, principal, start, bundle, row.version, carried=carried)


KIND_CHANGE, KIND_RENEWAL = "industry_change", "industry_renewal"


def _added_permits(bundle: BundleIn, answers: Mapping[str, str], held: set[str]) -> set[str]:
    """A change: the permits these answers need that the license does not carry yet."""
    checked = onething.checked_answers(bundle, answers)
    added = {m.matter for m in bundle.matters if applies(m, checked)} - held
    if not added:
        raise DomainError(
            code="nothing_to_change",
            title="许可证已载明这些经营内容，无需变更",
            title_en="The license already carries every permit these answers need",
            status=422,
        )
    return added


def _versions(session: Session, identifier: str) -> list[License]:
    """Every version of the license this identifier is one version of, oldest first."""
    row = licenses.find_license(session, identifier)
    if row is None:
        return []
    return list(
        session.scalars(
            select(License)
            .where(
                License.serial == row.serial,
                License.type_id == row.type_id,
                License.issuer_id == row.issuer_id,
            )
            .order_by(License.version)
        )
    )


def amendment_in_progress(
    session: Session, identifier: str, other_than: int | None = None
) -> BundleCase | None:
    """The submitted change or renewal of this license (any version of it) not yet decided."""
    identifiers = [r.identifier for r in _versions(session, identifier)]
    query = select(BundleCase).where(
        BundleCase.status == "in_progress",
        BundleCase.kind.in_((KIND_CHANGE, KIND_RENEWAL)),
        BundleCase.amends.in_(identifiers),
    )
    if other_than is not None:
        query = query.where(BundleCase.id != other_than)
    return session.scalars(query).first()


def _refuse_if_amending(session: Session, identifier: str, other_than: int | None = None) -> None:
    """One change or renewal at a time: the license gets one new version from each, and a
    second would amend a version that the first has already replaced."""
    open_case = amendment_in_progress(session, identifier, other_than)
    if open_case is not None:
        raise DomainError(
            code="change_in_progress",
            title="该许可证已有正在办理的变更或延续，请待其办结后再申请",
            title_en="A change or renewal of this license is in progress; wait until it ends",
            status=409,
            extra={"bundle_case": open_case.id},
        )


def check_submittable(session: Session, bc: BundleCase) -> None:
    """Before a change or renewal is handed in: the license it amends is still the current,
    valid version and nothing else is amending it. The license row is locked so that two
    submissions for it take turns."""
    if bc.kind not in (KIND_CHANGE, KIND_RENEWAL):
        return
    assert bc.amends is not None
    row = licenses.find_license(session, bc.amends)
    if row is not None:
        session.refresh(row, with_for_update=True)
    if row is None or not row.current or row.status != "01":
        raise DomainError(
            code="license_not_current",
            title="许可证在草稿保存后已变更、延续或不再有效，请重新发起申请",
            title_en="The license changed or is no longer valid since this draft; start again",
            status=409,
        )
    _refuse_if_amending(session, bc.amends, other_than=bc.id)


def _licensed_case(
    session: Session, principal: Principal, ind: IndustryIn, identifier: str, uscc: str
) -> BundleCase:
    """The case that made this version of the industry's license, for an enterprise the
    caller acts for; the version must still be the current one."""
    enterprise_id = licenses.enterprise_acted_for(session, principal, uscc)
    bc = session.scalars(
        select(BundleCase).where(
            BundleCase.license_identifier == identifier,
            BundleCase.bundle_code == ind.code,
            BundleCase.enterprise_id == enterprise_id,
        )
    ).first()
    row = licenses.find_license(session, identifier)
    if bc is None or row is None:
        raise NotFound("license_not_found", "证照不存在", "No such license of this industry")
    if not row.current or row.status != "01":
        # A suspended (暂扣) license is neither changed, renewed nor given up until it is
        # restored: that would sidestep the decision that suspended it.
        raise DomainError(
            code="license_not_current",
            title="只能变更、延续或注销现行有效的证照",
            title_en="Only the current, valid version can be changed, renewed or cancelled",
            status=409,
        )
    return bc


def issue_comprehensive_license(
    session: Session, reg: Registry, bc: BundleCase, tasks: list[Case]
) -> str | None:
    """一证准营: every permit's department has decided; one license (or its next version)
    carries each approved permit with its scope. A permit refused is left off, the rest go on.
    Returns why no license could be issued (the license a change or renewal was for is no
    longer in force), or None once it is issued."""
    ind = get_industry(session, bc.bundle_code).entry
    scopes = {p.matter: p.scope for p in ind.permits}
    approved = {t.matter_code: t for t in tasks if t.status in ("approved", "delivered")}
    entries = [
        {
            "code": code,
            "name": t.matter_name,
            "department": matter_case_facts(session, code).department_name,
            "scope": scopes.get(code, ""),
        }
        for code, t in approved.items()
    ]
    if bc.kind == "industry_renewal":
        carried = [c for c in (bc.carried or []) if c["code"] in approved]
    else:
        carried = [*(bc.carried or []), *entries]
    form = onething.form_of(session, reg, bc)
    content: dict[str, Any] = {
        "industry.name": ind.name,
        "industry.permits": "\n".join(
            f"{c['name']}（{c['department']}）：{c['scope']}" for c in carried
        ),
    }
    for key in ("store.name", "premises.address"):
        if form.get(key):
            content[key] = form[key]
    if bc.kind == "industry":
        enterprise = session.get(Enterprise, bc.enterprise_id)
        assert enterprise is not None
        row = licenses.issue_license(
            session,
            reg,
            licenses.SYSTEM_ACTOR,
            licenses.IssueRequest(
                type_key=ind.license_type,
                holder_uscc=enterprise.uscc,
                content=content,
                matter_code=ind.application or next(iter(approved)),
            ),
        )
    else:
        assert bc.amends is not None
        # Normally the version amended: nothing else changes it while this case is open. A
        # department may still have made a version of its own since; amend the newest.
        old = next((r for r in _versions(session, bc.amends) if r.current), None)
        if old is None or old.status not in ("01", "02"):
            return f"许可证已不再有效（{_status_name(old)}），无法{KINDS[bc.kind]}，请重新申请"
        valid_until = None
        if bc.kind == KIND_RENEWAL:
            years = license_type_facts(session, ind.license_type).validity_years or 5
            base = max(old.valid_until or licenses.today(), licenses.today())
            valid_until = _years_later(base, years)
        row = licenses.new_version(
            session,
            reg,
            licenses.SYSTEM_ACTOR,
            old.identifier,
            content,
            valid_until,
            f"{ind.name}行业综合许可证{KINDS[bc.kind]}",
        )
    bc.license_identifier = row.identifier
    bc.carried = carried
    return None


def _status_name(row: License | None) -> str:
    if row is None:
        return "不存在"
    return STATUS_LABELS.get(row.status, row.status)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def cancel_license(
    session: Session,
    reg: Registry,
    principal: Principal,
    industry_code: str,
    identifier: str,
    uscc: str,
    reason: str,
) -> str:
    """注销: the enterprise gives the license up (the business closes); it verifies as
    cancelled from now on. Returns the license's new status."""
    ind = get_industry(session, industry_code).entry
    bc = _licensed_case(session, principal, ind, identifier, uscc)
    _require_scope(session, principal, bc)
    _refuse_if_amending(session, identifier)
    why = reason.strip()
    if not why:
        raise validation_failed([FieldError("reason", "请说明注销原因", "missing")])
    row = licenses.change_status(
        session, reg, licenses.SYSTEM_ACTOR, identifier, "cancel", f"持证企业申请注销：{why}"
    )
    return row.status


def _require_scope(session: Session, principal: Principal, bc: BundleCase) -> None:
    """Giving the license up gives up every permit it carries: an agent's authorization must
    cover each of them, as it must to apply for them."""
    assert bc.enterprise_id is not None
    scope = set(licenses.agent_scope(session, principal, bc.enterprise_id))
    kinds = {matter_case_facts(session, c["code"]).kind for c in bc.carried or []}
    if "*" not in scope and not kinds <= scope:
        raise DomainError(
            code="agent_out_of_scope",
            title="您的经办授权不包括该许可证载明的全部事项",
            title_en="Your authorization does not cover every permit this license carries",
            status=403,
        )


def renewals_in_progress(session: Session) -> set[int]:
    """Licenses (ids, any version) with a renewal handed in and not yet decided: they stay in
    force until it is (行政许可法 第五十条)."""
    amended = session.scalars(
        select(BundleCase.amends).where(
            BundleCase.status == "in_progress", BundleCase.kind == KIND_RENEWAL
        )
    ).all()
    return {r.id for identifier in amended if identifier for r in _versions(session, identifier)}


RENEWAL_NOTICE_DAYS = 60


def remind_renewals(session: Session, today: date, within_days: int = RENEWAL_NOTICE_DAYS) -> int:
    """延续提醒 (daily): the legal representative of every enterprise whose comprehensive
    license ends within `within_days` hears of it once per version, in the inbox and by SMS."""
    types = {row.entry.license_type for row in list_industries(session)}
    told = 0
    renewing = renewals_in_progress(session)
    for row in licenses.expiring(session, types, today, within_days):
        enterprise = session.get(Enterprise, row.enterprise_id)
        if enterprise is None or row.id in renewing:
            continue
        topic = f"renew:{row.id}"  # one version, told once
        if already_told(session, enterprise.legal_rep_id, topic):
            continue
        notify(
            session,
            enterprise.legal_rep_id,
            topic,
            f"{enterprise.name}行业综合许可证将于{row.valid_until}到期",
            "请在到期前通过“一业一证”申请延续，各项许可一并审核，无需分别办理。",
            sms=True,
        )
        told += 1
    return told


def public_view(session: Session, reg: Registry, identifier: str) -> dict[str, Any]:
    """What the comprehensive license's QR shows anyone who scans it: whether it is genuine
    and in force, and every permit it carries (operating permits are public, like the
    business licence). Only licenses of an industry's type; others are not found here."""
    row = licenses.find_license(session, identifier)
    types = {r.entry.license_type: r.entry for r in list_industries(session)}
    if row is None:
        raise NotFound("license_not_found", "证照不存在", "No such license")
    document = licenses.document_of(session, reg, row)
    if document["type"]["key"] not in types:
        raise NotFound("license_not_found", "证照不存在", "No such license")
    check = licenses.verify_registered(session, reg, identifier)
    content = document["content"]
    permits = [line for line in str(content.get("industry.permits") or "").split("\n") if line]
    return {
        "identifier": row.identifier,
        "valid": check.valid,
        "status": check.status,
        "reason": check.reason,
        "type": document["type"]["name"],
        "holder": document["holder"]["name"],
        "uscc": content.get("enterprise.uscc") or document["holder"]["id"],
        "industry": content.get("industry.name"),
        "store": content.get("store.name"),
        "address": content.get("premises.address"),
        "permits": permits,
        "issued_on": row.issued_on.isoformat(),
        "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        "version": row.version,
    }
