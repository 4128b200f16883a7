"""QR codes made here (segno) read back by an independent decoder (zxing-cpp), also from a
printed PDF and from a skewed, blurred 'photo' as a scanner page would receive it."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pypdfium2
import zxingcpp
from PIL import Image, ImageFilter

from tongban.crypto import sm2
from tongban.idcode import render
from tongban.idcode.token import Channel, Claims, SubjectType, signed_part, to_text


def a_token(paper: bool = False) -> str:
    keys = sm2.Sm2Signer(sm2.KeyPair.generate())
    claims = Claims(
        subject_type=SubjectType.PERSON,
        region_code="310000",
        ref="0a" * 12,
        issued_at=1_800_000_000,
        validity=60,
        paper=paper,
        kid=sm2.key_id(keys.public_key),
        channel=Channel.PAPER if paper else Channel.APP,
    )
    signed = signed_part(claims)
    return to_text(signed, keys.sign(signed))


def decode(image: Image.Image) -> list[str]:
    # QR only: in a random symbol the decoder now and then also "finds" a short 1-D barcode
    # (seen once in 40 codes: a spurious "5702" beside the token), which no scanner looks for.
    formats = zxingcpp.BarcodeFormat.QRCode
    return [r.text for r in zxingcpp.read_barcodes(image, formats=formats)]


def test_png_decodes_to_exactly_the_token() -> None:
    token = a_token()
    image = Image.open(io.BytesIO(render.qr_png(token)))
    assert decode(image) == [token]


def test_many_codes_read_back_with_the_fixed_mask() -> None:
    for _ in range(40):
        token = a_token()
        assert decode(Image.open(io.BytesIO(render.qr_png(token, scale=3)))) == [token]


def test_symbol_is_small_enough_for_a_phone_screen() -> None:
    symbol = render.qr(a_token())
    assert symbol.mode == "alphanumeric"
    assert symbol.version <= 8


def test_svg_has_a_white_background_and_the_same_symbol() -> None:
    token = a_token()
    svg = render.qr_svg(token)
    assert svg.startswith("<svg")
    assert 'fill="#fff"' in svg or "fill:#fff" in svg or 'fill="#ffffff"' in svg
    assert "<script" not in svg
    assert 'viewBox="0 0 ' in svg  # scales to the screen instead of being cropped


def test_a_photo_of_the_code_still_reads() -> None:
    token = a_token()
    image = Image.open(io.BytesIO(render.qr_png(token, scale=6))).convert("RGB")
    photo = Image.new("RGB", (image.width + 300, image.height + 300), (120, 110, 100))
    photo.paste(image.rotate(7, expand=True, fillcolor=(255, 255, 255)), (90, 120))
    photo = photo.filter(ImageFilter.GaussianBlur(1.2))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=60)
    assert decode(Image.open(io.BytesIO(buffer.getvalue()))) == [token]


def test_paper_pdf_prints_a_readable_code() -> None:
    token = a_token(paper=True)
    pdf = render.paper_pdf(
        token=token,
        holder_name="王芳",
        masked_id_number="310***********0016",
        region_name="上海市",
        issued_at=datetime(2026, 11, 28, tzinfo=UTC),
        expires_at=datetime(2027, 11, 28, tzinfo=UTC),
    )
    assert pdf.startswith(b"%PDF")
    document = pypdfium2.PdfDocument(pdf)
    page = document[0]
    assert "须与本人身份证一同出示" in page.get_textpage().get_text_range()
    image = page.render(scale=200 / 72).to_pil()
    assert decode(image) == [token]
