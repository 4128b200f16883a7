"""Reading uploaded materials: what kind of document a page is and the fields it carries (name,
credit code, address, dates), from the lines an OCR engine read, with where each was found.

Extraction works on text lines, not on a layout template, so a photographed, tilted or
re-typeset document reads the same as a scan. OCR confuses a few look-alike characters in
codes (O/0, I/1, Z/2); codes are compared after folding those, names and addresses after
removing spaces and the city's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

KIND_LABELS = {
    "business_license": "营业执照",
    "id_card": "居民身份证",
    "lease": "房屋租赁合同",
    "floor_plan": "平面图",
    "health_certificate": "健康证明",
    "unknown": "无法识别的文件",
}
# What a page's text says it is; the first kind whose marks appear wins.
KIND_MARKS = (
    ("business_license", ("营业执照",)),
    ("health_certificate", ("健康证明", "健康证")),
    ("lease", ("租赁合同", "租赁协议")),
    ("floor_plan", ("平面图", "平面布局")),
    ("id_card", ("公民身份号码", "居民身份证")),
)
FIELD_LABELS = {
    "name": "名称/姓名",
    "uscc": "统一社会信用代码",
    "legal_rep": "法定代表人",
    "address": "住所/地址",
    "id_number": "公民身份号码",
    "gender": "性别",
    "birth_date": "出生日期",
    "established": "成立日期",
    "lessor": "出租方",
    "lessee": "承租方",
    "start": "起始日期",
    "end": "截止日期",
    "valid_until": "有效期至",
    "exam_date": "体检日期",
}
_DATE = r"(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})\s*日?"
_SEP = r"\s*[:：]?\s*"
# kind -> field -> patterns over the page's text (lines joined by newlines); group 1 is the
# value, or the date's year, month and day.
PATTERNS: dict[str, dict[str, tuple[str, ...]]] = {
    "business_license": {
        "uscc": (r"统一社会信用代码" + _SEP + r"([0-9A-Z]{18})",),
        "name": (r"名\s*称" + _SEP + r"([^\n]+)",),
        "legal_rep": (r"法定代表人" + _SEP + r"([^\n]+)", r"负\s*责\s*人" + _SEP + r"([^\n]+)"),
        "address": (r"(?:住\s*所|经营场所)" + _SEP + r"([^\n]+)",),
        "established": (r"成立日期" + _SEP + _DATE,),
    },
    "id_card": {
        "name": (r"姓\s*名" + _SEP + r"([^\n\s]+)",),
        "gender": (r"性\s*别" + _SEP + r"([男女])",),
        "birth_date": (r"出\s*生" + _SEP + _DATE,),
        "address": (r"住\s*址" + _SEP + r"([^\n]+)",),
        "id_number": (r"公民身份号码" + _SEP + r"([0-9Xx]{18})", r"\b(\d{17}[0-9Xx])\b"),
    },
    "lease": {
        "lessor": (
            r"出租[方人]（?甲方）?" + _SEP + r"([^\n]+)",
            r"甲方（?出租[方人]）?" + _SEP + r"([^\n]+)",
        ),
        "lessee": (
            r"承租[方人]（?乙方）?" + _SEP + r"([^\n]+)",
            r"乙方（?承租[方人]）?" + _SEP + r"([^\n]+)",
        ),
        "address": (r"(?:房屋坐落|房屋地址|租赁地址|坐落)" + _SEP + r"([^\n]+)",),
        "start": (r"(?:租赁期限|租期)[^\n]*?自?" + _SEP + _DATE,),
        "end": (r"(?:至|到)\s*" + _DATE,),
    },
    "floor_plan": {
        "name": (r"(?:名\s*称|单位|店名)" + _SEP + r"([^\n]+)",),
        "address": (r"(?:地\s*址|坐落)" + _SEP + r"([^\n]+)",),
    },
    "health_certificate": {
        "name": (r"姓\s*名" + _SEP + r"([^\n\s]+)",),
        "gender": (r"性\s*别" + _SEP + r"([男女])",),
        "exam_date": (r"体检日期" + _SEP + _DATE,),
        "valid_until": (r"有效期(?:至|限至)" + _SEP + _DATE,),
    },
}
DATE_FIELDS = frozenset({"birth_date", "established", "start", "end", "valid_until", "exam_date"})
CODE_FIELDS = frozenset({"uscc", "id_number"})


@dataclass(frozen=True)
class Line:
    text: str
    score: float = 1.0
    box: tuple[int, int, int, int] | None = None  # left, top, right, bottom in pixels


@dataclass(frozen=True)
class ReadField:
    value: str
    line: int  # which line (1-based) it was read on


@dataclass
class Reading:
    """What one uploaded document said."""

    kind: str
    lines: list[Line]
    fields: dict[str, ReadField] = field(default_factory=dict)
    page: int = 1

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "fields": {k: {"value": v.value, "line": v.line} for k, v in self.fields.items()},
            "lines": [ln.text for ln in self.lines],
        }


# Half-width brackets and colons as OCR often reads them, and the traditional forms it
# sometimes picks for a simplified character, folded before the patterns look.
_TEXT_FOLD = str.maketrans({"(": "（", ")": "）", ":": "：", "別": "别", "號": "号", "碼": "码"})


def classify(text: str) -> str:
    flat = "".join(text.split())
    for kind, marks in KIND_MARKS:
        if any(m in flat for m in marks):
            return kind
    return "unknown"


def extract(lines: list[Line]) -> Reading:
    """The kind and the fields of a page, from its lines in reading order."""
    text = "\n".join(ln.text for ln in lines).translate(_TEXT_FOLD)
    kind = classify(text)
    fields: dict[str, ReadField] = {}
    for key, patterns in PATTERNS.get(kind, {}).items():
        for pattern in patterns:
            match = re.search(pattern, text)
            if match is None:
                continue
            value = _value(key, match)
            if value:
                fields[key] = ReadField(value, text.count("\n", 0, match.start(1)) + 1)
                break
    return Reading(kind, lines, fields)


def _value(key: str, match: re.Match[str]) -> str:
    if key in DATE_FIELDS:
        try:
            return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        except ValueError:
            return ""
    return match[1].strip()


# OCR's look-alikes in codes: only letters a code cannot hold are read as the digits they
# resemble. A credit code holds every letter but I, O, S, V and Z (GB 32100); an ID number
# none but its final X.
_FOLDS = {
    "uscc": str.maketrans({"O": "0", "I": "1", "Z": "2", "S": "5"}),
    "id_number": str.maketrans(
        {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5"}
    ),
}


def normalize(key: str, value: str) -> str:
    flat = "".join(value.split()).replace("（", "(").replace("）", ")")
    if key in CODE_FIELDS:
        return flat.upper().translate(_FOLDS[key])
    if key == "address":
        return re.sub(r"^(中国)?(上海市|上海)", "", flat)
    return flat


def compare(reading: Reading, key: str, expected: str) -> str | None:
    """None when the document agrees with the form; else the evidence of the mismatch."""
    label = FIELD_LABELS.get(key, key)
    got = reading.fields.get(key)
    if got is None:
        return f"{reading.kind_label}上未能读到{label}"
    want = expected
    if key in DATE_FIELDS:
        try:
            want = date.fromisoformat(expected.strip()).isoformat()
        except ValueError:
            return None  # the form's own date is malformed; the format rule says so
    read, given = normalize(key, got.value), normalize(key, want)
    if read == given or (key == "address" and given and given in read):
        return None  # an address may say more than the form (the floor, the room)
    return f"{reading.kind_label}第{got.line}行{label}读作“{got.value}”；表单：“{expected}”"
