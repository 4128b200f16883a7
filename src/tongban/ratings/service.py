"""好差评: a rating of every finished case (一事一评) and every counter visit (一次一评), and the
closed loop of every bad one.

A person rates a subject once; within the change window they may change it, nobody else ever
can. A bad rating (不满意, 非常不满意) opens a ticket for the unit that answers for it (a case's
department, a visit's hall): classify and verify (核实), rectify (整改), answer the rater (反馈),
each step due within its working days. The rater says whether the answer satisfies them; not
satisfied reopens the ticket once. A step past its due day is escalated to the supervisors
(监督) by the sweep; a unit may appeal a malicious or mistaken rating, and a supervisor decides.
Every step is an event of the ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.cases import service as cases
from tongban.cases.counter import find_visit
from tongban.cases.models import CounterVisit
from tongban.catalog.service import department_names, hall_names
from tongban.crypto.service import Keyring
from tongban.db import locked, utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.identity.schemas import Role
from tongban.identity.service import Principal, account_names
from tongban.licenses import service as licenses
from tongban.licenses.service import CHINA
from tongban.notify.service import notify
from tongban.portal.i18n import N_, Words
from tongban.ratings.models import Rating, RatingTicket, TicketEvent
from tongban.settings import Settings
from tongban.workdays.service import CalendarUnknown, calendar

# The words of the levels and the tickets, marked for the English catalog; a page translates
# them where it shows them (the tables of words come back translated on lookup).
LEVELS = {5: N_("非常满意"), 4: N_("满意"), 3: N_("基本满意"), 2: N_("不满意"), 1: N_("非常不满意")}
LEVELS_EN = {
    5: "very satisfied",
    4: "satisfied",
    3: "fairly satisfied",
    2: "dissatisfied",
    1: "very dissatisfied",
}
BAD = 2  # this level and below open a ticket
ONLINE_INDICATORS = Words(
    {
        "efficiency": N_("办事效率"),
        "guide_accuracy": N_("指南准确"),
        "convenience": N_("办事便捷"),
        "ease_of_use": N_("系统易用"),
    }
)
OFFLINE_INDICATORS = Words(
    {"efficiency": N_("办事效率"), "competence": N_("业务水平"), "attitude": N_("服务态度")}
)
INDICATORS = Words({**ONLINE_INDICATORS, **OFFLINE_INDICATORS})
CHANNELS = Words(
    {
        "web": N_("网站"),
        "app": N_("随申办App"),
        "wechat": N_("微信小程序"),
        "alipay": N_("支付宝小程序"),
        "pad": N_("窗口评价器"),
        "sms": N_("短信链接"),
        "scan": N_("窗口扫码"),
    }
)
# 办结: a decision has been made (a refusal too: it is often what people want to rate).
FINISHED = frozenset({"approved", "delivered", "denied", "rejected_at_intake"})

CATEGORIES = Words(
    {
        "department_fault": N_("部门原因"),
        "policy": N_("政策原因"),
        "system": N_("系统原因"),
        "misunderstanding": N_("评价人误解"),
    }
)
# A policy or a misunderstanding has nothing of the unit's to rectify: it is explained instead.
TO_RECTIFY = frozenset({"department_fault", "system"})
TICKET_STATUS = Words(
    {
        "verifying": N_("核实中"),
        "rectifying": N_("整改中"),
        "answering": N_("待反馈"),
        "awaiting_reply": N_("待评价人确认"),
        "appealed": N_("申诉中"),
        "closed": N_("已办结"),
    }
)
RESOLUTIONS = Words(
    {
        "satisfied": N_("评价人认可"),
        "unsatisfied": N_("评价人仍不满意"),
        "no_reply": N_("评价人逾期未回复，视为认可"),
        "appeal_upheld": N_("申诉成立，该评价不计入统计"),
        "withdrawn": N_("评价人已改为满意"),
    }
)
# What the published fixes say where a value is missing; translated where shown, and only
# these (a lookup that leaves every other text, such as a matter's name, as it is).
VISIT_SERVICE = N_("窗口服务")
NOTHING_TO_RECTIFY = N_("（经核实无需整改，已向评价人解释说明）")
FIX_WORDS = Words({VISIT_SERVICE: VISIT_SERVICE, NOTHING_TO_RECTIFY: NOTHING_TO_RECTIFY})
OPEN = ("verifying", "rectifying", "answering", "awaiting_reply", "appealed")


# -- who and what is rated -----------------------------------------------------------------------


@dataclass(frozen=True)
class RatingRequest:
    case_id: int | None
    visit_id: int | None
    level: int
    indicators: dict[str, int]
    comment: str | None
    channel: str


@dataclass(frozen=True)
class Subject:
    """What is rated, with what the statistics group it by."""

    kind: str  # case | visit
    id: int
    offline: bool  # at a counter: the offline indicators
    department_key: str | None
    hall_key: str | None
    matter_code: str | None
    matter_name: str | None
    staff_account: int | None
    title: str

    @property
    def indicators(self) -> Mapping[str, str]:
        return OFFLINE_INDICATORS if self.offline else ONLINE_INDICATORS


def _not_rateable(what: str) -> DomainError:
    return DomainError(
        code="not_rateable",
        title=f"该{what}尚不能评价",
        title_en="This cannot be rated yet",
        status=409,
        detail="a case can be rated once it is finished (办结)",
    )


def case_subject(session: Session, principal: Principal, case_id: int) -> Subject:
    """A finished case its applicant rates; to anyone else it does not exist."""
    case = cases.find_case(session, case_id)
    if case is None or cases.APPLICANT not in cases.roles_on(session, principal, case):
        raise NotFound("case_not_found", "办件不存在", "No such case")
    if case.status not in FINISHED:
        raise _not_rateable("办件")
    staff = None
    if case.visit_id is not None:
        visit = find_visit(session, case.visit_id)
        staff = visit.staff_account if visit else None
    return Subject(
        kind="case",
        id=case.id,
        offline=case.channel == "window",
        department_key=case.department_key,
        hall_key=case.hall_key,
        matter_code=case.matter_code,
        matter_name=case.matter_name,
        staff_account=staff,
        title=f"{case.matter_name}（{case.number or case.id}）",
    )


def visit_subject(session: Session, person_id: int | None, visit_id: int) -> Subject:
    """A counter visit, rated by the person who was served."""
    visit = find_visit(session, visit_id)
    if visit is None or person_id is None or visit.person_id != person_id:
        raise NotFound("visit_not_found", "窗口服务记录不存在", "No such visit")
    return Subject(
        kind="visit",
        id=visit.id,
        offline=True,
        department_key=None,
        hall_key=visit.hall_key,
        matter_code=None,
        matter_name=None,
        staff_account=visit.staff_account,
        title="窗口服务 " + visit.started_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
    )


def pad_visit(session: Session, principal: Principal, visit_id: int) -> CounterVisit:
    """The visit the window's pad rates: the caller's own, while it is open."""
    visit = find_visit(session, visit_id)
    if visit is None or visit.staff_account != principal.account_id or visit.expires_at <= utcnow():
        raise NotFound("visit_not_found", "窗口服务记录不存在", "No such visit")
    return visit


def _subject_and_rater(
    session: Session, principal: Principal, req: RatingRequest
) -> tuple[Subject, int, int | None]:
    """The subject, the rating person and their account. At the hall pad the window's session
    carries the tap of the person it is serving, for that visit only."""
    if (req.case_id is None) == (req.visit_id is None):
        raise validation_failed([FieldError("case_id", "请指定一个办件或一次窗口服务", "one_of")])
    if req.channel == "pad":
        if req.visit_id is None:
            raise validation_failed(
                [FieldError("channel", "窗口评价器只评价本次窗口服务", "invalid")]
            )
        visit = pad_visit(session, principal, req.visit_id)
        return visit_subject(session, visit.person_id, visit.id), visit.person_id, None
    if principal.person_id is None:
        raise DomainError(
            code="not_a_person",
            title="请以办事人本人的账号评价",
            title_en="Ratings are given by people, with their own account",
            status=403,
        )
    if req.case_id is not None:
        subject = case_subject(session, principal, req.case_id)
    else:
        assert req.visit_id is not None
        subject = visit_subject(session, principal.person_id, req.visit_id)
    return subject, principal.person_id, principal.account_id


def _checked(req: RatingRequest, subject: Subject) -> None:
    errors = []
    if req.level not in LEVELS:
        errors.append(FieldError("level", "评价等级为1（非常不满意）到5（非常满意）", "invalid"))
    for key, value in req.indicators.items():
        if key not in subject.indicators:
            allowed = "、".join(subject.indicators)
            errors.append(
                FieldError(f"indicators.{key}", f"本次评价的指标为：{allowed}", "unknown")
            )
        elif value not in LEVELS:
            errors.append(FieldError(f"indicators.{key}", "指标评分为1到5", "invalid"))
    if req.channel == "pad":
        # The window's session carries the tap, nothing more: words and a bad rating are given
        # by the person on their own phone, so staff can never write them in the person's name.
        if req.level <= BAD:
            errors.append(FieldError("level", "不满意请扫码在手机上说明原因", "pad_bad"))
        if req.comment or req.indicators:
            errors.append(FieldError("comment", "评价器只记录满意程度", "pad_only_level"))
    elif req.level <= BAD and not (req.comment or "").strip():
        errors.append(FieldError("comment", "请写下不满意的原因，便于核实整改", "missing"))
    if req.channel not in CHANNELS:
        errors.append(FieldError("channel", "评价渠道不正确", "invalid"))
    if errors:
        raise validation_failed(errors)


# -- rating ----------------------------------------------------------------------------------------


def rate(
    session: Session, settings: Settings, keyring: Keyring, principal: Principal, req: RatingRequest
) -> tuple[Rating, bool]:
    """Give or change a rating; returns it and whether it is new. The same rating sent again
    changes nothing."""
    subject, person_id, account_id = _subject_and_rater(session, principal, req)
    _checked(req, subject)
    comment = (req.comment or "").strip() or None
    existing = _existing(session, subject, person_id)
    if existing is None:
        try:
            with session.begin_nested():
                rating = _new_rating(session, keyring, subject, person_id, account_id, req, comment)
        except IntegrityError:
            # The same person's rating arrived twice at once: the first one stands.
            existing = _existing(session, subject, person_id)
            assert existing is not None
        else:
            if rating.level <= BAD:
                _open_ticket(session, settings, rating, subject)
            return rating, True
    existing = _locked_rating(session, existing.id)
    if _same(session, keyring, existing, req, comment):
        return existing, False
    _may_change(session, settings, principal, existing, req)
    _change(session, settings, keyring, existing, subject, req, comment)
    return existing, False


def _locked_rating(session: Session, rating_id: int) -> Rating:
    """The rating read afresh under its write lock: two changes at once run in turn."""
    rating: Rating | None = locked(session, Rating, rating_id)
    assert rating is not None
    return rating


def _existing(session: Session, subject: Subject, person_id: int) -> Rating | None:
    return _rating_of(session, subject.kind, subject.id, person_id)


def _rating_of(session: Session, kind: str, subject_id: int, person_id: int) -> Rating | None:
    return session.scalars(
        select(Rating).where(
            Rating.subject == kind,
            Rating.subject_id == subject_id,
            Rating.rater_person_id == person_id,
        )
    ).first()


def _new_rating(
    session: Session,
    keyring: Keyring,
    subject: Subject,
    person_id: int,
    account_id: int | None,
    req: RatingRequest,
    comment: str | None,
) -> Rating:
    rating = Rating(
        subject=subject.kind,
        subject_id=subject.id,
        case_id=subject.id if subject.kind == "case" else None,
        visit_id=subject.id if subject.kind == "visit" else None,
        rater_person_id=person_id,
        rater_account=account_id,
        level=req.level,
        indicators=dict(req.indicators),
        comment_enc=keyring.encrypt(session, "rating.comment", comment) if comment else None,
        channel=req.channel,
        department_key=subject.department_key,
        hall_key=subject.hall_key,
        matter_code=subject.matter_code,
        matter_name=subject.matter_name,
        staff_account=subject.staff_account,
        month=month_of(utcnow()),
        excluded=False,
        changes=0,
    )
    session.add(rating)
    session.flush()
    return rating


def comment_of(session: Session, keyring: Keyring, rating: Rating) -> str | None:
    if rating.comment_enc is None:
        return None
    return keyring.decrypt(session, "rating.comment", rating.comment_enc)


def _same(
    session: Session, keyring: Keyring, rating: Rating, req: RatingRequest, comment: str | None
) -> bool:
    return (
        rating.level == req.level
        and rating.indicators == req.indicators
        and comment_of(session, keyring, rating) == comment
    )


def _may_change(
    session: Session, settings: Settings, principal: Principal, rating: Rating, req: RatingRequest
) -> None:
    if req.channel == "pad":
        # The pad takes one tap per visit: the window never overwrites what the person chose.
        raise DomainError(
            code="already_rated",
            title="本次服务已经评价过了",
            title_en="This visit has been rated already",
            status=409,
        )
    if rating.excluded or utcnow() > rating.rated_at + timedelta(days=settings.rating_change_days):
        raise DomainError(
            code="rating_locked",
            title=f"评价提交{settings.rating_change_days}天后不能再修改",
            title_en="The rating can no longer be changed",
            status=409,
        )
    ticket = ticket_of(session, rating.id)
    if ticket is not None and (ticket.answered_at is not None or ticket.reopened):
        raise DomainError(
            code="rating_answered",
            title="部门已就该评价作出反馈，请对反馈表示是否满意",
            title_en="The unit has answered this rating: reply to the answer instead",
            status=409,
        )


def _change(
    session: Session,
    settings: Settings,
    keyring: Keyring,
    rating: Rating,
    subject: Subject,
    req: RatingRequest,
    comment: str | None,
) -> None:
    was_bad = rating.level <= BAD
    rating.level = req.level
    rating.indicators = dict(req.indicators)
    rating.comment_enc = keyring.encrypt(session, "rating.comment", comment) if comment else None
    rating.changes += 1
    rating.changed_at = utcnow()
    ticket = ticket_of(session, rating.id)
    if req.level <= BAD and (ticket is None or ticket.status == "closed"):
        if ticket is None:
            _open_ticket(session, settings, rating, subject)
        else:
            _reopen_changed(session, settings, ticket)
    elif was_bad and req.level > BAD and ticket is not None and ticket.status != "closed":
        _close(session, ticket, "withdrawn", "rater", "评价人改为满意")


def ticket_of(session: Session, rating_id: int) -> RatingTicket | None:
    return session.scalars(select(RatingTicket).where(RatingTicket.rating_id == rating_id)).first()


def rating_for(session: Session, principal: Principal, kind: str, subject_id: int) -> Rating | None:
    if principal.person_id is None:
        return None
    return _rating_of(session, kind, subject_id, principal.person_id)


def my_rating(
    session: Session, principal: Principal, case_id: int | None, visit_id: int | None
) -> Rating | None:
    """The caller's rating of one case or one visit (exactly one of the two is named)."""
    if (case_id is None) == (visit_id is None):
        raise validation_failed([FieldError("case_id", "请指定一个办件或一次窗口服务", "one_of")])
    if case_id is not None:
        return rating_for(session, principal, "case", case_id)
    assert visit_id is not None
    return rating_for(session, principal, "visit", visit_id)


