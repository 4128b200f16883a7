"""No whole ID number or phone number reaches a log line."""

from __future__ import annotations

import logging

import pytest

from tongban.common.logging import MaskPersonalData, mask_text


def test_mask_text() -> None:
    text = "citizen 310115198001010016 called from 13800138000 about order 12345678901234567890"
    assert mask_text(text) == (
        "citizen 310***********0016 called from 138****8000 about order 12345678901234567890"
    )


def test_the_filter_masks_formatted_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tongban.test.masking")
    logger.addFilter(MaskPersonalData())
    with caplog.at_level(logging.INFO, logger="tongban.test.masking"):
        logger.info("lookup of %s by phone %s", "11010519491231002X", "13912345678")
    assert caplog.messages == ["lookup of 110***********002X by phone 139****5678"]


def test_the_harder_cases() -> None:
    assert mask_text("ID310115198001010016,") == "ID310***********0016,"
    assert mask_text("tel +8613800138000") == "tel 138****8000"
    assert mask_text("tel 138-0013-8000 ok") == "tel 138****8000 ok"


def test_tracebacks_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tongban.test.masking.exc")
    logger.addFilter(MaskPersonalData())
    with caplog.at_level(logging.ERROR, logger="tongban.test.masking.exc"):
        try:
            raise ValueError("bad id 310115198001010016")
        except ValueError:
            logger.exception("failed")
    assert "310115198001010016" not in caplog.text and "310***********0016" in caplog.text
