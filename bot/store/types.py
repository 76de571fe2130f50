"""Column types of the store: every timestamp is written in UTC and read back aware, in UTC.

SQLite keeps no time zone: SQLAlchemy writes the wall-clock digits of whatever it is given
and hands back naive values. PostgreSQL's ``timestamptz`` keeps the instant but returns it
in the session's time zone. :class:`UtcDateTime` makes both behave the same, so no caller
has to repair a datetime it read from the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, aware; a naive value is taken to be UTC already (how it was stored)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that stores UTC and always returns aware UTC datetimes.

    Writing a naive datetime is refused: the store cannot know what zone it meant, and a
    guess would be silently wrong on PostgreSQL (where the server's zone would apply).
    The column in the database is unchanged (``TIMESTAMP WITH TIME ZONE`` on PostgreSQL,
    ``DATETIME`` on SQLite), so adopting this type needs no migration.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store needs a time zone (use datetime.now(UTC))")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return as_utc(value)


def render_for_migrations(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    """Alembic's ``render_item`` hook: autogenerate writes ``UtcDateTime`` as the plain
    column type it stands on, so a migration never imports the bot's code."""
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False