# -- the ticket's clock ----------------------------------------------------------------------------


def _due(session: Session, start: date, days: int) -> date | None:
    """The due day, or none while the calendar does not know the year yet (the sweep fills it
    in once an administrator has entered the year: never a guessed day)."""
    try:
        return calendar(session).add_working_days(start, days)
    except CalendarUnknown:
        return None


def step_days(settings: Settings, status: str) -> int | None:
    return {
        "verifying": settings.ticket_verify_days,
        "rectifying": settings.ticket_rectify_days,
        "answering": settings.ticket_answer_days,
        "awaiting_reply": settings.ticket_reply_days,
        "appealed": settings.ticket_appeal_days,
    }.get(status)


def _enter(
    session: Session,
    settings: Settings,
    ticket: RatingTicket,
    status: str,
    action: str,
    actor: str,
    note: str | None,
    *,
    counts: bool,
) -> None:
    """Leave the current step for `status`: a unit's step done after its due day is late, and
    a late step escalated is no longer pending escalation."""
    today = licenses.today()
    if ticket.due_on is None:
        # The year was not in the calendar when the step began; it may be now.
        days = step_days(settings, ticket.status)
        ticket.due_on = _due(session, ticket.step_since, days) if days else None
    late = counts and ticket.due_on is not None and today > ticket.due_on
    if late:
        ticket.late_steps += 1
    before = ticket.status
    ticket.status = status
    ticket.step_since = today
    days = step_days(settings, status)
    ticket.due_on = _due(session, today, days) if days else None
    ticket.escalated_status = None
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            action=action,
            from_status=before,
            to_status=status,
            actor=actor,
            note=note,
            due_on=ticket.due_on,
            late=late,
        )
    )
    session.flush()


