"""Province-level regions (GB/T 2260) that run a node, and which region an identifier names.

A node's region is a province-level division code ending in 0000 (310000 上海市). A unified
social credit code (GB 32100) carries the six-digit division of the authority that registered
the body in its characters 3-8, so a department's credit code — and with it a license's
issuer code — tells which region issued it.
"""

from __future__ import annotations

import re

# The Yangtze River Delta (长三角) regions first; any other province may run a node too.
REGION_NAMES = {
    "310000": "上海市",
    "320000": "江苏省",
    "330000": "浙江省",
    "340000": "安徽省",
    "110000": "北京市",
    "120000": "天津市",
    "440000": "广东省",
}
REGION_NAMES_EN = {
    "310000": "Shanghai",
    "320000": "Jiangsu",
    "330000": "Zhejiang",
    "340000": "Anhui",
    "110000": "Beijing",
    "120000": "Tianjin",
    "440000": "Guangdong",
}
REGION_CODE_RE = re.compile(r"^[1-8][0-9]0000$")


def is_region_code(code: str) -> bool:
    return bool(REGION_CODE_RE.fullmatch(code))  # not match: `$` takes "310000\n" too


def region_name(code: str) -> str:
    """The region's name on screen; a code we have no name for is shown as itself."""
    return REGION_NAMES.get(code, code)


def region_of_division(division: str) -> str | None:
    """The province of a six-digit division code (320583 昆山市 -> 320000)."""
    if len(division) < 2 or not division[:2].isdigit() or division[:2] == "10":
        return None  # 10xxxx: bodies registered by a national authority, no province
    return division[:2] + "0000"


def region_of_uscc(code: str) -> str | None:
    """The region whose authority registered the body with this credit code."""
    return region_of_division(code[2:8]) if len(code) == 18 else None
