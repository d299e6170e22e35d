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


def open_default_store() -> Store:
    from scheduler.store.db import open_store

    return open_store(settings().resolved_database_url())


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
