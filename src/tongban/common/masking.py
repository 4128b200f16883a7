"""Masking for screens and logs: enough to recognise, never enough to use."""

from __future__ import annotations


def mask_id_number(value: str | None) -> str:
    """310115198001010016 -> 310***********0016 (region's first 3 and the last 4 kept)."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str | None) -> str:
    """13800138000 -> 138****8000; a landline keeps its area code and last 4."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧阳**: the family name stays, as counters say it aloud."""
    if not value:
        return ""
    keep = 2 if len(value) >= 4 else 1
    return value[:keep] + "*" * (len(value) - keep)


def mask_address(value: str | None, keep: int = 6) -> str:
    """上海市浦东新区世纪大道100号 -> 上海市浦东新****: the district, not the door."""
    if not value:
        return ""
    return value[:keep] + "****" if len(value) > keep else value
