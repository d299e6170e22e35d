"""Tables: campaigns, posts, events (the append-only post log), workers (heartbeats).

The classes declare the schema (Alembic compares against them); the store's operations
use their columns in Core statements on a Connection, never ORM sessions.

Times are stored as naive UTC and come back aware (UTC), on SQLite and PostgreSQL
alike, so comparisons in SQL never depend on a session time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from scheduler.model import Platform, Status

E = TypeVar("E", bound=StrEnum)


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class _StrEnumColumn(TypeDecorator[E]):
    """A StrEnum stored as its plain string value (the column stays a VARCHAR)."""

    impl = String(20)
    cache_ok = True

    def __init__(self, enum_class: type[E]) -> None:
        super().__init__()
        self.enum_class = enum_class  # named as the parameter: part of the cache key

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_class(value)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source_path: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    hashtags: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    # How its posts were framed (CampaignSettings as JSON), for edits and campaign files.
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # Set while paused: its posts are not claimed.
    paused_at: Mapped[datetime | None]


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        # The claim's whole order, so it walks the index and stops at its limit.
        Index("ix_posts_claim", "status", "next_attempt_at", "id"),
        Index("ix_posts_campaign", "campaign_id", "platform", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    platform: Mapped[Platform] = mapped_column(_StrEnumColumn(Platform))
    account: Mapped[str] = mapped_column(String(200), default="default")
    seq: Mapped[int]
    # The post this one replies to, and the first post of its thread (Bluesky replies
    # need both strong refs; storing the root saves walking the chain).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"), index=True)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"))
    text: Mapped[str] = mapped_column(Text)
    # The article's own words in the post; None: the text is exactly as given.
    body: Mapped[str | None] = mapped_column(Text)
    # 1, then one more for each edit: the claim and the publish log which text went out.
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Images, a link card, languages, labels (model.Attachments as JSON); null: bare text.
    attachments: Mapped[dict[str, Any] | None]
    scheduled_at: Mapped[datetime]
    status: Mapped[Status] = mapped_column(_StrEnumColumn(Status), default=Status.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    # An earlier attempt may have reached the platform: look before posting again.
    ambiguous: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    remote_id: Mapped[str | None] = mapped_column(String(200))
    remote_uri: Mapped[str | None] = mapped_column(Text)
    remote_cid: Mapped[str | None] = mapped_column(String(200))
    remote_url: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_post", "post_id", "id"),
        Index("ix_events_campaign", "campaign_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Null for daemon-wide events (e.g. a platform without credentials).
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    # Set for a campaign's own events (paused, renamed...); kept null once it is deleted.
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL", name="fk_events_campaign_id")
    )
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    worker: Mapped[str | None] = mapped_column(String(80))


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    last_seen: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None]


# The tables themselves, for Core statements: an UPDATE or INSERT on the mapped class goes
# through the ORM's bulk machinery even on a plain connection (measured: most of a record's
# cost); on the Table it is compiled once and cached.
POSTS = cast(Table, Post.__table__)
EVENTS = cast(Table, Event.__table__)
CAMPAIGNS = cast(Table, Campaign.__table__)
WORKERS = cast(Table, Worker.__table__)
