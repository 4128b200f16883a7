"""Where an address is, from the city's divisions."""

from __future__ import annotations

import pytest

from tests.prereview.samples import divisions


@pytest.mark.parametrize(
    ("address", "in_city", "district"),
    [
        ("上海市浦东新区张江镇祖冲之路888号", True, "310115"),
        ("浦东新区张江镇祖冲之路888号", True, "310115"),
        ("上海浦东张江镇祖冲之路888号", True, "310115"),  # the short name
        ("张江镇祖冲之路888号", True, "310115"),  # a town tells its district
        ("上海市 徐汇区 漕溪北路1号", True, "310104"),
        ("上海市长宁路100号", True, None),  # a road named after a district lies anywhere
        ("江苏路100号", None, None),  # roads named after provinces are this city's too
        ("北京西路1号", None, None),
        ("四川北路1号", None, None),
        ("北京市朝阳区建国路1号", False, None),
        ("江苏省苏州市工业园区星湖街328号", False, None),
        ("浙江杭州西湖区文三路1号", False, None),
        ("祖冲之路888号", None, None),  # cannot tell
    ],
)
def test_locate(address: str, in_city: bool | None, district: str | None) -> None:
    place = divisions().locate(address)
    assert (place.in_city, place.district) == (in_city, district)
