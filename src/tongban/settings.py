"""Configuration from the environment (prefix TONGBAN_) or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tongban.common.regions import REGION_NAMES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TONGBAN_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./tongban.db",
        description="SQLAlchemy URL: sqlite:///PATH (embedded) or postgresql+psycopg://...",
    )
    read_database_url: str | None = Field(
        default=None,
        pattern=r"^postgresql(\+psycopg)?://",
        description="a PostgreSQL streaming replica for the catalog's reads (search, guides, "
        "departments, halls); the primary answers them while it is away or behind",
    )
    read_max_lag_seconds: float = Field(
        default=30.0, ge=0, le=3600, description="how far behind the replica may be and still read"
    )
    region_code: str = Field(
        default="310000",
        pattern=r"^[1-8][0-9]0000$",
        description="this node's region (310000 上海, 320000 江苏, 330000 浙江, 340000 安徽)",
    )
    region_name: str = Field(
        default="", description="the region's name on screen; default: the code's name"
    )
    hotline: str = Field(default="12345", description="the citizens' hotline shown on every page")
    catalog_dir: Path | None = Field(
        default=None, description="catalog YAML folder; default: the shipped catalog"
    )
    search_cache_dir: Path | None = Field(
        default=None, description="where the word segmenter keeps its dictionary cache"
    )
    kek: SecretStr | None = Field(
        default=None, description="key-encryption key: base64 of 32 random bytes"
    )
    kek_file: Path | None = Field(default=None, description="a file holding the KEK (base64)")
    field_cipher: Literal["sm4-gcm", "aes-256-gcm"] = Field(
        default="sm4-gcm", description="the AEAD that encrypts personal fields"
    )
    require_staff_otp: bool = Field(
        default=True, description="staff roles need a one-time code to log in (demo: off)"
    )
    max_failed_logins: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    cookie_secure: bool = Field(
        default=False,
        description="mark cookies Secure even when TLS ends at a proxy in front of us",
    )
    session_hours: int = Field(default=12, ge=1, le=24 * 30, description="portal login lifetime")
    login_rate_per_minute: int = Field(
        default=20, ge=1, le=10_000, description="token requests per client address a minute"
    )
    allowed_hosts: list[str] = Field(
        default=["*"], description='Host headers to answer, e.g. ["www.example.gov.cn"]'
    )
    log_level: str = Field(default="INFO")
    code_ttl_seconds: int = Field(
        default=60, ge=15, le=600, description="life of a dynamic 随申码 shown on a phone"
    )
    paper_code_days: int = Field(
        default=365, ge=1, le=5 * 365, description="life of a printed paper code"
    )
    code_clock_skew_seconds: int = Field(
        default=5, ge=0, le=120, description="clock difference forgiven between issuer and scanner"
    )
    code_rate_per_minute: int = Field(
        default=20, ge=1, le=10_000, description="codes one account may have issued a minute"
    )
    trust_list_days: int = Field(
        default=7, ge=1, le=90, description="how long a published trust list stays current"
    )
    files_dir: Path | None = Field(
        default=None,
        description="where uploaded materials are kept (encrypted); default: beside an SQLite "
        "database (DB.files), else ./tongban-files",
    )
    max_upload_mb: int = Field(default=10, ge=1, le=200, description="largest uploaded file")
    scenes_file: Path | None = Field(
        default=None, description="a scene registry of your own instead of the shipped one"
    )
    # 好差评: local rules give 5 or 15 working days for a step; each step is its own setting.
    rating_change_days: int = Field(
        default=7, ge=0, le=90, description="days in which a rater may change their rating"
    )
    ticket_verify_days: int = Field(
        default=5, ge=1, le=60, description="working days to classify and verify a bad rating"
    )
    ticket_rectify_days: int = Field(
        default=15, ge=1, le=60, description="working days to rectify after verification"
    )
    ticket_answer_days: int = Field(
        default=5, ge=1, le=60, description="working days to answer the rater after rectifying"
    )
    ticket_reply_days: int = Field(
        default=5, ge=1, le=60, description="working days the rater has to reply to the answer"
    )
    ticket_appeal_days: int = Field(
        default=5, ge=1, le=60, description="working days a supervisor has to decide an appeal"
    )
    # 跨省通办: messages between regions (docs/federation.md).
    federation_timeout_seconds: float = Field(
        default=10.0, ge=0.5, le=120, description="how long to wait for a peer region's answer"
    )
    federation_retry_cap_seconds: int = Field(
        default=60, ge=1, le=3600, description="the longest wait between two delivery attempts"
    )
    federation_dead_after_hours: int = Field(
        default=72,
        ge=1,
        le=24 * 30,
        description="a message a peer has not taken in this long goes to the dead letters",
    )
    federation_message_max_age_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="older messages are refused (their ids are remembered this long)",
    )
    federation_refresh_minutes: int = Field(
        default=60,
        ge=1,
        le=24 * 60,
        description="how often peers' trust and status lists are fetched",
    )
    peer_verify_rate_per_minute: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description="checks of another region's licenses by identifier, per client a minute",
    )
    federation_rate_per_minute: int = Field(
        default=600,
        ge=1,
        le=100_000,
        description="posts to /federation/messages and /requests per client address a minute",
    )
    federation_max_message_mb: int = Field(
        default=64, ge=1, le=512, description="the largest message a peer may send"
    )

    @model_validator(mode="after")
    def _region_named(self) -> Settings:
        if not self.region_name:
            self.region_name = REGION_NAMES.get(self.region_code, self.region_code)
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()


def sqlite_url(path: str | Path) -> str:
    """The database URL for an embedded SQLite file (what `--db PATH` means)."""
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def demo_kek_path(database_url: str) -> Path | None:
    """Where `tongban demo` keeps the KEK of an SQLite demo database: beside it, never in git."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    return Path(database_url[len(prefix) :] + ".kek")


def files_dir_for(settings: Settings) -> Path:
    """The uploads folder: the setting, or beside an SQLite database, or ./tongban-files."""
    if settings.files_dir is not None:
        return settings.files_dir
    prefix = "sqlite:///"
    if settings.database_url.startswith(prefix) and ":memory:" not in settings.database_url:
        return Path(settings.database_url[len(prefix) :] + ".files")
    return Path("tongban-files")
