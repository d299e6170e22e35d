"""Settings: the only place that reads the environment or `.env`.

Secrets are `SecretStr` so that a stray repr or log line shows `**********`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduler.errors import BadInput, MissingCredentials
from scheduler.model import Platform

APP_NAME = "campaign"

# The variables each platform's credentials come from, in the order .env.example lists them.
CREDENTIAL_VARIABLES: dict[Platform, tuple[str, ...]] = {
    Platform.X: ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"),
    Platform.BLUESKY: ("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD"),
    Platform.MASTODON: ("MASTODON_API_BASE_URL", "MASTODON_ACCESS_TOKEN"),
}


@dataclass(frozen=True, repr=False)
class XCredentials:
    """OAuth 1.0a user context: the app's key and secret, the account's token and secret."""

    api_key: str
    api_secret: str
    access_token: str
    access_token_secret: str
    base_url: str

    def secrets(self) -> tuple[str, ...]:
        return (self.api_key, self.api_secret, self.access_token, self.access_token_secret)

    def __repr__(self) -> str:
        return "XCredentials(...)"


@dataclass(frozen=True, repr=False)
class BlueskyCredentials:
    handle: str
    app_password: str
    pds_url: str

    def __repr__(self) -> str:
        return f"BlueskyCredentials(handle={self.handle!r}, pds_url={self.pds_url!r})"


@dataclass(frozen=True, repr=False)
class MastodonCredentials:
    """An instance and an app's access token (write:statuses write:media read:accounts
    read:statuses)."""

    api_base_url: str
    access_token: str

    def __repr__(self) -> str:
        return f"MastodonCredentials(api_base_url={self.api_base_url!r})"


def default_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


class Settings(BaseSettings):
    # Only the aliases are read: with populate_by_name, pydantic-settings also read each
    # field's own name, so the POSIX TZ was taken for CAMPAIGN_TZ (and DATA_DIR for
    # CAMPAIGN_DATA_DIR...).
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=False
    )

    # -- campaign -----------------------------------------------------------
    database_url: str = Field("", alias="CAMPAIGN_DATABASE_URL")
    hashtags: str = Field("", alias="CAMPAIGN_HASHTAGS")
    tz: str = Field("", alias="CAMPAIGN_TZ")
    max_article_bytes: int = Field(5 * 1024 * 1024, alias="CAMPAIGN_MAX_ARTICLE_BYTES", gt=0)
    data_dir: str = Field("", alias="CAMPAIGN_DATA_DIR")
    # SQLite only: how long a writer waits for another writer before "database is locked".
    sqlite_busy_timeout_ms: int = Field(30_000, alias="CAMPAIGN_SQLITE_BUSY_TIMEOUT_MS", ge=0)

    # -- daemon -------------------------------------------------------------
    poll_seconds: float = Field(5.0, alias="CAMPAIGN_POLL_SECONDS", gt=0)
    batch_size: int = Field(50, alias="CAMPAIGN_BATCH_SIZE", gt=0)
    lease_seconds: float = Field(120.0, alias="CAMPAIGN_LEASE_SECONDS", gt=0)
    backoff_base_seconds: float = Field(30.0, alias="CAMPAIGN_BACKOFF_BASE_SECONDS", gt=0)
    backoff_cap_seconds: float = Field(3600.0, alias="CAMPAIGN_BACKOFF_CAP_SECONDS", gt=0)
    max_attempts: int = Field(8, alias="CAMPAIGN_MAX_ATTEMPTS", gt=0)
    catch_up_hours: float = Field(6.0, alias="CAMPAIGN_CATCH_UP_HOURS", ge=0)
    shutdown_grace_seconds: float = Field(30.0, alias="CAMPAIGN_SHUTDOWN_GRACE_SECONDS", ge=0)
    heartbeat_stale_seconds: float = Field(120.0, alias="CAMPAIGN_HEARTBEAT_STALE_SECONDS", gt=0)

    # -- posting budgets (platform rate limits; older X tiers are far lower) ----
    x_budget_posts: int = Field(100, alias="CAMPAIGN_X_BUDGET_POSTS", gt=0)
    x_budget_window_seconds: int = Field(900, alias="CAMPAIGN_X_BUDGET_WINDOW_SECONDS", gt=0)
    bluesky_budget_posts: int = Field(1666, alias="CAMPAIGN_BLUESKY_BUDGET_POSTS", gt=0)
    bluesky_budget_window_seconds: int = Field(
        3600, alias="CAMPAIGN_BLUESKY_BUDGET_WINDOW_SECONDS", gt=0
    )
    # Mastodon's own posting limit: 300 statuses in 3 hours an account (app/lib/
    # rate_limiter.rb, FAMILIES[:statuses]).
    mastodon_budget_posts: int = Field(300, alias="CAMPAIGN_MASTODON_BUDGET_POSTS", gt=0)
    mastodon_budget_window_seconds: int = Field(
        10800, alias="CAMPAIGN_MASTODON_BUDGET_WINDOW_SECONDS", gt=0
    )

    # -- rich posts ---------------------------------------------------------
    # BCP 47 languages of the posts (Bluesky's `langs`), comma-separated; --lang overrides.
    langs: str = Field("", alias="CAMPAIGN_LANGS")
    # Link pages are never fetched from private or loopback addresses unless this is on.
    allow_private_links: bool = Field(False, alias="CAMPAIGN_ALLOW_PRIVATE_LINKS")
    link_timeout_seconds: float = Field(10.0, alias="CAMPAIGN_LINK_TIMEOUT_SECONDS", gt=0)

    # -- what X charges (https://docs.x.com/x-api/getting-started/pricing, 2026: "Content:
    # Create" $0.015 a request, "Content: Create (with URL)" $0.200, "Content: Manage" $0.005
    # (the alt text's media metadata); reads of the account's own posts $0.001 each) ----
    x_price_post: float = Field(0.015, alias="CAMPAIGN_X_PRICE_POST", ge=0)
    x_price_post_with_url: float = Field(0.20, alias="CAMPAIGN_X_PRICE_POST_WITH_URL", ge=0)
    x_price_media_metadata: float = Field(0.005, alias="CAMPAIGN_X_PRICE_MEDIA_METADATA", ge=0)
    x_price_read: float = Field(0.001, alias="CAMPAIGN_X_PRICE_READ", ge=0)
    # Out of credits (HTTP 402) or over the usage cap: the account's posts wait this long,
    # or until `campaign retry`.
    x_credits_wait_seconds: float = Field(3600.0, alias="CAMPAIGN_X_CREDITS_WAIT_SECONDS", gt=0)

    # -- X ------------------------------------------------------------------
    x_api_key: SecretStr | None = Field(None, alias="X_API_KEY")
    x_api_secret: SecretStr | None = Field(None, alias="X_API_SECRET")
    x_access_token: SecretStr | None = Field(None, alias="X_ACCESS_TOKEN")
    x_access_token_secret: SecretStr | None = Field(None, alias="X_ACCESS_TOKEN_SECRET")
    x_api_base_url: str = Field("https://api.twitter.com", alias="X_API_BASE_URL")

    # -- Bluesky ------------------------------------------------------------
    bluesky_handle: str = Field("", alias="BLUESKY_HANDLE")
    bluesky_app_password: SecretStr | None = Field(None, alias="BLUESKY_APP_PASSWORD")
    bluesky_pds_url: str = Field("https://bsky.social", alias="BLUESKY_PDS_URL")

    # -- Mastodon -----------------------------------------------------------
    mastodon_api_base_url: str = Field("", alias="MASTODON_API_BASE_URL")
    mastodon_access_token: SecretStr | None = Field(None, alias="MASTODON_ACCESS_TOKEN")
    # Until the instance says otherwise (GET /api/v2/instance, read by `queue` and
    # `accounts check`): Mastodon's defaults, configuration.statuses.max_characters 500 and
    # characters_reserved_per_url 23.
    mastodon_max_characters: int = Field(500, alias="CAMPAIGN_MASTODON_MAX_CHARACTERS", gt=0)
    mastodon_characters_per_url: int = Field(23, alias="CAMPAIGN_MASTODON_CHARACTERS_PER_URL", ge=0)
    # Always sent (an account's default may be unlisted or private); a thread's replies
    # may be quieter than its first post, as many accounts do.
    mastodon_visibility: str = Field("public", alias="CAMPAIGN_MASTODON_VISIBILITY")
    mastodon_reply_visibility: str = Field("", alias="CAMPAIGN_MASTODON_REPLY_VISIBILITY")
    # How long an image may take to be processed (POST /api/v2/media answers 202).
    mastodon_media_wait_seconds: float = Field(
        60.0, alias="CAMPAIGN_MASTODON_MEDIA_WAIT_SECONDS", gt=0
    )

    @field_validator("x_api_base_url", "bluesky_pds_url", "mastodon_api_base_url")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "mastodon_api_base_url" and not value.strip():
            return ""  # no instance: Mastodon is not configured
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in value.strip():
            example = {
                "x_api_base_url": "https://api.twitter.com",
                "mastodon_api_base_url": "https://mastodon.social",
            }.get(str(info.field_name), "https://bsky.social")
            raise ValueError(f"give the server's URL, such as {example}")
        try:
            parts.port  # noqa: B018  # raises for a port out of range or not a number
        except ValueError:
            raise ValueError("the port in the URL is not a number from 1 to 65535") from None
        return value.strip()

    @field_validator("mastodon_visibility", "mastodon_reply_visibility")
    @classmethod
    def _visibility(cls, value: str, info: ValidationInfo) -> str:
        chosen = value.strip().lower()
        if chosen == "" and info.field_name == "mastodon_reply_visibility":
            return ""  # the same as the first post's
        if chosen not in ("public", "unlisted", "private"):
            raise ValueError("choose public, unlisted or private")
        return chosen

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir() / 'campaign.db'}"

    def resolved_data_dir(self) -> Path:
        return Path(self.data_dir) if self.data_dir else default_data_dir()

    def default_tags(self) -> list[str]:
        return self.hashtags.split()

    # -- credentials: checked here and nowhere else ----------------------------------------

    def missing_credentials(self, platform: Platform) -> list[str]:
        """Names (never values) of the unset variables a platform needs."""
        return [name for name in CREDENTIAL_VARIABLES[platform] if not self._credential(name)]

    def x_credentials(self) -> XCredentials:
        self._require(Platform.X)
        return XCredentials(
            api_key=self._credential("X_API_KEY"),
            api_secret=self._credential("X_API_SECRET"),
            access_token=self._credential("X_ACCESS_TOKEN"),
            access_token_secret=self._credential("X_ACCESS_TOKEN_SECRET"),
            base_url=self.x_api_base_url,
        )

    def bluesky_credentials(self) -> BlueskyCredentials:
        self._require(Platform.BLUESKY)
        return BlueskyCredentials(
            handle=self._credential("BLUESKY_HANDLE").lstrip("@"),
            app_password=self._credential("BLUESKY_APP_PASSWORD"),
            pds_url=self.bluesky_pds_url,
        )

    def mastodon_credentials(self) -> MastodonCredentials:
        self._require(Platform.MASTODON)
        return MastodonCredentials(
            api_base_url=self._credential("MASTODON_API_BASE_URL").rstrip("/"),
            access_token=self._credential("MASTODON_ACCESS_TOKEN"),
        )

    def _require(self, platform: Platform) -> None:
        missing = self.missing_credentials(platform)
        if missing:
            raise MissingCredentials(f"{', '.join(missing)} not set (see .env.example)")

    def _credential(self, variable: str) -> str:
        value = getattr(self, variable.lower())
        text = value.get_secret_value() if isinstance(value, SecretStr) else (value or "")
        return str(text).strip()


def env_file_places() -> list[Path]:
    """Where .env files are looked for, in reading order (the later wins, and the
    environment wins over both): the user config dir (~/.config/campaign/.env on Linux),
    then the current directory."""
    from platformdirs import user_config_path

    return [user_config_path(APP_NAME) / ".env", Path(".env").absolute()]


def env_files() -> list[Path]:
    return [path for path in env_file_places() if path.is_file()]


def check_env_file(path: Path) -> None:
    """One sentence for a .env that python-dotenv would misread: it skips a line it cannot
    parse with a bare warning (an unterminated quote silently dropped the tags)."""
    from dotenv.parser import parse_stream

    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start}): save it as UTF-8"
        ) from None
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.string.strip()
            shown = line if len(line) <= 40 else line[:37] + "..."
            hint = " (an unterminated quote?)" if line.count('"') % 2 or line.count("'") % 2 else ""
            raise BadInput(
                f"{path}, line {binding.original.line}: cannot read {shown!r}{hint}; "
                "write NAME=value"
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    files = env_files()
    for path in files:
        check_env_file(path)
    return Settings(_env_file=tuple(files) or None)
