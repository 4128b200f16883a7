"""What a code looks like: a QR code (SVG for pages, PNG for apps) and the printable paper code.

The QR encodes exactly the code's text. segno picks the smallest symbol for it; the text is
upper-case base32, which QR stores in alphanumeric mode (5.5 bits a character), so a code of
about 160 characters fits a version 7 symbol (45 x 45 modules) at error correction M.
segno's SVG is transparent by default, and decoders misread a code on a dark phone theme: it
always gets a white background and a quiet zone of 4 modules here.
"""

from __future__ import annotations

import io
from datetime import datetime

import segno
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

ERROR_LEVEL = "m"
# Choosing the mask by ISO 18004's penalty score costs segno 9 of its 11 ms a code, and every
# phone asks for a new code each minute. A code's bytes are a random reference and a signature,
# so no mask is better than another for them: under blur, tilt and JPEG loss zxing read
# 146 of 150 codes with the penalty-chosen mask and 146-148 with each fixed one.
MASK = 3
_CJK_FONT = "STSong-Light"  # a PDF standard CJK font: readers supply it, nothing is embedded


def qr(text: str) -> segno.QRCode:
    return segno.make_qr(text, error=ERROR_LEVEL, boost_error=False, mask=MASK)


def qr_svg(text: str, scale: int = 6, title: str = "随申码") -> str:
    buffer = io.BytesIO()
    qr(text).save(
        buffer,
        kind="svg",
        scale=scale,
        border=4,
        light="#ffffff",
        dark="#000000",
        xmldecl=False,
        svgns=True,
        omitsize=True,  # a viewBox instead of a fixed size: the page scales it to the screen
        title=title,
    )
    return buffer.getvalue().decode()


def qr_png(text: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    qr(text).save(buffer, kind="png", scale=scale, border=4, light="#ffffff", dark="#000000")
    return buffer.getvalue()


def paper_pdf(
    *,
    token: str,
    holder_name: str,
    masked_id_number: str,
    region_name: str,
    issued_at: datetime,
    expires_at: datetime,
) -> bytes:
    """An A6 card: the QR drawn as vector squares from the same symbol, and how to use it."""
    if _CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_CJK_FONT))
    buffer = io.BytesIO()
    width, height = A6
    pdf = canvas.Canvas(buffer, pagesize=A6, pageCompression=1)
    pdf.setTitle(f"{region_name}随申码（纸质码）")
    pdf.setAuthor(region_name)
    pdf.setFont(_CJK_FONT, 15)
    pdf.drawCentredString(width / 2, height - 14 * mm, f"{region_name}随申码 · 纸质码")
    side = 78 * mm
    top = height - 20 * mm
    draw_qr(pdf, token, left=(width - side) / 2, bottom=top - side, side=side)
    pdf.setFont(_CJK_FONT, 11)
    y = top - side - 7 * mm
    for line in (
        f"持码人：{holder_name}",
        f"身份证：{masked_id_number}",
        f"有效期：{issued_at:%Y-%m-%d} 至 {expires_at:%Y-%m-%d}",
    ):
        pdf.drawString(12 * mm, y, line)
        y -= 6 * mm
    pdf.setFont(_CJK_FONT, 8.5)
    for line in (
        "须与本人身份证一同出示，单独使用无效。",
        "遗失请到任一政务服务中心或在随申办作废并补打。",
    ):
        pdf.drawString(12 * mm, y, line)
        y -= 4.5 * mm
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def draw_qr(pdf: canvas.Canvas, text: str, *, left: float, bottom: float, side: float) -> None:
    """A QR code drawn as vector squares from the same symbol the pages show."""
    symbol = qr(text)
    modules = symbol.symbol_size(scale=1, border=4)[0]
    cell = side / modules
    top = bottom + side
    pdf.setFillColorRGB(1, 1, 1)
    pdf.rect(left, bottom, side, side, stroke=0, fill=1)
    pdf.setFillColorRGB(0, 0, 0)
    # One rectangle per horizontal run of dark modules, slightly overlapping the next row:
    # square by square, viewers and printers leave hairline seams between the modules.
    for y, row in enumerate(symbol.matrix_iter(scale=1, border=4)):
        for start, length in _dark_runs(list(row)):
            pdf.rect(
                left + start * cell, top - (y + 1) * cell, length * cell, cell * 1.02,
                stroke=0, fill=1,
            )  # fmt: skip


def _dark_runs(row: list[int]) -> list[tuple[int, int]]:
    """(start, length) of each run of dark modules in a row."""
    runs: list[tuple[int, int]] = []
    start = None
    for x, dark in enumerate([*row, 0]):
        if dark and start is None:
            start = x
        elif not dark and start is not None:
            runs.append((start, x - start))
            start = None
    return runs
