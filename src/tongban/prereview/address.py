"""Where an address is: its district in this city, from the catalog's divisions (the 16
districts and their streets and towns). Written addresses name the district ("浦东新区…",
"上海市浦东…") or only a street or town ("张江镇…"); other provinces start with their own
name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# The other provincial-level divisions as addresses start with them (full or short names).
OTHER_PROVINCES = (
    "北京 天津 河北 山西 内蒙古 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 "
    "广东 广西 海南 重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆 台湾 香港 澳门"
).split()
ROAD_SUFFIXES = frozenset("路街巷弄道桥港")
CITY_PREFIX = re.compile(r"^(中国)?(上海市|上海)")


def _names_province(text: str, province: str) -> bool:
    """The address starts with another province, not with one of this city's roads named
    after it (江苏路, 北京西路, 四川北路)."""
    if not text.startswith(province):
        return False
    following = text[len(province) : len(province) + 1]
    return following not in ROAD_SUFFIXES and following not in "东西南北中"


@dataclass(frozen=True)
class Place:
    in_city: bool | None  # None: cannot tell
    district: str | None  # its district's code, when named or implied by a street


@dataclass(frozen=True)
class Divisions:
    districts: dict[str, str]  # code -> name (浦东新区)
    streets: dict[str, str]  # name (张江镇) -> district code

    @classmethod
    def of(
        cls, districts: Iterable[tuple[str, str]], streets: Iterable[tuple[str, str]]
    ) -> Divisions:
        return cls(dict(districts), dict(streets))

    def district_name(self, code: str) -> str:
        return self.districts.get(code, code)

    def locate(self, address: str) -> Place:
        text = "".join(address.split())
        rest = CITY_PREFIX.sub("", text)
        named_city = rest != text
        if not named_city and any(_names_province(text, p) for p in OTHER_PROVINCES):
            return Place(False, None)
        for code, name in self.districts.items():
            short = name.removesuffix("新区").removesuffix("区")
            if rest.startswith(name) or (
                # 浦东…, but not 长宁路… (a road named after a district lies anywhere)
                len(short) >= 2
                and rest.startswith(short)
                and rest[len(short) : len(short) + 1] not in ROAD_SUFFIXES
            ):
                return Place(True, code)
        # No district named: a street or town of the city at the start tells it.
        for name, code in self.streets.items():
            if rest.startswith(name):
                return Place(True, code)
        return Place(True if named_city else None, None)