def _open_ticket(session: Session, settings: Settings, rating: Rating, subject: Subject) -> None:
    today = licenses.today()
    unit_kind, unit_key = (
        ("department", subject.department_key)
        if subject.kind == "case" and subject.department_key
        else ("hall", subject.hall_key or "")
    )
    ticket = RatingTicket(
        rating_id=rating.id,
        status="verifying",
        unit_kind=unit_kind,
        unit_key=unit_key,
        opened_on=today,
        step_since=today,
        due_on=_due(session, today, settings.ticket_verify_days),
        late_steps=0,
        reopened=0,
    )
    session.add(ticket)
    session.flush()
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            action="open",
            from_status=None,
            to_status="verifying",
            actor="system",
            note=f"{LEVELS[rating.level]}：{subject.title}",
            due_on=ticket.due_on,
        )
    )
    due = ticket.due_on.isoformat() if ticket.due_on else "日历公布后确定的日期"
    notify(
        session,
        rating.rater_person_id,
        f"rating:{rating.id}",
        f"您的评价已受理：{subject.title}",
        f"我们已请责任单位核实，整改情况将在办结后告诉您（核实期限 {due}）。",
        sms=False,
    )
    session.flush()


def _reopen_changed(session: Session, settings: Settings, ticket: RatingTicket) -> None:
    """A rating withdrawn and made bad again within the window: the same ticket starts over."""
    ticket.resolution = None
    ticket.closed_at = None
    _enter(
        session,
        settings,
        ticket,
        "verifying",
        "reopen",
        "rater",
        "评价人重新给出差评",
        counts=False,
    )


