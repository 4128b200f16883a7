"""OCR of uploaded materials, offline on the CPU: RapidOCR with the PP-OCRv6 small detection
and recognition models its wheel ships, run by onnxruntime. The configuration is pinned to
those bundled models: naming any other makes RapidOCR download one at run time, which a
government network does not allow.

The engine loads once per process (about a second) and is shared under a lock: onnxruntime
sessions are not documented as safe for concurrent calls from several threads.
"""

from __future__ import annotations

import io
import threading
from typing import Any

from tongban.prereview.documents import Line, Reading, extract

_lock = threading.Lock()
_engine: Any = None
# Larger pages are scaled down to this many pixels on the long side before detection: phone
# photos are 4000 px, and text on a document page stays readable at 1600.
MAX_SIDE = 1600
PDF_SCALE = 2.0  # 144 dpi for a rendered PDF page
PDF_MAX_SIDE = 2000  # pixels: a poster-sized page is not rendered at 144 dpi


class UnreadableDocument(ValueError):
    """The file is not an image or PDF that can be read."""


def _ocr() -> Any:
    global _engine
    if _engine is None:
        from rapidocr import RapidOCR

        # Lines only (no per-word boxes); the text classifier turns upside-down lines around.
        _engine = RapidOCR(params={"Global.log_level": "error", "Global.use_cls": True})
    return _engine


def pages_of(data: bytes, media_type: str) -> list[Any]:
    """The document's pages as RGB images (numpy arrays); a PDF gives its first two pages."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if media_type == "application/pdf" or data[:5] == b"%PDF-":
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise UnreadableDocument(str(exc)) from exc
        try:
            images = [_render(pdf[i]) for i in range(min(2, len(pdf)))]
        finally:
            pdf.close()
    else:
        try:
            images = [Image.open(io.BytesIO(data))]
        except (UnidentifiedImageError, OSError) as exc:
            raise UnreadableDocument(str(exc)) from exc
    out = []
    for image in images:
        rgb = image.convert("RGB")
        rgb.thumbnail((MAX_SIDE, MAX_SIDE))
        out.append(np.asarray(rgb))
    return out


def _render(page: Any) -> Any:
    width, height = page.get_size()  # in points
    scale = min(PDF_SCALE, PDF_MAX_SIDE / max(width, height, 1))
    return page.render(scale=scale).to_pil()


def read_lines(image: Any) -> list[Line]:
    """The text lines of one page in reading order: rows top to bottom, and the boxes of one
    row (a label and its value are often two boxes) joined left to right."""
    with _lock:
        result = _ocr()(image)
    texts = list(result.txts or ())
    if not texts:
        return []
    boxes = [_bounds(b) for b in result.boxes]
    scores = list(result.scores or [1.0] * len(texts))
    items = sorted(zip(boxes, texts, scores, strict=True), key=lambda t: (t[0][1], t[0][0]))
    rows: list[list[tuple[tuple[int, int, int, int], str, float]]] = []
    for item in items:
        box = item[0]
        middle = (box[1] + box[3]) / 2
        if rows:
            last = rows[-1][0][0]
            if last[1] <= middle <= last[3]:
                rows[-1].append(item)
                continue
        rows.append([item])
    lines = []
    for row in rows:
        row.sort(key=lambda t: t[0][0])
        left = min(b[0] for b, _, _ in row)
        top = min(b[1] for b, _, _ in row)
        right = max(b[2] for b, _, _ in row)
        bottom = max(b[3] for b, _, _ in row)
        text = " ".join(t for _, t, _ in row)
        score = min(s for _, _, s in row)
        lines.append(Line(text, float(score), (left, top, right, bottom)))
    return lines


def _bounds(points: Any) -> tuple[int, int, int, int]:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys))


def read_document(data: bytes, media_type: str) -> Reading:
    """Every page read; the kind and fields come from the first page that says what it is."""
    pages = [read_lines(page) for page in pages_of(data, media_type)]
    readings = [extract(lines) for lines in pages]
    for number, reading in enumerate(readings, start=1):
        if reading.kind != "unknown":
            reading.page = number
            return reading
    return readings[0] if readings else extract([])
