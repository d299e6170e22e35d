"""attachments: what a post carries besides its text

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

- posts.attachments: images (hash, type, size, alt), a link card, languages and labels,
  as JSON (model.Attachments); null for a bare post. The image files live in the data
  directory under their hashes, so the row stays small.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attachments", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("attachments")
