"""GB/T 36904 identifiers, checked against the standard's own example."""

from __future__ import annotations

import pytest

from tongban.licenses.identifier import InvalidIdentifier, LicenseIdentifier, parse_identifier

EXAMPLE = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"


def test_the_standards_example_parses_and_rebuilds() -> None:
    identifier = parse_identifier(EXAMPLE)
    assert identifier.type_code == "11100000000013338W032"
    assert identifier.issuer == "11220000013544541J"
    assert identifier.serial == "2430599"
    assert identifier.version == 1
    assert identifier.check == "F"
    assert str(identifier) == EXAMPLE


def test_a_new_version_keeps_the_serial_and_changes_the_check() -> None:
    first = parse_identifier(EXAMPLE)
    second = first.next_version()
    assert str(second).startswith(
        "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.002."
    )
    assert parse_identifier(str(second)) == second


@pytest.mark.parametrize(
    "text",
    [
        EXAMPLE[:-1] + "G",  # wrong check character
        EXAMPLE.replace("2430599", "2430598"),  # a changed serial breaks the check
        EXAMPLE.replace("1.2.156.3005.2", "1.2.156.3005.3"),
        EXAMPLE.replace(".001.", ".01."),
        EXAMPLE.replace("11220000013544541J", "1122000001354454"),
        EXAMPLE + ".X",
        "",
        EXAMPLE.lower(),
    ],
)
def test_bad_identifiers_are_refused(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_identifier(text)


def test_parts_are_checked_when_built() -> None:
    with pytest.raises(InvalidIdentifier):
        LicenseIdentifier("11100000000013338W03", "11220000013544541J", "1", 1)
    with pytest.raises(InvalidIdentifier):
        LicenseIdentifier("11100000000013338W032", "11220000013544541J", "1", 1000)
    with pytest.raises(InvalidIdentifier):
        LicenseIdentifier("11100000000013338W032", "11220000013544541J", "a-1", 1)
