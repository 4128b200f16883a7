"""Documents of the license API."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["suspend", "restore", "revoke", "cancel", "transfer", "withdraw"]


class IssueIn(BaseModel):
    type: str = Field(min_length=1, max_length=80, description="license type key of the catalog")
    holder_id_number: str | None = Field(default=None, max_length=18)
    holder_uscc: str | None = Field(default=None, max_length=18)
    content: dict[str, Any] = Field(default_factory=dict)
    valid_from: date | None = None
    valid_until: date | None = None
    matter_code: str | None = Field(default=None, pattern=r"^[0-9A-Z]{12}$")
    license_number: str | None = Field(default=None, min_length=1, max_length=60)
    paper_number: str | None = Field(default=None, min_length=1, max_length=60)


class VersionIn(BaseModel):
    content: dict[str, Any] = Field(default_factory=dict)
    valid_until: date | None = None
    reason: str = Field(min_length=2, max_length=500)


class StatusIn(BaseModel):
    action: Action
    reason: str = Field(min_length=2, max_length=500)


class LicenseSummary(BaseModel):
    identifier: str
    type: str
    type_name: str
    version: int
    status: str
    status_label: str
    issued_on: str
    valid_until: str | None


class LicenseList(BaseModel):
    items: list[dict[str, Any]] = Field(description="the signed documents, exactly as signed")
    statuses: dict[str, str] = Field(description="identifier -> GB/T 36903 status code")


class EventOut(BaseModel):
    at: str
    action: str
    from_status: str | None
    to_status: str
    reason: str | None


class CheckOut(BaseModel):
    check: str
    ok: bool
    detail: str


class VerificationOut(BaseModel):
    valid: bool
    status: str | None
    reason: str | None
    checks: list[CheckOut]
    # The issuing region (its trust list holds the signing key) and, for another region's
    # license, its name and who checked it: this node against the peer's pinned trust list
    # ("trust_list") or the issuing region against its registry ("issuing_region").
    region: str | None = None
    region_name: str | None = None
    verified_by: str | None = None


class GrantIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "grantee_kind": "account",
                    "grantee": "credit1",
                    "licenses": [
                        "1.2.156.3005.2.11310000T00000003L002.11310000T00000003L.00000001.001.R"
                    ],
                    "fields": ["name", "id_number"],
                    "purpose": "经营贷款资质审核",
                    "days": 7,
                    "max_uses": 1,
                }
            ]
        }
    )

    grantee_kind: Literal["account", "department", "region"]
    grantee: str = Field(
        min_length=1, max_length=80, description="username, department key or region code"
    )
    licenses: list[str] = Field(min_length=1, max_length=20, description="identifiers")
    fields: list[str] | None = Field(default=None, max_length=50, description="None: all fields")
    purpose: str = Field(min_length=2, max_length=500)
    days: int = Field(default=30, ge=1, le=365)
    max_uses: int | None = Field(default=None, ge=1, le=10_000)
    holder_uscc: str | None = Field(
        default=None, max_length=18, description="an enterprise's licenses"
    )


class UseOut(BaseModel):
    at: str
    by: str
    license: str
    purpose: str


class GrantOut(BaseModel):
    id: int
    grantee_kind: str
    grantee: str
    grantee_name: str
    licenses: list[str]
    fields: list[str] | None
    purpose: str
    expires_at: str
    max_uses: int | None
    uses: int
    withdrawn: bool
    used: list[UseOut]


class PresentationIn(BaseModel):
    presentation: str = Field(min_length=10, max_length=100_000)
