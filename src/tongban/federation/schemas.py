"""What the bodies of messages and requests between regions hold (checked strictly on
arrival: a peer is trusted, but a body that does not read is refused, not guessed at), and the
documents of the administrator's API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Text = Annotated[str, Field(max_length=2000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonIn(Strict):
    name: Short
    id_number: Annotated[str, Field(min_length=15, max_length=18)]
    phone: Annotated[str | None, Field(max_length=20)] = None


class EnterpriseIn(Strict):
    uscc: Annotated[str, Field(min_length=18, max_length=18)]
    name: Short


class FileIn(Strict):
    material: Annotated[str, Field(min_length=1, max_length=60)]
    filename: Short
    content_type: Short
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(ge=1)]
    data: str  # base64 of the file (the sender's outbox holds a reference; it travels inline)


class LicenseIn(Strict):
    material: Annotated[str, Field(min_length=1, max_length=60)]
    document: dict[str, Any]


class HallIn(Strict):
    key: Short
    name: Short


class ForwardIn(Strict):
    """case.forward: a case accepted by the sender for a matter of ours."""

    id: Annotated[str, Field(min_length=1, max_length=40)]
    number: Short
    matter: Annotated[str, Field(pattern=r"^[0-9A-Z]{12}$")]
    matter_name: Short
    channel: Short
    hall: HallIn | None
    identified_by: Short
    applicant: PersonIn
    enterprise: EnterpriseIn | None = None
    form: dict[str, Any]
    delivery_method: Annotated[str, Field(pattern=r"^(pickup|post|electronic)$")]
    delivery_address: Text | None = None
    signed_at: AwareDatetime | None = None
    files: list[FileIn] = []
    licenses: list[LicenseIn] = []
    results_wanted: list[Annotated[str, Field(max_length=80)]] = []


class ResubmitIn(Strict):
    """case.resubmit: the applicant's answer to 补正, handed in where the case was accepted."""

    id: Annotated[str, Field(min_length=1, max_length=40)]
    form: dict[str, Any]
    files: list[FileIn] = []
    licenses: list[LicenseIn] = []


class StatusIn(Strict):
    """case.status: a step the handling region took."""

    case: Annotated[str, Field(min_length=1, max_length=40)]
    action: Annotated[str, Field(min_length=1, max_length=30)]
    status: Annotated[str, Field(min_length=1, max_length=30)]
    reason: Text | None = None
    number: Annotated[str | None, Field(max_length=30)] = None
    due_date: date | None = None
    license: dict[str, Any] | None = None
    results: dict[str, Any] = {}


class RefusedIn(Strict):
    """case.refused: the handling region could not take the case."""

    case: Annotated[str, Field(min_length=1, max_length=40)]
    reason: Text
    errors: list[dict[str, str]] = []


class DeliveredIn(Strict):
    """case.delivered: the accepting region handed the result out."""

    case: Annotated[str, Field(min_length=1, max_length=40)]
    detail: Text


class ConsentIn(Strict):
    """A person's consent, given in the asking region, carried by its signed request."""

    id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    person: PersonIn
    purpose: Short
    given_at: AwareDatetime
    expires_at: AwareDatetime


class LookupIn(Strict):
    """data.lookup: the person's licenses of these types (and record), under their consent."""

    consent: ConsentIn
    types: list[Annotated[str, Field(max_length=21)]] = Field(max_length=100)
    record: bool = False


class VerifyIn(Strict):
    """license.verify: is the license with this identifier genuine and valid today?"""

    identifier: Annotated[str, Field(min_length=10, max_length=120)]


class LicenseUsedIn(Strict):
    """license.used: a license of the receiver's proved a material in the sender's case."""

    identifier: Annotated[str, Field(min_length=10, max_length=120)]
    purpose: Short
    case_number: Annotated[str | None, Field(max_length=30)] = None


class ConsentWithdrawnIn(Strict):
    consent: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


# -- the administrator's API -------------------------------------------------------------------


class PeerAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=8, max_length=500)]
    fingerprint: Annotated[str | None, Field(pattern=r"^[0-9a-fA-F]{64}$")] = None
    agree: list[Annotated[str, Field(max_length=120)]] = Field(default=[], max_length=200)
    agree_shared: bool = False
    share_records: bool = False  # answer the peer's look-ups of a person's base record too


class AgreementsPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agree: list[Annotated[str, Field(max_length=120)]] = Field(default=[], max_length=200)


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: Annotated[str, Field(pattern=r"^[1-8][0-9]0000$")]
    purpose: Annotated[str, Field(min_length=2, max_length=200)]
    days: Annotated[int, Field(ge=1, le=365)] = 90
    with_record: bool = False
