"""What most commands need: settings, the store, the display zone."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from scheduler.config import Settings
    from scheduler.store.db import Store


def settings() -> Settings:
    from scheduler.config import get_settings

    return get_settings()


def open_default_store(migrate: bool = True) -> Store:
    from scheduler.errors import BadInput, CampaignError
    from scheduler.store.db import open_store, redact

    config = settings()
    url = config.resolved_database_url()
    try:
        return open_store(url, migrate=migrate, busy_timeout_ms=config.sqlite_busy_timeout_ms)
    except ImportError as exc:  # a dialect whose driver is not installed (mysql://...)
        raise BadInput(f"invalid database URL {redact(url)}: no driver for it ({exc})") from None
    except OSError as exc:  # a SQLite path whose directory cannot be created
        raise CampaignError(f"cannot open the database at {redact(url)}: {exc}") from None


def display_zone(name: str | None = None) -> ZoneInfo:
    from scheduler.plan import parse_zone

    return parse_zone(name or settings().tz or None)


def local(dt: datetime | None, zone: ZoneInfo, seconds: bool = False) -> str:
    """A table cell: local time with the zone's abbreviation or offset."""
    if dt is None:
        return "-"
    return dt.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def iso_utc(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")
