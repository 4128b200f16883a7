"""The printable license: an A4 PDF with the fields, the identifier and a signed QR code."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from tongban.idcode.render import draw_qr

_FONT = "STSong-Light"


def license_pdf(
    document: Mapping[str, Any],
    labels: Mapping[str, str],
    status_label: str,
    qr_text: str,
    watermark: str | None = None,
) -> bytes:
    if _FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_FONT))
    buffer = io.BytesIO()
    width, height = A4
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"{document['type']['name']} {document['identifier']}")
    pdf.setAuthor(str(document["issuer"]["name"]))
    pdf.setFont(_FONT, 22)
    pdf.drawCentredString(width / 2, height - 30 * mm, str(document["type"]["name"]))
    pdf.setFont(_FONT, 10)
    pdf.drawCentredString(width / 2, height - 38 * mm, f"电子证照 · {status_label}")
    y = height - 52 * mm
    rows = [
        ("持证主体", document["holder"]["name"]),
        ("证照编号", document["license_number"]),
        ("纸质证照编号", document["paper_number"]),
        *[(labels.get(k, k), v) for k, v in document["content"].items()],
        ("发证机关", document["issuer"]["name"]),
        ("发证日期", document["issued_on"]),
        ("有效期", f"{document['valid_from']} 至 {document['valid_until'] or '长期'}"),
        ("版本", str(document["version"])),
    ]
    for label, value in rows:
        pdf.setFont(_FONT, 11)
        pdf.drawString(22 * mm, y, f"{label}：")
        for i, line in enumerate(_wrap(str(value), 38)):
            pdf.drawString(66 * mm, y - i * 6 * mm, line)
            if i:
                y -= 6 * mm
        y -= 8 * mm
    side = 45 * mm
    draw_qr(pdf, qr_text, left=width - 22 * mm - side, bottom=22 * mm, side=side)
    pdf.setFont(_FONT, 7.5)
    pdf.drawString(22 * mm, 30 * mm, f"证照标识：{document['identifier']}")
    pdf.drawString(
        22 * mm, 25 * mm, "扫描右侧二维码或访问 /api/v1/licenses/{标识}/verify 核验真伪与状态"
    )
    if watermark:
        pdf.saveState()
        pdf.setFillColorRGB(0.8, 0.1, 0.1, alpha=0.25)
        pdf.setFont(_FONT, 40)
        pdf.translate(width / 2, height / 2)
        pdf.rotate(30)
        pdf.drawCentredString(0, 0, watermark)
        pdf.restoreState()
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]
