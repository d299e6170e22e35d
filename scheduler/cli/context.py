"""What most commands need: settings, the store, the display zone, time cells."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from scheduler.cli.output import warn

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

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
    """--tz, else CAMPAIGN_TZ, else the system zone (with a warning when there is none)."""
    from scheduler.plan import parse_zone, system_zone  # zoneinfo: not on the --help path

    chosen = name or settings().tz
    if chosen:
        return parse_zone(chosen)
    zone, note = system_zone()
    if note:
        warn(note)
    return zone


def zone_label(zone: ZoneInfo) -> str:
    """A zone's name for a column header: its key, or 'local time' for a zone read from a
    file that has none."""
    return zone.key or "local time"


def local(dt: datetime | None, zone: ZoneInfo, seconds: bool = False) -> str:
    """A table cell: local time with the zone's abbreviation or offset."""
    if dt is None:
        return "-"
    return dt.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def time_column(
    name: str, times: Sequence[datetime], zone: ZoneInfo, seconds: bool = False
) -> tuple[str, list[str]]:
    """A table's time column: its header and cells. When every time has the same zone
    abbreviation, it goes once into the header ('scheduled (+04)') and the cells stay
    narrow; across a DST change each cell keeps its own."""
    cells = [local(t, zone, seconds) for t in times]
    suffixes = {c.rpartition(" ")[2] for c in cells}
    if len(suffixes) != 1:
        return name, cells
    (suffix,) = suffixes
    return f"{name} ({suffix})", [c.rpartition(" ")[0] for c in cells]


def iso_utc(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")