def _close(
    session: Session,
    ticket: RatingTicket,
    resolution: str,
    actor: str,
    note: str | None,
    today: date | None = None,
) -> None:
    today = today or licenses.today()
    before = ticket.status
    ticket.status = "closed"
    ticket.resolution = resolution
    ticket.closed_at = utcnow()
    ticket.due_on = None
    ticket.escalated_status = None
    ticket.step_since = today
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            action="close",
            from_status=before,
            to_status="closed",
            actor=actor,
            note=note or RESOLUTIONS[resolution],
        )
    )
    session.flush()


# -- the unit's steps ------------------------------------------------------------------------------


def _wrong_step(ticket: RatingTicket, wanted: str) -> DomainError:
    return DomainError(
        code="ticket_wrong_step",
        title=f"工单当前为“{TICKET_STATUS[ticket.status]}”，不能{wanted}",
        title_en="The ticket is not at that step",
        status=409,
    )


def _locked_ticket(session: Session, ticket_id: int) -> tuple[RatingTicket, Rating]:
    # Two steps on one ticket run one after the other.
    ticket: RatingTicket | None = locked(session, RatingTicket, ticket_id)
    if ticket is None:
        raise NotFound("ticket_not_found", "工单不存在", "No such ticket")
    rating = session.get(Rating, ticket.rating_id)
    assert rating is not None
    return ticket, rating


