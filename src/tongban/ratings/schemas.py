"""Documents of the 好差评 API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Annotated[int, Field(ge=1, le=5)]


class RatingIn(BaseModel):
    """One rating: of a finished case or of a counter visit (exactly one of the two)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "case_id": 12,
                    "level": 2,
                    "indicators": {"efficiency": 2, "guide_accuracy": 3},
                    "comment": "指南上没写要带原件，跑了两次",
                    "channel": "app",
                }
            ]
        },
    )

    case_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    visit_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    level: Level = Field(description="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意")
    indicators: dict[str, Level] = Field(
        default_factory=dict,
        max_length=8,
        description="online: efficiency, guide_accuracy, convenience, ease_of_use; "
        "at a counter: efficiency, competence, attitude",
    )
    comment: str | None = Field(default=None, max_length=500)
    channel: Literal["web", "app", "wechat", "alipay", "pad", "sms", "scan"] = "web"


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=1000)


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Literal["department_fault", "policy", "system", "misunderstanding"]
    verification: str = Field(min_length=1, max_length=1000)


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    satisfied: bool
    note: str | None = Field(default=None, max_length=500)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upheld: bool
    reason: str = Field(min_length=1, max_length=1000)


class StatsOut(BaseModel):
    count: int
    levels: dict[str, int]
    satisfaction_rate: float | None
    bad: int
    rectified: int
    rectified_on_time: int
    rectification_rate: float | None
    on_time_rate: float | None


class GroupOut(StatsOut):
    key: str
    name: str
