"""Validators of data elements: each element type knows how to check and normalise a value.

A form field is a data element, so a value typed at a window, sent by the app or filled from a
license goes through the same check. ID numbers and credit codes use the standards' own rules
(`common.identifiers`), not python-stdnum's validators, which reject real numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from tongban.catalog.rules import ElementFacts
from tongban.catalog.schemas import ElementType
from tongban.common.identifiers import is_valid_id_number, is_valid_uscc
from tongban.errors import FieldError

_MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")
_LANDLINE_RE = re.compile(r"^0[1-9][0-9]{1,2}-?[1-9][0-9]{6,7}$")
_POSTAL_RE = re.compile(r"^[0-9]{6}$")
_DEFAULT_MAX = {ElementType.STRING: 200, ElementType.TEXT: 5000, ElementType.ADDRESS: 300}
_TRUE = {"true", "1", "yes", "是"}
_FALSE = {"false", "0", "no", "否"}


class InvalidValue(ValueError):
    """A value that does not fit its data element; `code` is stable, the message Chinese."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def validate_value(element: ElementFacts, raw: Any, *, max_length: int | None = None) -> Any:
    """The value, checked and normalised for the element's type; raises InvalidValue."""
    kind = ElementType(element.type)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InvalidValue("missing", "请填写此项 (required)")
    checker = _CHECKERS[kind]
    return checker(raw, element, max_length or element.max_length or _DEFAULT_MAX.get(kind))


def validate_form(
    elements: Mapping[str, ElementFacts],
    required: Mapping[str, bool],
    values: Mapping[str, Any],
) -> tuple[dict[str, Any], list[FieldError]]:
    """Check every field of a form: the clean values, and one error per field that failed."""
    clean: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, element in elements.items():
        raw = values.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required.get(key, True):
                errors.append(
                    FieldError(field=key, code="missing", message="请填写此项 (required)")
                )
            continue
        try:
            clean[key] = validate_value(element, raw)
        except InvalidValue as exc:
            errors.append(FieldError(field=key, code=exc.code, message=exc.message))
    for key in values:
        if key not in elements:
            errors.append(
                FieldError(
                    field=key, code="unknown_field", message="表单中没有此项 (unknown field)"
                )
            )
    return clean, errors


def _text(raw: Any, _el: ElementFacts, max_length: int | None) -> str:
    if not isinstance(raw, str):
        raise InvalidValue("not_text", "应为文字 (text expected)")
    value = raw.strip()
    if max_length is not None and len(value) > max_length:
        raise InvalidValue(
            "too_long", f"不能超过 {max_length} 个字 (at most {max_length} characters)"
        )
    return value


def _integer(raw: Any, _el: ElementFacts, _max: int | None) -> int:
    if isinstance(raw, bool):
        raise InvalidValue("not_integer", "应为整数 (whole number expected)")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"-?[0-9]+", raw.strip()):
        try:
            return int(raw.strip())
        except ValueError:  # more digits than Python converts (4300)
            pass
    raise InvalidValue("not_integer", "应为整数 (whole number expected)")


def _decimal(raw: Any, _el: ElementFacts, _max: int | None) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise InvalidValue("not_number", "应为数字 (number expected)")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise InvalidValue("not_number", "应为数字 (number expected)") from exc
    if not value.is_finite():
        raise InvalidValue("not_number", "应为数字 (number expected)")
    return value


def _boolean(raw: Any, _el: ElementFacts, _max: int | None) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidValue("not_boolean", "应为“是”或“否” (yes or no expected)")


def _date(raw: Any, _el: ElementFacts, _max: int | None) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError as exc:
        raise InvalidValue("not_date", "应为日期，如 2024-05-01 (date expected)") from exc


def _enum(raw: Any, el: ElementFacts, _max: int | None) -> str:
    value = str(raw).strip()
    if value not in el.options:
        raise InvalidValue("not_an_option", f"应为：{'、'.join(el.options)} (one of the options)")
    return value


def _id_number(raw: Any, _el: ElementFacts, _max: int | None) -> str:
    value = str(raw).strip().upper()
    if not is_valid_id_number(value):
        raise InvalidValue("invalid_id_number", "公民身份号码有误，请核对 (GB 11643 check failed)")
    return value


def _uscc(raw: Any, _el: ElementFacts, _max: int | None) -> str:
    value = str(raw).strip().upper()
    if not is_valid_uscc(value):
        raise InvalidValue("invalid_uscc", "统一社会信用代码有误，请核对 (GB 32100 check failed)")
    return value


def _phone(raw: Any, _el: ElementFacts, _max: int | None) -> str:
    value = re.sub(r"[\s()]", "", str(raw)).removeprefix("+86")
    if _MOBILE_RE.match(value) or _LANDLINE_RE.match(value):
        return value
    raise InvalidValue(
        "invalid_phone", "电话号码有误，请填写手机号或带区号的固话 (phone number expected)"
    )


def _postal(raw: Any, _el: ElementFacts, _max: int | None) -> str:
    value = str(raw).strip()
    if not _POSTAL_RE.match(value):
        raise InvalidValue("invalid_postal_code", "邮政编码应为 6 位数字 (six digits expected)")
    return value


_CHECKERS = {
    ElementType.STRING: _text,
    ElementType.TEXT: _text,
    ElementType.ADDRESS: _text,
    ElementType.INTEGER: _integer,
    ElementType.DECIMAL: _decimal,
    ElementType.BOOLEAN: _boolean,
    ElementType.DATE: _date,
    ElementType.ENUM: _enum,
    ElementType.ID_NUMBER: _id_number,
    ElementType.USCC: _uscc,
    ElementType.PHONE: _phone,
    ElementType.POSTAL_CODE: _postal,
}