def is_unit(principal: Principal, ticket: RatingTicket) -> bool:
    role = Role.REVIEWER if ticket.unit_kind == "department" else Role.WINDOW_STAFF
    return ticket.unit_key in principal.bindings(role)


def is_supervisor(principal: Principal) -> bool:
    return principal.has(Role.SUPERVISOR)


def visible(principal: Principal, ticket: RatingTicket, rating: Rating) -> bool:
    """Supervisors and administrators see every ticket; a unit its own, except the staff
    member who was rated (a complaint is not shown to the person it is about)."""
    if principal.has(Role.SUPERVISOR, Role.ADMIN):
        return True
    return is_unit(principal, ticket) and rating.staff_account != principal.account_id


def unit_ticket(
    session: Session, principal: Principal, ticket_id: int
) -> tuple[RatingTicket, Rating]:
    """The ticket, locked, for a member of its unit who is not the one rated."""
    ticket, rating = _locked_ticket(session, ticket_id)
    if not is_unit(principal, ticket):
        if visible(principal, ticket, rating):
            raise DomainError(
                code="not_ticket_unit",
                title="该工单由责任单位处理",
                title_en="The responsible unit handles this ticket",
                status=403,
            )
        raise NotFound("ticket_not_found", "工单不存在", "No such ticket")
    if rating.staff_account is not None and rating.staff_account == principal.account_id:
        raise DomainError(
            code="own_rating",
            title="被评价的工作人员不能处理针对自己的评价",
            title_en="Nobody handles a rating of their own work",
            status=403,
        )
    return ticket, rating


def _text(field: str, value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise validation_failed([FieldError(field, f"请填写{what}", "missing")])
    return text


def verify(
    session: Session,
    settings: Settings,
    principal: Principal,
    ticket_id: int,
    category: str,
    verification: str | None,
) -> RatingTicket:
    """核实: the unit says what happened and why (the category decides whether to rectify)."""
    ticket, _rating = unit_ticket(session, principal, ticket_id)
    if category not in CATEGORIES:
        raise validation_failed([FieldError("category", "请选择差评原因分类", "invalid")])
    text = _text("verification", verification, "核实情况")
    if ticket.status != "verifying":
        raise _wrong_step(ticket, "核实")
    ticket.category = category
    ticket.verification = text
    after = "rectifying" if category in TO_RECTIFY else "answering"
    _enter(session, settings, ticket, after, "verify", principal.username, text, counts=True)
    return ticket


def rectify(
    session: Session, settings: Settings, principal: Principal, ticket_id: int, measures: str | None
) -> RatingTicket:
    """整改: what the unit changed. It is published, so it names no person."""
    ticket, _rating = unit_ticket(session, principal, ticket_id)
    text = _text("text", measures, "整改措施")
    if ticket.status != "rectifying":
        raise _wrong_step(ticket, "整改")
    ticket.measures = text
    _enter(session, settings, ticket, "answering", "rectify", principal.username, text, counts=True)
    return ticket


def answer(
    session: Session, settings: Settings, principal: Principal, ticket_id: int, text: str | None
) -> RatingTicket:
    """反馈: the unit answers the rater, who then says whether they are satisfied."""
    ticket, rating = unit_ticket(session, principal, ticket_id)
    body = _text("text", text, "给评价人的反馈")
    if ticket.status != "answering":
        raise _wrong_step(ticket, "反馈")
    ticket.answer = body
    _enter(
        session, settings, ticket, "awaiting_reply", "answer", principal.username, body, counts=True
    )
    ticket.answered_at = utcnow()
    ticket.answered_on_time = ticket.late_steps == 0
    notify(
        session,
        rating.rater_person_id,
        f"rating:{rating.id}",
        "您的评价有了反馈",
        f"{body}（请告诉我们您是否满意）",
        sms=True,
    )
    return ticket


def appeal(
    session: Session, settings: Settings, principal: Principal, ticket_id: int, reason: str | None
) -> RatingTicket:
    """申诉: the unit holds the rating malicious or mistaken; the clock stops for the supervisor."""
    ticket, _rating = unit_ticket(session, principal, ticket_id)
    text = _text("text", reason, "申诉理由")
    if ticket.status not in ("verifying", "rectifying"):
        raise _wrong_step(ticket, "申诉")
    if ticket.appeal_decision is not None or ticket.appeal_from is not None:
        raise DomainError(
            code="already_appealed",
            title="每张工单只能申诉一次",
            title_en="A ticket can be appealed once",
            status=409,
        )
    ticket.appeal_reason = text
    ticket.appeal_from = ticket.status
    _enter(session, settings, ticket, "appealed", "appeal", principal.username, text, counts=True)
    return ticket


# -- the supervisor's and the rater's steps --------------------------------------------------------


def _require_supervisor(principal: Principal, title: str) -> None:
    if not is_supervisor(principal):
        raise DomainError(
            code="not_supervisor",
            title=title,
            title_en="Only supervisors (监督) do this",
            status=403,
        )


def decide_appeal(
    session: Session,
    settings: Settings,
    principal: Principal,
    ticket_id: int,
    upheld: bool,
    reason: str | None,
) -> RatingTicket:
    """A supervisor decides: upheld takes the rating out of the figures and closes the ticket;
    rejected sends the ticket back to its step with a fresh due day. Logged either way."""
    _require_supervisor(principal, "申诉由监督人员裁定")
    ticket, rating = _locked_ticket(session, ticket_id)
    text = _text("reason", reason, "裁定理由")
    if ticket.status != "appealed":
        raise _wrong_step(ticket, "裁定申诉")
    ticket.appeal_decision = "upheld" if upheld else "rejected"
    record(
        session,
        actor=principal.username,
        actor_role=Role.SUPERVISOR.value,
        action="rating.appeal_" + ticket.appeal_decision,
        subject_type="rating_ticket",
        subject_id=str(ticket.id),
        reason=text,
    )
    if upheld:
        rating.excluded = True
        _close(session, ticket, "appeal_upheld", principal.username, text)
    else:
        back = ticket.appeal_from or "verifying"
        _enter(
            session,
            settings,
            ticket,
            back,
            "appeal_rejected",
            principal.username,
            text,
            counts=False,
        )
    return ticket


def urge(session: Session, principal: Principal, ticket_id: int, note: str | None) -> RatingTicket:
    """督办: a supervisor's instruction on an open ticket, in its history."""
    _require_supervisor(principal, "督办由监督人员发出")
    ticket, _rating = _locked_ticket(session, ticket_id)
    text = _text("text", note, "督办意见")
    if ticket.status == "closed":
        raise _wrong_step(ticket, "督办")
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            action="urge",
            from_status=ticket.status,
            to_status=ticket.status,
            actor=principal.username,
            note=text,
            due_on=ticket.due_on,
        )
    )
    session.flush()
    return ticket


