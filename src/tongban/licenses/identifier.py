"""GB/T 36904 license identifiers: build, parse and check.

    1.2.156.3005.2.<type code>.<issuer credit code>.<serial>.<version>.<check>

- type code: the defining body's unified social credit code and 3 digits (21 characters);
- issuer: the issuing body's unified social credit code (18 characters);
- serial: the issuer's number for this license, digits and capital letters;
- version: 3 digits, 001 for the first issue, up by one for each new version;
- check: ISO 7064 MOD 37,36 (hybrid) over type code + issuer + serial + version, without dots.

python-stdnum computes the check character (its result on the example of domain.md is F, as
the standard's example says).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.iso7064 import mod_37_36

ROOT = "1.2.156.3005.2"
_PART = re.compile(r"^[0-9A-Z]+$")
_TYPE = re.compile(r"^[0-9A-Z]{18}[0-9]{3}$")
_ISSUER = re.compile(r"^[0-9A-Z]{18}$")
_SERIAL = re.compile(r"^[0-9A-Z]{1,32}$")
_VERSION = re.compile(r"^[0-9]{3}$")


class InvalidIdentifier(ValueError):
    pass


@dataclass(frozen=True)
class LicenseIdentifier:
    type_code: str
    issuer: str
    serial: str
    version: int

    def __post_init__(self) -> None:
        if not _TYPE.fullmatch(self.type_code):
            raise InvalidIdentifier("the type code is a credit code and 3 digits")
        if not _ISSUER.fullmatch(self.issuer):
            raise InvalidIdentifier("the issuer is an 18-character credit code")
        if not _SERIAL.fullmatch(self.serial):
            raise InvalidIdentifier("the serial is 1 to 32 digits or capital letters")
        if not 1 <= self.version <= 999:
            raise InvalidIdentifier("the version is 1 to 999")

    @property
    def check(self) -> str:
        return str(mod_37_36.calc_check_digit(self._checked_part()))

    def _checked_part(self) -> str:
        return f"{self.type_code}{self.issuer}{self.serial}{self.version:03d}"

    def __str__(self) -> str:
        return (
            f"{ROOT}.{self.type_code}.{self.issuer}.{self.serial}.{self.version:03d}.{self.check}"
        )

    def next_version(self) -> LicenseIdentifier:
        return LicenseIdentifier(self.type_code, self.issuer, self.serial, self.version + 1)


def parse_identifier(text: str) -> LicenseIdentifier:
    """The parts of an identifier, after checking its form and its check character."""
    text = text.strip()
    if not text.startswith(ROOT + "."):
        raise InvalidIdentifier(f"an identifier starts with {ROOT}")
    parts = text[len(ROOT) + 1 :].split(".")
    if len(parts) != 5 or not all(_PART.fullmatch(p) for p in parts):
        raise InvalidIdentifier("type.issuer.serial.version.check expected")
    type_code, issuer, serial, version, check = parts
    if not _VERSION.fullmatch(version) or len(check) != 1:
        raise InvalidIdentifier("the version is 3 digits and the check one character")
    identifier = LicenseIdentifier(type_code, issuer, serial, int(version))
    if identifier.check != check:
        raise InvalidIdentifier("the check character does not match")
    return identifier
