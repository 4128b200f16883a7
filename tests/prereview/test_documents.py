"""Reading uploaded documents: specimens of the five kinds rendered with a CJK font, clean and
with the noise of real uploads, read by the offline OCR engine; fields compared with a form."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.prereview.specimens import EXAMPLES, Noise, render
from tongban.prereview.documents import Line, compare, extract
from tongban.prereview.ocr import UnreadableDocument, read_document

SPECIMENS = EXAMPLES
ROUGH = Noise(tilt=3.0, blur=1.0, jpeg=55, seal=True)
CASES = [(kind, noise) for kind in SPECIMENS for noise in (Noise(), ROUGH)]


@pytest.mark.parametrize(
    ("kind", "noise"), CASES, ids=[f"{k}-{'rough' if n.seal else 'clean'}" for k, n in CASES]
)
def test_each_kind_is_recognised_and_its_fields_read(kind: str, noise: Noise) -> None:
    values = SPECIMENS[kind]
    reading = read_document(render(kind, values, noise), "image/jpeg")
    assert reading.kind == kind
    for key, read in reading.fields.items():
        assert compare(reading, key, values[key]) is None, (key, read.value)
    expected = {k for k in values if k not in ("type", "scale")}
    assert set(reading.fields) == expected


def test_a_pdf_is_read_from_its_pages() -> None:
    jpeg = render("health_certificate", SPECIMENS["health_certificate"])
    pdf = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(pdf, format="PDF", resolution=100)
    reading = read_document(pdf.getvalue(), "application/pdf")
    assert reading.kind == "health_certificate"
    assert reading.fields["name"].value == "赵敏"


def test_what_is_not_a_document_is_said_so() -> None:
    with pytest.raises(UnreadableDocument):
        read_document(b"not an image at all", "image/png")
    with pytest.raises(UnreadableDocument):
        read_document(b"%PDF-1.4 cut short", "application/pdf")
    blank = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(blank, format="PNG")
    assert read_document(blank.getvalue(), "image/png").kind == "unknown"


def lines(*texts: str) -> list[Line]:
    return [Line(t) for t in texts]


def test_codes_are_compared_with_ocr_look_alikes_folded() -> None:
    reading = extract(lines("营业执照", "统一社会信用代码 91310115MA1K4XXX5Q"))
    assert compare(reading, "uscc", "91310115MA1K4XXX5Q") is None
    misread = extract(lines("营业执照", "统一社会信用代码 9131O115MA1K4XXX5Q"))
    assert compare(misread, "uscc", "91310115MA1K4XXX5Q") is None  # O read for 0
    # D, L and Q are letters a credit code may hold: not folded, a different code.
    other_letter = extract(lines("营业执照", "统一社会信用代码 91310115MA1K4XXX5D"))
    assert compare(other_letter, "uscc", "91310115MA1K4XXX50") is not None
    other = extract(lines("营业执照", "统一社会信用代码 91310101MA1FPX1234"))
    evidence = compare(other, "uscc", "91310115MA1K4XXX5Q")
    assert evidence is not None and "第2行" in evidence and "91310101MA1FPX1234" in evidence


def test_addresses_may_say_more_than_the_form_and_dates_any_way() -> None:
    lease = extract(
        lines(
            "房屋租赁合同", "房屋坐落: 上海市 浦东新区张江镇祖冲之路888号一层", "租赁期限自2025.1.1"
        )
    )
    assert compare(lease, "address", "浦东新区张江镇祖冲之路888号") is None
    assert compare(lease, "address", "浦东新区张江镇祖冲之路889号") is not None
    assert compare(lease, "start", "2025-01-01") is None
    missing = compare(lease, "lessee", "上海浦江便利店有限公司")
    assert missing is not None and "未能读到承租方" in missing


def test_traditional_forms_and_half_width_brackets_are_folded() -> None:
    card = extract(lines("居民身份证", "姓名 李秀英", "性別 女", "公民身份號码 310104196805021224"))
    assert card.kind == "id_card"
    assert card.fields["gender"].value == "女"
    lease = extract(lines("租赁合同", "承租方(乙方) 上海浦江便利店有限公司"))
    assert lease.fields["lessee"].value == "上海浦江便利店有限公司"