def reply(
    session: Session,
    settings: Settings,
    principal: Principal,
    ticket_id: int,
    satisfied: bool,
    note: str | None,
) -> RatingTicket:
    """The rater's word on the answer: satisfied closes; not satisfied reopens the ticket for
    rectification once, and after that closes it as not satisfied."""
    ticket, rating = _locked_ticket(session, ticket_id)
    if principal.person_id is None or principal.person_id != rating.rater_person_id:
        raise NotFound("ticket_not_found", "工单不存在", "No such ticket")
    if ticket.status != "awaiting_reply":
        raise _wrong_step(ticket, "回复")
    text = (note or "").strip() or None
    if satisfied:
        _close(session, ticket, "satisfied", "rater", text)
    elif ticket.reopened == 0:
        ticket.reopened = 1
        ticket.answered_at = None
        ticket.answered_on_time = None
        _enter(
            session,
            settings,
            ticket,
            # A policy or a misunderstanding had nothing to rectify: the unit looks again.
            "rectifying" if ticket.category in TO_RECTIFY else "verifying",
            "reopen",
            "rater",
            text or "评价人不满意",
            counts=False,
        )
    else:
        _close(session, ticket, "unsatisfied", "rater", text)
    return ticket


@dataclass(frozen=True)
class SweepReport:
    dated: int  # due days filled in now that the calendar knows the year
    escalated: int
    closed_no_reply: int


def sweep(session: Session, settings: Settings, today: date) -> SweepReport:
    """Run daily: overdue steps go to the supervisors (监督) once per step; an answer the rater
    has not replied to by its due day counts as accepted."""
    dated = escalated = closed = 0
    ids = session.scalars(select(RatingTicket.id).where(RatingTicket.status.in_(OPEN))).all()
    for ticket_id in ids:
        ticket, _rating = _locked_ticket(session, ticket_id)
        if ticket.status not in OPEN:
            continue  # a step taken since the list was read
        if ticket.due_on is None:
            days = step_days(settings, ticket.status)
            ticket.due_on = _due(session, ticket.step_since, days) if days else None
            dated += ticket.due_on is not None
        if ticket.due_on is None or today <= ticket.due_on:
            continue
        if ticket.status == "awaiting_reply":
            _close(session, ticket, "no_reply", "system", None, today)
            closed += 1
        elif ticket.escalated_status is None:
            ticket.escalated_status = ticket.status
            ticket.escalated_on = today
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    action="escalate",
                    from_status=ticket.status,
                    to_status=ticket.status,
                    actor="system",
                    note=f"逾期未{TICKET_STATUS[ticket.status]}，已提交监督",
                    due_on=ticket.due_on,
                    late=True,
                )
            )
            escalated += 1
    session.flush()
    return SweepReport(dated, escalated, closed)


# -- reading tickets -------------------------------------------------------------------------------


