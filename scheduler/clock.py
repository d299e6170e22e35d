"""The wall clock, in one place: commands and the daemon take time from here (tests pass
their own clock to the dispatcher instead)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
