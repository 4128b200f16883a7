"""What the application pages share: the words for states and actions, reading a posted form,
the case as a page shows it, and refusals turned into a message the page can show."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tongban.cases import service as cases
from tongban.cases.api import case_out
from tongban.cases.models import Case
from tongban.catalog.service import hall_names, matter_case_facts, matter_form_facts
from tongban.errors import DomainError, FieldError, validation_failed
from tongban.identity.service import Principal
from tongban.licenses.api import registry_of
from tongban.licenses.service import Registry

STATUS = {
    "draft": ("草稿", "还没有提交"),
    "submitted": ("已提交", "等待窗口受理"),
    "accepted": ("已受理", "正在办理"),
    "rejected_at_intake": ("不予受理", "请查看原因"),
    "correction_requested": ("需要补正", "请按要求修改后重新提交，补正期间不计时"),
    "under_review": ("审核中", "部门正在审核"),
    "approved": ("已办结", "准予许可，等待出件"),
    "denied": ("不予许可", "请查看原因"),
    "delivered": ("已送达", "办理完毕"),
    "waiting": ("等待前序事项", "一件事中前面的事项办结后自动开始"),
    "cancelled": ("已终止", "前序事项未能办理，本事项无法继续"),
}
ACTIONS = {
    "create": "创建",
    "submit": "提交",
    "sign": "签字确认",
    "unsign": "签名后修改，须重新签名",
    "accept": "受理",
    "reject_at_intake": "不予受理",
    "request_correction": "要求补正",
    "resubmit": "补正后重新提交",
    "start_review": "开始审核",
    "approve": "准予许可",
    "deny": "不予许可",
    "deliver": "出件",
    "edit": "修改表单",
    "upload": "补交材料",
    "choose_delivery": "选择领取方式",
    "warning": "预警",
    "prereview": "智能预审",
    "overdue": "超期",
    "wait": "等待前序事项",
    "start": "自动开始办理",
    "cancel": "终止",
}
CHANNELS = {
    "web": "网上办事",
    "app": "随申办App",
    "wechat": "微信小程序",
    "alipay": "支付宝小程序",
    "window": "窗口",
    "region": "外省（市）异地代收",
}
# Staff actions that need a reason typed in.
NEEDS_REASON = {"reject_at_intake", "request_correction", "deny"}
RESOLUTIONS = {
    "license": "免提交：电子证照",
    "department": "免提交：部门共享",
    "upstream": "免提交：前序事项结果",
    "upload": "需上传",
}

# A refused step comes back to the page as a code, never as text from the address bar: the
# page shows only words of its own (a link cannot make it display someone else's message).
REFUSALS = {
    # 好差评
    "not_rateable": "办结后才能评价",
    "rating_locked": "评价提交后超过可修改期限，不能再修改",
    "rating_answered": "部门已作出反馈，请对反馈表示是否满意",
    "already_rated": "本次服务已经评价过了，谢谢您",
    "comment_needed": "请在手机上扫码写下不满意的原因，便于我们整改",
    "missing:comment": "请写下不满意的原因，便于核实整改",
    "invalid:level": "请选择一个评价等级",
    "invalid:channel": "评价渠道不正确",
    "not_a_person": "请以办事人本人的账号评价",
    "ticket_wrong_step": "工单已进入其他环节，请刷新后再操作",
    "invalid:category": "请选择差评原因分类",
    "missing:verification": "请填写核实情况",
    "missing:text": "请填写内容后再提交",
    "already_appealed": "每张工单只能申诉一次",
    "own_rating": "被评价的工作人员不能处理针对自己的评价",
    "not_ticket_unit": "该工单由责任单位处理",
    "not_supervisor": "该操作由监督人员进行",
    "materials_missing": "还有材料未上传，请先上传标“需上传”的材料",
    "unsupported_type": "只能上传PDF、JPG或PNG文件",
    "empty": "文件是空的，请重新选择",
    "file_too_large": "文件太大，请压缩后再上传",
    "too_many_files": "这项材料的文件已达上限，请先删除不需要的",
    "material_resolved": "这项材料已由电子证照或部门共享提供，无需上传",
    "case_not_editable": "办件当前状态下不能修改",
    "transition_not_allowed": "当前状态下不能进行此操作",
    "no_license": "该事项不出具电子证照，请选择窗口领取或邮寄",
    "missing:delivery_address": "选择邮寄时请填写邮寄地址",
    "missing:reason": "请填写原因，申请人会看到",
    "missing:detail": "邮寄送达请填写邮件运单号",
    "invalid:delivery": "领取方式不在可选范围内",
    "not_your_case": "您不能修改此办件",
    "not_a_counter_case": "只有窗口受理的办件需要签字板签名",
    "unsupported_type:signature": "签名须为签字板导出的PNG图片",
    "person_mismatch": "身份证号与姓名不匹配，请核对证件",
    "rate_limited": "操作过于频繁，请稍后再试",
    "holder_missing": "持证企业不明，不能出证",
}
DEFAULT_REFUSAL = "操作未完成，请检查后重试"


def refusal_code(exc: DomainError) -> str:
    """The most specific key of REFUSALS for a refusal."""
    for e in exc.errors:
        for key in (f"{e.code}:{e.field}", e.code):
            if key in REFUSALS:
                return key
    return exc.code


def refusal_text(code: str | None) -> str | None:
    if code is None:
        return None
    return REFUSALS.get(code, DEFAULT_REFUSAL)


def back_with(path: str, exc: DomainError) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'error': refusal_code(exc)})}", status_code=303)


async def form_data(request: Request) -> FormData:
    """A posted page's fields, read in the event loop so the handler itself can be a plain
    function (which runs in a worker thread, where blocking database calls belong)."""
    return await request.form()


_INTEGER = re.compile(r"-?[0-9]{1,15}")
_ROW_ID = re.compile(r"[0-9]{1,10}")


def posted_form(session: Session, data: Any, code: str) -> dict[str, Any]:
    """The form's values from a posted page: fields are named f.<data element>; empty ones are
    left out, so a draft may be incomplete. Values are checked by the service like any API
    request; here they only take their type."""
    return posted_values(data, [(f.key, f.type) for f in matter_form_facts(session, code)])


def posted_values(
    data: Any, fields: Iterable[tuple[str, str]], prefix: str = "f."
) -> dict[str, Any]:
    """Posted values of these (data element, type) fields, named <prefix><data element>."""
    values: dict[str, Any] = {}
    for key, kind in fields:
        raw = data.get(f"{prefix}{key}")
        if raw is None or not isinstance(raw, str) or raw.strip() == "":
            continue
        text = raw.strip()[:1000]
        if kind == "boolean":
            values[key] = text == "true"
        elif kind == "integer" and _INTEGER.fullmatch(text):
            values[key] = int(text)
        else:
            values[key] = text
    return values


def posted_id(data: Any, name: str) -> int | None:
    """An optional row id from a posted page, or a 422 naming the field."""
    raw = data.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not _ROW_ID.fullmatch(raw) or not 0 < int(raw) < 2**31:
        raise validation_failed([FieldError(name, "编号有误", "invalid")])
    return int(raw)


def posted_text(data: Any, name: str, limit: int) -> str | None:
    raw = data.get(name)
    if not isinstance(raw, str) or not raw.strip():
        return None
    return raw.strip()[:limit]


def case_context(
    request: Request, session: Session, principal: Principal, case: Case
) -> dict[str, Any]:
    """A case as its page shows it: the API's view of it, and the words for it."""
    registry = registry_of(request)
    labels = {f.key: f.label for f in matter_form_facts(session, case.matter_code)}
    form = cases.form_of(session, registry, case)
    return {
        "case": case_out(session, registry, principal, case),
        "status": STATUS[case.status],
        "actions": ACTIONS,
        "resolutions": RESOLUTIONS,
        "delivery_methods": cases.DELIVERY_METHODS,
        "channels": CHANNELS,
        "halls": hall_names(session, [case.hall_key] if case.hall_key else []),
        "issues_license": matter_case_facts(session, case.matter_code).issues_license is not None,
        "form_values": [(labels.get(k, k), v) for k, v in form.items()],
        "prereview": _prereview_of(session, registry, principal, case),
    }


def _prereview_of(
    session: Session, registry: Registry, principal: Principal, case: Case
) -> dict[str, Any] | None:
    """The pre-review panel: on a draft, the rules as the form stands (at once); after
    submission, the worker's verdict with what it read in the documents."""
    # Imported here: pre-review builds on the cases module.
    from tongban.prereview import service as prereview

    if not prereview.rules_of(session, case.matter_code):
        return None
    if case.status == "draft":
        found = prereview.check_draft(session, registry, principal, case.id)
        return {"draft": True, "findings": [f.as_dict() for f in found], "row": None}
    current = prereview.view(session, registry, principal, case.id)
    return {
        "draft": False,
        "row": current.prereview,
        "status": prereview.STATUS_LABELS.get(current.prereview.status)
        if current.prereview
        else None,
        "verdict": prereview.VERDICT_LABELS.get(current.prereview.verdict or "")
        if current.prereview
        else None,
        "findings": current.findings,
        "open_errors": len(current.open_errors),
    }