def tickets_for(
    session: Session, principal: Principal, *, only_open: bool = True
) -> list[RatingTicket]:
    """A unit's tickets by due day; supervisors and administrators see every unit's, the
    escalated and appealed first."""
    stmt = select(RatingTicket)
    if only_open:
        stmt = stmt.where(RatingTicket.status.in_(OPEN))
    if not principal.has(Role.SUPERVISOR, Role.ADMIN):
        departments = principal.bindings(Role.REVIEWER)
        halls = principal.bindings(Role.WINDOW_STAFF)
        stmt = stmt.join(Rating, Rating.id == RatingTicket.rating_id).where(
            and_(RatingTicket.unit_kind == "department", RatingTicket.unit_key.in_(departments))
            | and_(RatingTicket.unit_kind == "hall", RatingTicket.unit_key.in_(halls)),
            # Not the complaints about the caller's own work.
            Rating.staff_account.is_(None) | (Rating.staff_account != principal.account_id),
        )
    urgent = case(
        (RatingTicket.status == "appealed", 0),
        (RatingTicket.escalated_status.is_not(None), 1),
        else_=2,
    )
    nulls_last = case((RatingTicket.due_on.is_(None), 1), else_=0)
    stmt = stmt.order_by(urgent, nulls_last, RatingTicket.due_on, RatingTicket.id).limit(500)
    return list(session.scalars(stmt))


def get_ticket(
    session: Session, principal: Principal, ticket_id: int
) -> tuple[RatingTicket, Rating]:
    ticket = session.get(RatingTicket, ticket_id)
    if ticket is None:
        raise NotFound("ticket_not_found", "工单不存在", "No such ticket")
    rating = session.get(Rating, ticket.rating_id)
    assert rating is not None
    if visible(principal, ticket, rating) or principal.person_id == rating.rater_person_id:
        return ticket, rating
    raise NotFound("ticket_not_found", "工单不存在", "No such ticket")


def read_as_staff(
    session: Session, principal: Principal, ticket: RatingTicket, rating: Rating
) -> None:
    """Staff reading a rater's words is in the rater's data-usage list."""
    if principal.person_id == rating.rater_person_id:
        return
    record(
        session,
        actor=principal.username,
        action="rating.read",
        subject_type="rating_ticket",
        subject_id=str(ticket.id),
        data_subject=rating.rater_person_id,
        reason="差评核实整改",
    )


# What the rater reads of a ticket's history: the opening, the answer and their own replies;
# how the unit verified it, its appeal, the decision and 督办 are the administration's.
RATER_NOTES = frozenset({"open", "answer", "reopen"})


@dataclass(frozen=True)
class Step:
    at: datetime
    action: str
    from_status: str | None
    to_status: str
    actor: str | None
    note: str | None
    due_on: date | None
    late: bool


def history(session: Session, ticket: RatingTicket, *, staff: bool) -> list[Step]:
    """The ticket's steps; for the rater without who acted and without the internal notes."""
    return [
        Step(
            at=e.at,
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            actor=e.actor if staff else None,
            note=e.note if staff or e.action in RATER_NOTES else None,
            due_on=e.due_on,
            late=e.late,
        )
        for e in events(session, ticket.id)
    ]


def events(session: Session, ticket_id: int) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
    )


# -- statistics ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    department: str | None = None
    hall: str | None = None
    matter: str | None = None
    month: str | None = None
    staff: int | None = None


DIMENSIONS: dict[str, Any] = {
    "department": Rating.department_key,
    "hall": Rating.hall_key,
    "matter": Rating.matter_code,
    "month": Rating.month,
    "staff": Rating.staff_account,
}


def _where(f: Filters) -> list[ColumnElement[bool]]:
    # `= false`, not `IS false`: an equality is what a B-tree index serves on PostgreSQL too.
    conditions: list[ColumnElement[bool]] = [Rating.excluded == false()]
    for column, value in (
        (Rating.department_key, f.department),
        (Rating.hall_key, f.hall),
        (Rating.matter_code, f.matter),
        (Rating.month, f.month),
        (Rating.staff_account, f.staff),
    ):
        if value is not None:
            conditions.append(column == value)
    return conditions


def _level_counts(session: Session, column: Any, f: Filters) -> dict[str, dict[int, int]]:
    """Ratings per group and level: read from the figures indexes in order."""
    groups = [column] if column is not None else []
    where = _where(f) + ([column.is_not(None)] if column is not None else [])
    stmt = select(*groups, Rating.level, func.count()).where(*where).group_by(*groups, Rating.level)
    counts: dict[str, dict[int, int]] = {}
    for row in session.execute(stmt):
        key = str(row[0]) if column is not None else ""
        counts.setdefault(key, {})[int(row[-2])] = int(row[-1])
    return counts


def _rectified_counts(session: Session, column: Any, f: Filters) -> dict[str, tuple[int, int]]:
    """Bad ratings answered, and answered on time, per group: a join over the tickets only."""
    groups = [column] if column is not None else []
    stmt = (
        select(
            *groups,
            func.count(),
            func.coalesce(func.sum(case((RatingTicket.answered_on_time.is_(True), 1), else_=0)), 0),
        )
        .select_from(RatingTicket)
        .join(Rating, Rating.id == RatingTicket.rating_id)
        .where(RatingTicket.answered_at.is_not(None), Rating.level <= BAD, *_where(f))
        .group_by(*groups)
    )
    return {
        (str(row[0]) if column is not None else ""): (int(row[-2]), int(row[-1]))
        for row in session.execute(stmt)
    }


