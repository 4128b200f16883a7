"""Specimen documents for testing the reader and for the evaluation set: a business licence,
an ID card, a lease, a floor plan and a health certificate drawn as images with a CJK font,
with the noise of real uploads (tilt, blur, JPEG loss, a red seal over the text).

They are synthetic and say so on their face ("样本"); they carry only the fields the reader
looks for, laid out as the real documents lay them out (label, then value, row by row).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

# The font: a subset of Noto Sans CJK SC (SIL Open Font License) kept with the tests, so
# specimens render the same on any machine (tests/data/fonts/build_subset.py makes it).
SUBSET = Path(__file__).parents[1] / "data" / "fonts" / "NotoSansSC-specimen.otf"

TITLES = {
    "business_license": "营业执照",
    "id_card": "居民身份证",
    "lease": "房屋租赁合同",
    "floor_plan": "经营场所平面图",
    "health_certificate": "健康证明",
}
# What each document prints, in order: (label, field).
LAYOUT = {
    "business_license": [
        ("统一社会信用代码", "uscc"),
        ("名称", "name"),
        ("类型", "type"),
        ("法定代表人", "legal_rep"),
        ("住所", "address"),
        ("成立日期", "established"),
    ],
    "id_card": [
        ("姓名", "name"),
        ("性别", "gender"),
        ("出生", "birth_date"),
        ("住址", "address"),
        ("公民身份号码", "id_number"),
    ],
    "lease": [
        ("出租方（甲方）", "lessor"),
        ("承租方（乙方）", "lessee"),
        ("房屋坐落", "address"),
        ("租赁期限自", "start"),
        ("至", "end"),
    ],
    "floor_plan": [("名称", "name"), ("地址", "address"), ("比例", "scale")],
    "health_certificate": [
        ("姓名", "name"),
        ("性别", "gender"),
        ("体检日期", "exam_date"),
        ("有效期至", "valid_until"),
    ],
}
DATE_KEYS = frozenset({"established", "birth_date", "start", "end", "exam_date", "valid_until"})


@dataclass(frozen=True)
class Noise:
    tilt: float = 0.0  # degrees
    blur: float = 0.0  # Gaussian radius in pixels
    jpeg: int = 90  # quality
    seal: bool = False  # a red seal stamped over the lower right
    scale: float = 1.0  # a photo taken from further away: fewer pixels per character

    @classmethod
    def random(cls, rng: random.Random) -> Noise:
        """Most uploads are decent scans or photos; about one in six is poor: taken from
        afar (half the pixels), blurred, compressed hard and more tilted."""
        if rng.random() < 0.16:
            return cls(
                tilt=rng.uniform(-6, 6),
                blur=rng.choice([0.8, 1.2]),
                jpeg=rng.choice([35, 45]),
                seal=rng.random() < 0.6,
                scale=rng.choice([0.5, 0.6]),
            )
        return cls(
            tilt=rng.uniform(-4, 4),
            blur=rng.choice([0, 0, 0.6, 1.0]),
            jpeg=rng.choice([55, 70, 85, 95]),
            seal=rng.random() < 0.6,
        )


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(SUBSET), size)


def chinese_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{year}年{int(month)}月{int(day)}日"


def render(kind: str, values: dict[str, str], noise: Noise | None = None) -> bytes:
    """A JPEG of the document with these values (dates given as ISO dates)."""
    noise = noise or Noise()
    width, height = (1000, 640) if kind == "id_card" else (1000, 1300)
    image = Image.new("RGB", (width, height), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    title, body, small = font(52), font(30), font(22)
    draw.text((width // 2, 60), TITLES[kind], font=title, fill=(20, 20, 20), anchor="mt")
    draw.text((width - 40, 30), "样本", font=small, fill=(150, 150, 150), anchor="ra")
    y = 170 if kind != "id_card" else 150
    for label, key in LAYOUT[kind]:
        value = values.get(key, "")
        if key in DATE_KEYS and value:
            value = chinese_date(value)
        draw.text((70, y), f"{label}  {value}", font=body, fill=(25, 25, 25))
        y += 80
    if kind == "floor_plan":
        _plan(draw, y)
    if kind == "lease":
        draw.text((70, y + 40), "甲乙双方经协商一致，签订本合同。", font=body, fill=(25, 25, 25))
    if noise.seal:
        _seal(draw, width - 260, height - 300 if kind != "id_card" else height - 230)
    if noise.tilt:
        image = image.rotate(noise.tilt, expand=True, fillcolor=(255, 255, 255))
    if noise.scale != 1.0:
        size = (int(image.width * noise.scale), int(image.height * noise.scale))
        image = image.resize(size, Image.Resampling.BILINEAR)
    if noise.blur:
        image = image.filter(ImageFilter.GaussianBlur(noise.blur))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=noise.jpeg)
    return out.getvalue()


def _plan(draw: ImageDraw.ImageDraw, top: int) -> None:
    """Rooms drawn as rectangles, as a plan shows them."""
    draw.rectangle((80, top + 20, 920, top + 700), outline=(40, 40, 40), width=4)
    draw.line((480, top + 20, 480, top + 700), fill=(40, 40, 40), width=3)
    draw.line((80, top + 380, 480, top + 380), fill=(40, 40, 40), width=3)


def _seal(draw: ImageDraw.ImageDraw, x: int, y: int) -> None:
    red = (205, 40, 40)
    draw.ellipse((x, y, x + 200, y + 200), outline=red, width=6)
    draw.text((x + 100, y + 100), "★", font=font(40), fill=red, anchor="mm")
    draw.text((x + 100, y + 160), "专用章", font=font(24), fill=red, anchor="mm")


# One specimen of each kind, for the reader's tests and its bench.
EXAMPLES: dict[str, dict[str, str]] = {
    "business_license": {
        "uscc": "91310115MA1K4XXX5Q",
        "name": "上海浦江便利店有限公司",
        "type": "有限责任公司",
        "legal_rep": "王建国",
        "address": "上海市浦东新区张江镇祖冲之路888号",
        "established": "2021-03-15",
    },
    "id_card": {
        "name": "李秀英",
        "gender": "女",
        "birth_date": "1968-05-02",
        "address": "上海市徐汇区漕河泾街道田林路100弄3号",
        "id_number": "310104196805021224",
    },
    "lease": {
        "lessor": "上海张江物业有限公司",
        "lessee": "上海浦江便利店有限公司",
        "address": "上海市浦东新区张江镇祖冲之路888号一层",
        "start": "2025-01-01",
        "end": "2028-12-31",
    },
    "floor_plan": {
        "name": "浦江便利店",
        "address": "浦东新区张江镇祖冲之路888号",
        "scale": "1:100",
    },
    "health_certificate": {
        "name": "赵敏",
        "gender": "女",
        "exam_date": "2026-03-01",
        "valid_until": "2027-02-28",
    },
}
