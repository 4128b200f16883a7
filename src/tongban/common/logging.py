"""Logging that never writes a whole ID number or phone number, whoever formats the message."""

from __future__ import annotations

import logging
import re

from tongban.common.masking import mask_id_number, mask_phone

# An 18-character ID number, or an 11-digit mobile (with +86, spaces or dashes), not inside a
# longer run of digits. Letters around them do not protect them ("ID310115...").
_ID_RE = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
_MOBILE_RE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])")


def mask_text(text: str) -> str:
    text = _ID_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    return _MOBILE_RE.sub(lambda m: mask_phone(re.sub(r"[^0-9]", "", m.group(0))[-11:]), text)


class MaskPersonalData(logging.Filter):
    """Masks ID numbers and mobile numbers in every record, after %-formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Format the traceback now, so the masked text is what every handler prints.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


def install(level: str = "INFO") -> None:
    """Mask on the root logger's handlers (uvicorn's and ours alike)."""
    logging.basicConfig(level=level)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskPersonalData) for f in handler.filters):
            handler.addFilter(MaskPersonalData())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "tongban"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskPersonalData) for f in logger.filters):
            logger.addFilter(MaskPersonalData())
