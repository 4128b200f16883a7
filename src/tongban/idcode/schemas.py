"""Documents of the code API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tongban.idcode.token import Channel

SubjectKind = Literal["person", "enterprise"]

CHANNELS: dict[str, Channel] = {
    "web": Channel.WEB,
    "app": Channel.APP,
    "wechat": Channel.WECHAT,
    "alipay": Channel.ALIPAY,
}


class CodeRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"subject": "person", "channel": "wechat"},
                {"subject": "enterprise", "uscc": "91310115MA10000015", "channel": "app"},
            ]
        }
    )

    subject: SubjectKind = "person"
    uscc: str | None = Field(
        default=None,
        pattern=r"^[0-9A-HJ-NP-RT-UW-Ya-hj-np-rt-uw-y]{18}$",
        description="which enterprise, for an agent of several",
    )
    channel: Literal["web", "app", "wechat", "alipay"] = "app"


class CodeOut(BaseModel):
    token: str = Field(description="the code's text; the QR encodes exactly this")
    subject_type: str
    issued_at: str
    expires_at: str
    qr_svg: str


class PaperCodeOut(BaseModel):
    token: str
    issued_at: str
    expires_at: str
    qr_svg: str
    pdf: str = Field(description="where to download the printable card")


class Revoked(BaseModel):
    revoked: int


class CounterPaperCodeIn(BaseModel):
    id_number: str = Field(min_length=15, max_length=18)


class ScanIn(BaseModel):
    # No example body: a code is valid for 60 seconds, so any printed one is already stale.
    token: str = Field(min_length=1, max_length=600)
    id_number: str | None = Field(
        default=None,
        max_length=18,
        description="read from the holder's ID card: required with a paper code",
    )


class ScanOut(BaseModel):
    valid: bool
    scene: str
    subject_type: str
    paper: bool
    expires_at: str
    attributes: dict[str, Any]
    hall: dict[str, Any] | None = None


class SceneOut(BaseModel):
    key: str
    name: str
    name_en: str
    subjects: list[str]
    use: str
    accepts_paper: bool
    attributes: dict[str, list[str]]


class ScanSeenOut(BaseModel):
    at: str
    scene: str
    scene_name: str
    verifier: str
    place: str | None
    outcome: str
    attributes: list[str]
