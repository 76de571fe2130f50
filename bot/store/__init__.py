"""Persistence: SQLAlchemy 2 models, repositories and Alembic migrations.

Nothing outside this package writes SQL. Repositories take an ``AsyncSession``
and return plain dataclasses, never ORM rows: ``records.to_record`` builds them.
Every timestamp column is ``types.UtcDateTime``: written in UTC, read back aware.
"""

from bot.store.db import Database, Session, upgrade_database

__all__ = ["Database", "Session", "upgrade_database"]
