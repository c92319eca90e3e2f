"""The migration revision of Tillit's own tables this release needs, and the start-up check.

Tillit's own tables (quarantine, loads, audit, receipts, disclosures, restrictions, replay
cache, lineage) are created and changed only by the Alembic migrations in ``tillit.migrations``
(``tillit db upgrade``). The broker and the pipeline never create them; they read the
revision Alembic records in ``tillit_alembic_version`` and refuse to start when the database
is behind this release, so a replica never runs against a schema it was not written for.
"""

from __future__ import annotations

import logging
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger(__name__)

SCHEMA_REVISIONS: Final = ("0001", "0002", "0003", "0004", "0005", "0006")
"""Every migration revision, oldest first; the last is the one this release needs.

A test checks this against the migration scripts, so adding a migration without naming it
here (or the reverse) fails the suite.
"""

VERSION_TABLE: Final = "tillit_alembic_version"
UPGRADE_HINT: Final = "run `tillit db upgrade` against this database first"


class SchemaNotCurrentError(RuntimeError):
    """The database lacks migrations this release needs; raised before anything is served."""


def schema_revision(conn: Connection) -> str | None:
    """The revision the database was migrated to, or None if it never was."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    version = sa.table(VERSION_TABLE, sa.column("version_num"))
    revisions = conn.execute(sa.select(version.c.version_num)).scalars().all()
    if len(revisions) > 1:
        raise SchemaNotCurrentError(f"the database has several schema heads: {sorted(revisions)}")
    return revisions[0] if revisions else None


def require_current_schema(engine: Engine) -> None:
    """Refuse to run unless the database is migrated to this release's revision (or newer)."""
    with engine.connect() as conn:
        revision = schema_revision(conn)
    needed = SCHEMA_REVISIONS[-1]
    if revision == needed:
        return
    if revision is None:
        raise SchemaNotCurrentError(f"the database has no Tillit schema; {UPGRADE_HINT}")
    if revision in SCHEMA_REVISIONS:
        raise SchemaNotCurrentError(
            f"the database schema is at revision {revision}, this release needs {needed}; "
            f"{UPGRADE_HINT}"
        )
    # A revision this release does not know was written by a newer release. Migrations only
    # add while older releases may still run (expand, then contract a release later), so an
    # older replica keeps working during a rolling upgrade.
    logger.warning(
        "The database schema is at revision %s, newer than this release's %s", revision, needed
    )
