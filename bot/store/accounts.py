"""Console accounts (staff who sign in to the web console) and the console's audit log.

Hashing is the caller's (``bot/web/console/passwords.py``): this room stores a hash and
never sees a password. Accounts come back as frozen :class:`Account` records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import ConsoleAccount, ConsoleAudit, utcnow


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    password_hash: str
    services: tuple[str, ...]
    languages: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None
    failed_logins: int
    locked_until: datetime | None
    password_changed_at: datetime
    #: The password was given by someone else: a new one is asked for first.
    must_change_password: bool = False

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    detail: str


def _record(row: ConsoleAccount) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        role=row.role,
        password_hash=row.password_hash,
        services=tuple(row.services.split()),
        languages=tuple(row.languages.split()),
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
        password_changed_at=row.password_changed_at,
        must_change_password=bool(row.must_change_password),
    )


async def count_accounts(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ConsoleAccount)) or 0)


async def create_account(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    password_hash: str,
    services: Sequence[str] = (),
    languages: Sequence[str] = (),
    must_change_password: bool = False,
) -> Account:
    """``must_change_password``: the password was chosen by someone else than the
    account's holder (an admin, the first start), to be replaced at first sign-in."""
    row = ConsoleAccount(
        name=name,
        role=role,
        password_hash=password_hash,
        services=" ".join(services),
        languages=" ".join(languages),
        failed_logins=0,
        must_change_password=must_change_password,
    )
    session.add(row)
    await session.flush()
    return _record(row)


async def account_by_name(session: AsyncSession, name: str) -> Account | None:
    row = await session.scalar(select(ConsoleAccount).where(ConsoleAccount.name == name))
    return None if row is None else _record(row)


async def account_by_id(session: AsyncSession, account_id: int) -> Account | None:
    row = await session.get(ConsoleAccount, account_id)
    return None if row is None else _record(row)


async def list_accounts(session: AsyncSession) -> list[Account]:
    rows = await session.scalars(select(ConsoleAccount).order_by(ConsoleAccount.name))
    return [_record(row) for row in rows]


async def set_disabled(session: AsyncSession, name: str, *, at: datetime | None) -> bool:
    """Disable (``at``) or enable (None) an account; False when there is no such name."""
    result = await session.execute(
        update(ConsoleAccount).where(ConsoleAccount.name == name).values(disabled_at=at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_password_hash(
    session: AsyncSession,
    name: str,
    password_hash: str,
    *,
    at: datetime | None = None,
    must_change: bool = False,
) -> bool:
    """A new hash; sessions signed before ``at`` (now) stop being valid, and the lock is
    lifted. ``must_change``: a one-time password set by someone else (a reset)."""
    result = await session.execute(
        update(ConsoleAccount)
        .where(ConsoleAccount.name == name)
        .values(
            password_hash=password_hash,
            password_changed_at=at or utcnow(),
            failed_logins=0,
            locked_until=None,
            must_change_password=must_change,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_login_failure(
    session: AsyncSession, account_id: int, *, locked_until: datetime | None
) -> None:
    await session.execute(
        update(ConsoleAccount)
        .where(ConsoleAccount.id == account_id)
        .values(failed_logins=ConsoleAccount.failed_logins + 1, locked_until=locked_until)
    )


async def record_login_success(session: AsyncSession, account_id: int) -> None:
    await session.execute(
        update(ConsoleAccount)
        .where(ConsoleAccount.id == account_id)
        .values(failed_logins=0, locked_until=None)
    )


async def audit(session: AsyncSession, *, actor: str, action: str, detail: str = "") -> None:
    """One line of the audit log. ``detail`` names things (an account, a role), never a
    password or a person who writes to the bot."""
    session.add(ConsoleAudit(actor=actor, action=action, detail=detail[:255]))
    await session.flush()


async def audit_log(session: AsyncSession, *, limit: int = 200) -> list[AuditEntry]:
    rows = await session.scalars(
        select(ConsoleAudit).order_by(ConsoleAudit.at.desc(), ConsoleAudit.id.desc()).limit(limit)
    )
    return [AuditEntry(r.at, r.actor, r.action, r.detail) for r in rows]