def _figures(levels: dict[int, int], rectified: int, on_time: int) -> dict[str, Any]:
    count = sum(levels.values())
    bad = sum(n for level, n in levels.items() if level <= BAD)
    satisfied = count - bad
    return {
        "count": count,
        "levels": {str(level): levels.get(level, 0) for level in (1, 2, 3, 4, 5)},
        "satisfaction_rate": _rate(satisfied, count),
        "bad": bad,
        "rectified": rectified,
        "rectified_on_time": on_time,
        "rectification_rate": _rate(rectified, bad),
        "on_time_rate": _rate(on_time, rectified),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def stats(session: Session, f: Filters) -> dict[str, Any]:
    """Counts, distribution, satisfaction (基本满意 and better), bad ratings, how many were
    rectified and answered, and how many of those on time. Ratings set aside on appeal are
    not counted."""
    levels = _level_counts(session, None, f).get("", {})
    rectified, on_time = _rectified_counts(session, None, f).get("", (0, 0))
    return _figures(levels, rectified, on_time)


def breakdown(session: Session, by: str, f: Filters) -> list[dict[str, Any]]:
    """The same figures per department, hall, matter, month or window staff member (two
    grouped queries); the largest groups first, months in order."""
    column = DIMENSIONS[by]
    rectified = _rectified_counts(session, column, f)
    rows = [
        {"key": key, **_figures(levels, *rectified.get(key, (0, 0)))}
        for key, levels in _level_counts(session, column, f).items()
    ]
    if by == "month":
        return sorted(rows, key=lambda r: r["key"])
    return sorted(rows, key=lambda r: (-r["count"], r["key"]))


def with_names(
    session: Session, dimension: str, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each group of a breakdown with the name people know it by."""
    keys = [r["key"] for r in rows]
    names: dict[str, str] = {}
    if dimension == "department":
        names = department_names(session, keys)
    elif dimension == "hall":
        names = {k: str(v["name"]) for k, v in hall_names(session, keys).items()}
    elif dimension == "matter":
        names = matter_names(session, keys)
    elif dimension == "staff":
        names = {str(k): v for k, v in account_names(session, [int(k) for k in keys]).items()}
    return [r | {"name": names.get(r["key"], r["key"])} for r in rows]


def unit_names(session: Session, rows: list[dict[str, Any]]) -> dict[str, str]:
    """The names of the units (departments, halls) that `rows` name by kind and key."""
    departments = [r["unit_key"] for r in rows if r["unit_kind"] == "department"]
    halls = [r["unit_key"] for r in rows if r["unit_kind"] == "hall"]
    names = department_names(session, departments)
    names.update({k: str(v["name"]) for k, v in hall_names(session, halls).items()})
    return names


def matter_names(session: Session, codes: list[str]) -> dict[str, str]:
    """The matters' names as they were rated (kept on the rating)."""
    rows = session.execute(
        select(Rating.matter_code, func.max(Rating.matter_name))
        .where(Rating.matter_code.in_(codes))
        .group_by(Rating.matter_code)
    )
    return {str(code): str(name) for code, name in rows if code and name}


def published_fixes(session: Session, limit: int = 30) -> list[dict[str, Any]]:
    """整改公示: what units changed after bad ratings, with no rater and no comment."""
    rows = session.execute(
        select(RatingTicket, Rating.matter_name, Rating.month, Rating.level, Rating.subject)
        .join(Rating, Rating.id == RatingTicket.rating_id)
        .where(RatingTicket.answered_at.is_not(None), Rating.excluded.is_(False))
        .order_by(RatingTicket.answered_at.desc())
        .limit(limit)
    ).all()
    return [
        {
            "unit_kind": t.unit_kind,
            "unit_key": t.unit_key,
            "matter_name": matter or VISIT_SERVICE,
            "month": month,
            "level": LEVELS[level],
            "category": CATEGORIES.get(t.category or "", "—"),
            "measures": t.measures or NOTHING_TO_RECTIFY,
            "on_time": bool(t.answered_on_time),
            "answered_on": t.answered_at.astimezone(CHINA).date().isoformat()
            if t.answered_at
            else None,
        }
        for t, matter, month, level, _subject in rows
    ]


def ticket_counts(session: Session) -> dict[str, int]:
    """Open tickets by step, and how many are escalated, for the dashboard."""
    rows = session.execute(
        select(RatingTicket.status, func.count())
        .where(RatingTicket.status.in_(OPEN))
        .group_by(RatingTicket.status)
    ).all()
    counts = {status: int(n) for status, n in rows}
    counts["escalated"] = int(
        session.scalar(
            select(func.count()).where(
                RatingTicket.escalated_status.is_not(None), RatingTicket.status.in_(OPEN)
            )
        )
        or 0
    )
    return counts


def month_of(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m")
