"""Roles and the identity API's documents."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Role(StrEnum):
    CITIZEN = "citizen"
    ENTERPRISE_AGENT = "enterprise_agent"
    WINDOW_STAFF = "window_staff"  # bound to a hall
    REVIEWER = "reviewer"  # bound to a department
    ISSUER = "issuer"  # a department's license issuing role
    ADMIN = "admin"
    VERIFIER = "verifier"  # bound to an organization and its scenes
    REGION_PEER = "region_peer"  # another region's node
    SUPERVISOR = "supervisor"  # 好差评 监督: escalated tickets and appeals, city-wide


# Staff act on other people's data: they need a second factor unless the deployment says not.
STAFF_ROLES = frozenset(
    {Role.WINDOW_STAFF, Role.REVIEWER, Role.ISSUER, Role.ADMIN, Role.SUPERVISOR}
)


class TokenRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"username": "citizen1", "password": "Demo@2026"},
                {"username": "window1", "password": "Demo@2026", "otp": "492039"},
            ]
        }
    )

    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)
    otp: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="staff: one-time code")


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=20, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str


class RoleOut(BaseModel):
    role: str
    binding: str


class PersonOut(BaseModel):
    """A person's profile as shown: personal fields masked."""

    name: str
    id_number: str
    phone: str
    address: str
    district: str | None
    street: str | None
    birth_date: str
    age: int
    gender: str
    elderly: bool
    disabled: bool
    real_name_verified: bool


class EnterpriseOut(BaseModel):
    uscc: str
    name: str
    type: str
    legal_representative: str
    address: str
    district: str


class MeOut(BaseModel):
    username: str
    display_name: str
    roles: list[RoleOut]
    person: PersonOut | None
    enterprise: EnterpriseOut | None


class PersonLookup(BaseModel):
    """Staff looking a person up (at a counter, by their ID card) must say why."""

    id_number: str = Field(min_length=15, max_length=18)
    reason: str = Field(min_length=2, max_length=200, description="shown to the person")


class AgentGrantIn(BaseModel):
    """An enterprise's legal representative authorizes a person (经办人) to act for it."""

    id_number: str = Field(min_length=18, max_length=18, description="the agent's ID number")
    scope: list[Annotated[str, StringConstraints(pattern=r"^(\*|0[1-9]|10|20)$")]] = Field(
        min_length=1, max_length=12, description='matter kind codes ("01".."10", "20"), or ["*"]'
    )
    days: int = Field(ge=1, le=3 * 365, description="how long the authorization lasts")
    enterprise_uscc: str | None = Field(
        default=None, min_length=18, max_length=18, description="which enterprise, if several"
    )


class AgentGrantOut(BaseModel):
    enterprise: str
    agent: str
    scope: list[str]
    expires_at: str
