"""What most commands need: settings, the store, the display zone, time cells."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from scheduler.plan import parse_zone

if TYPE_CHECKING:
    from scheduler.config import Settings
    from scheduler.store import Store


def settings() -> Settings:
    from scheduler.config import get_settings  # pydantic: only when a command needs it

    return get_settings()


def open_default_store(migrate: bool = True) -> Store:
    from scheduler.store import open_store  # SQLAlchemy: only when a command needs it

    config = settings()
    return open_store(
        config.resolved_database_url(),
        migrate=migrate,
        busy_timeout_ms=config.sqlite_busy_timeout_ms,
    )


def display_zone(name: str | None = None) -> ZoneInfo:
    return parse_zone(name or settings().tz or None)


def local(dt: datetime | None, zone: ZoneInfo, seconds: bool = False) -> str:
    """A table cell: local time with the zone's abbreviation or offset."""
    if dt is None:
        return "-"
    return dt.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def iso_utc(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")
