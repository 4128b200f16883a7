"""Why a code was refused. Each reason has its own stable code, shown to scanners and logged."""

from __future__ import annotations

from tongban.errors import DomainError

# reason -> (HTTP status, Chinese title, English title)
REASONS: dict[str, tuple[int, str, str]] = {
    "code_malformed": (400, "无法识别的码", "This is not a valid code"),
    "code_wrong_region": (422, "该码不是本地区签发的", "The code was issued by another region"),
    "code_forged": (422, "该码不是由可信密钥签发的", "The code was not signed by a trusted key"),
    "code_altered": (422, "码的内容与签名不符", "The code's content does not match its signature"),
    "code_key_revoked": (422, "签发该码的密钥已吊销", "The key that signed the code is revoked"),
    "code_expired": (422, "码已过期，请刷新后重新出示", "The code has expired; show a fresh one"),
    "code_not_yet_valid": (422, "码的签发时间晚于当前时间", "The code is not valid yet"),
    "code_unknown": (422, "查无此码的签发记录", "No record of this code was found"),
    "code_revoked": (422, "该码已作废", "The code has been revoked"),
    "code_replayed": (409, "该码已在本场景使用过", "The code was already used in this scene"),
    "code_wrong_subject": (
        422,
        "本场景不接受此类码",
        "This scene does not accept this kind of code",
    ),
    "code_paper_not_accepted": (
        422,
        "本场景不接受纸质码",
        "This scene does not accept paper codes",
    ),
    "code_id_check_required": (
        422,
        "纸质码须同时核验身份证",
        "A paper code is valid only with the holder's ID card",
    ),
    "code_id_mismatch": (422, "身份证与码的持有人不符", "The ID card is not the code holder's"),
    "code_locked": (
        423,
        "该纸质码核验错误次数过多，已暂停使用一天，可持身份证到窗口重新打印",
        "Too many wrong ID numbers: the paper code is locked for a day",
    ),
}


class CodeRefused(DomainError):
    def __init__(self, reason: str, detail: str | None = None) -> None:
        status, title, title_en = REASONS[reason]
        super().__init__(code=reason, title=title, title_en=title_en, status=status, detail=detail)
