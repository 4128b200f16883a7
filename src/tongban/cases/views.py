"""What the application pages share: the words for states and actions, reading a posted form,
the case as a page shows it, and refusals turned into a message the page can show."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tongban.cases import service as cases
from tongban.cases.api import case_out
from tongban.cases.models import Case
from tongban.catalog.models import (
    Bundle,
    DataElement,
    Department,
    Industry,
    Matter,
    MatterField,
)
from tongban.catalog.service import hall_names, matter_case_facts, matter_form_facts
from tongban.common.regions import REGION_NAMES_EN
from tongban.errors import DomainError, FieldError, validation_failed
from tongban.identity.service import Principal
from tongban.licenses.api import registry_of
from tongban.licenses.service import Registry
from tongban.onething.models import BundleCase
from tongban.portal.i18n import N_, Words, field_message

STATUS = {
    "draft": (N_("草稿"), N_("还没有提交")),
    "submitted": (N_("已提交"), N_("等待窗口受理")),
    "accepted": (N_("已受理"), N_("正在办理")),
    "rejected_at_intake": (N_("不予受理"), N_("请查看原因")),
    "correction_requested": (N_("需要补正"), N_("请按要求修改后重新提交，补正期间不计时")),
    "under_review": (N_("审核中"), N_("部门正在审核")),
    "approved": (N_("已办结"), N_("准予许可，等待出件")),
    "denied": (N_("不予许可"), N_("请查看原因")),
    "delivered": (N_("已送达"), N_("办理完毕")),
    "waiting": (N_("等待前序事项"), N_("一件事中前面的事项办结后自动开始")),
    "cancelled": (N_("已终止"), N_("前序事项未能办理，本事项无法继续")),
}
ACTIONS = {
    "create": N_("创建"),
    "submit": N_("提交"),
    "sign": N_("签字确认"),
    "unsign": N_("签名后修改，须重新签名"),
    "accept": N_("受理"),
    "reject_at_intake": N_("不予受理"),
    "request_correction": N_("要求补正"),
    "resubmit": N_("补正后重新提交"),
    "start_review": N_("开始审核"),
    "approve": N_("准予许可"),
    "deny": N_("不予许可"),
    "deliver": N_("出件"),
    "edit": N_("修改表单"),
    "upload": N_("补交材料"),
    "choose_delivery": N_("选择领取方式"),
    "warning": N_("预警"),
    "prereview": N_("智能预审"),
    "overdue": N_("超期"),
    "wait": N_("等待前序事项"),
    "start": N_("自动开始办理"),
    "cancel": N_("终止"),
}
CHANNELS = Words(
    {
        "web": N_("网上办事"),
        "app": N_("随申办App"),
        "wechat": N_("微信小程序"),
        "alipay": N_("支付宝小程序"),
        "window": N_("窗口"),
        "region": N_("外省（市）异地代收"),
    }
)
# Staff actions that need a reason typed in.
NEEDS_REASON = {"reject_at_intake", "request_correction", "deny"}
RESOLUTIONS = Words(
    {
        "license": N_("免提交：电子证照"),
        "department": N_("免提交：部门共享"),
        "upstream": N_("免提交：前序事项结果"),
        "upload": N_("需上传"),
    }
)

# A refused step comes back to the page as a code, never as text from the address bar: the
# page shows only words of its own (a link cannot make it display someone else's message).
REFUSALS = {
    # 好差评
    "not_rateable": N_("办结后才能评价"),
    "rating_locked": N_("评价提交后超过可修改期限，不能再修改"),
    "rating_answered": N_("部门已作出反馈，请对反馈表示是否满意"),
    "already_rated": N_("本次服务已经评价过了，谢谢您"),
    "comment_needed": N_("请在手机上扫码写下不满意的原因，便于我们整改"),
    "missing:comment": N_("请写下不满意的原因，便于核实整改"),
    "invalid:level": N_("请选择一个评价等级"),
    "invalid:channel": N_("评价渠道不正确"),
    "not_a_person": N_("请以办事人本人的账号评价"),
    "ticket_wrong_step": N_("工单已进入其他环节，请刷新后再操作"),
    "invalid:category": N_("请选择差评原因分类"),
    "missing:verification": N_("请填写核实情况"),
    "missing:text": N_("请填写内容后再提交"),
    "already_appealed": N_("每张工单只能申诉一次"),
    "own_rating": N_("被评价的工作人员不能处理针对自己的评价"),
    "not_ticket_unit": N_("该工单由责任单位处理"),
    "not_supervisor": N_("该操作由监督人员进行"),
    "materials_missing": N_("还有材料未上传，请先上传标“需上传”的材料"),
    "unsupported_type": N_("只能上传PDF、JPG或PNG文件"),
    "empty": N_("文件是空的，请重新选择"),
    "file_too_large": N_("文件太大，请压缩后再上传"),
    "too_many_files": N_("这项材料的文件已达上限，请先删除不需要的"),
    "material_resolved": N_("这项材料已由电子证照或部门共享提供，无需上传"),
    "case_not_editable": N_("办件当前状态下不能修改"),
    "transition_not_allowed": N_("当前状态下不能进行此操作"),
    "no_license": N_("该事项不出具电子证照，请选择窗口领取或邮寄"),
    "missing:delivery_address": N_("选择邮寄时请填写邮寄地址"),
    "missing:reason": N_("请填写原因，申请人会看到"),
    "missing:detail": N_("邮寄送达请填写邮件运单号"),
    "invalid:delivery": N_("领取方式不在可选范围内"),
    "not_your_case": N_("您不能修改此办件"),
    "not_a_counter_case": N_("只有窗口受理的办件需要签字板签名"),
    "unsupported_type:signature": N_("签名须为签字板导出的PNG图片"),
    "person_mismatch": N_("身份证号与姓名不匹配，请核对证件"),
    "rate_limited": N_("操作过于频繁，请稍后再试"),
    "holder_missing": N_("持证企业不明，不能出证"),
}
DEFAULT_REFUSAL = N_("操作未完成，请检查后重试")


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
        raise validation_failed([FieldError(name, N_("编号有误"), "invalid")])
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
    english = labels_en(session, case.matter_code)
    form = cases.form_of(session, registry, case)
    out = case_out(session, registry, principal, case)
    remote = out["cross_region"]
    return {
        "case": out,
        "matter_name": named(
            case.matter_name, matter_names_en(session, [case.matter_code]).get(case.matter_code)
        ),
        "region": {
            "name": remote["region_name"],
            "name_en": REGION_NAMES_EN.get(remote["region"]),
        }
        if remote
        else None,
        "status": STATUS[case.status],
        "actions": ACTIONS,
        "resolutions": RESOLUTIONS,
        "delivery_methods": cases.DELIVERY_METHODS,
        "channels": CHANNELS,
        "halls": hall_names(session, [case.hall_key] if case.hall_key else []),
        "issues_license": matter_case_facts(session, case.matter_code).issues_license is not None,
        "form_values": [
            ({"label": labels.get(k, k), "label_en": english.get(k)}, v) for k, v in form.items()
        ],
        "prereview": _prereview_of(session, registry, principal, case),
        # Words the code wrote (a finding's evidence, which may quote the form) in the page's
        # language where the catalogs have them; as plain text, never as markup.
        "field_message": field_message,
    }


# -- names in English: the catalog has them for matters and data elements ----------------------


def matter_names_en(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Matters' English names by code (a case keeps the Chinese name it was made with)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = session.execute(select(Matter.code, Matter.name_en).where(Matter.code.in_(wanted)))
    return {str(code): str(name) for code, name in rows}


def named(chinese: str, english: str | None) -> dict[str, str | None]:
    """A name as `| local` shows it."""
    return {"name": chinese, "name_en": english}


def department_name_en(session: Session, key: str) -> str | None:
    return session.scalar(select(Department.name_en).where(Department.key == key))


def bundle_names_en(session: Session, rows: Iterable[BundleCase]) -> dict[int, str | None]:
    """一件事 and 一业一证 cases' English names by case id, from their catalog entries."""
    out: dict[int, str | None] = {}
    for b in rows:
        model = Bundle if b.kind == "bundle" else Industry
        definition = session.scalar(select(model.definition).where(model.code == b.bundle_code))
        out[b.id] = (definition or {}).get("name_en")
    return out


def labels_en(session: Session, code: str) -> dict[str, str]:
    """A matter's form fields' English labels, by data element (its data element's label)."""
    rows = session.execute(
        select(DataElement.key, DataElement.label_en)
        .join(MatterField, MatterField.element_id == DataElement.id)
        .join(Matter, Matter.id == MatterField.matter_id)
        .where(Matter.code == code)
    )
    return {str(key): str(label) for key, label in rows}


def element_labels_en(session: Session, keys: Iterable[str]) -> dict[str, str]:
    """Data elements' English labels, by key."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.execute(
        select(DataElement.key, DataElement.label_en).where(DataElement.key.in_(wanted))
    )
    return {str(key): str(label) for key, label in rows}


def with_labels_en(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    """A form (`build_form`) for a page: each field with its English label beside it."""
    english = labels_en(session, form["matter"])
    return {**form, "fields": [{**f, "label_en": english.get(f["key"])} for f in form["fields"]]}


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
