"""The outbox's delivery-time index holds delivered rows only.

``ix_lineage_outbox_delivered_at`` held every row, undelivered ones under NULL, and SQLite's
planner took it for the shipper's due-batch query (``delivered_at IS NULL``) instead of the
partial index made for that query: it then read every undelivered row, walking each 5 KB
event's overflow pages to reach its next attempt time, and sorted them. With 3,000 events
queued that query took 6.8 ms a batch instead of 0.03 ms. Purging delivered rows, the
index's own use, only ever asks for delivered ones.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_lineage_outbox_delivered_at"
_DELIVERED = sa.text("delivered_at IS NOT NULL")


def upgrade() -> None:
    op.drop_index(_INDEX, table_name="lineage_outbox")
    op.create_index(
        _INDEX,
        "lineage_outbox",
        ["delivered_at"],
        postgresql_where=_DELIVERED,
        sqlite_where=_DELIVERED,
    )


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="lineage_outbox")
    op.create_index(_INDEX, "lineage_outbox", ["delivered_at"])
