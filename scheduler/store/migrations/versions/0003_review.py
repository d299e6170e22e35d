"""review: a campaign's settings and pause, a post's body and revision, campaign events

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

- campaigns.settings: how its posts were framed (tags, link, numbering, zone), so that an
  edited body is framed the same way; campaigns.paused_at: paused campaigns are not claimed.
- posts.body: the article's own words in the post (null: the text is exactly as given);
  posts.revision: counts edits, and the claim and the publish log it, so the log says
  which text went out.
- events.campaign_id: events of a campaign rather than of one post (paused, renamed...).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settings", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_events_campaign_id", "campaigns", ["campaign_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_events_campaign", ["campaign_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_campaign")
        batch_op.drop_constraint("fk_events_campaign_id", type_="foreignkey")
        batch_op.drop_column("campaign_id")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("revision")
        batch_op.drop_column("body")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("paused_at")
        batch_op.drop_column("settings")
