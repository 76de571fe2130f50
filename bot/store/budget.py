"""The shared send budget's row (``send_budget``): one statement per send, on PostgreSQL.

Slots follow the generic cell rate algorithm: ``next_slot`` is the earliest time the next
send may start; taking a slot moves it ``spacing`` seconds on. Times are the database's
clock (``clock_timestamp()``), the same for every process whatever its machine's clock.
Each function is one ``UPDATE`` on one row: PostgreSQL's row lock makes the processes
take their slots one after the other.
"""

from __future__ import annotations

from sqlalchemy import text

from bot.store.db import Session

_NOW = "extract(epoch from clock_timestamp())::float8"


async def ensure(session: Session, *, name: str) -> None:
    """The row of budget ``name`` (made once, by whichever process comes first)."""
    await session.execute(
        text(
            "INSERT INTO send_budget (name, next_slot, paused_until) VALUES (:name, 0, 0)"
            " ON CONFLICT (name) DO NOTHING"
        ),
        {"name": name},
    )


async def reserve(session: Session, *, name: str, spacing: float) -> float:
    """Take the next free slot, however far ahead (a pause included); seconds to wait for it."""
    wait = await session.scalar(
        text(
            f"WITH t AS (SELECT {_NOW} AS now)"
            " UPDATE send_budget b"
            " SET next_slot = GREATEST(b.next_slot, b.paused_until, t.now) + :spacing"
            " FROM t WHERE b.name = :name"
            " RETURNING b.next_slot - :spacing - t.now"
        ),
        {"name": name, "spacing": spacing},
    )
    if wait is None:
        raise LookupError(f"no send budget {name!r}")
    return max(0.0, float(wait))


async def take_if_free(session: Session, *, name: str, spacing: float) -> float:
    """Take a slot only if one is free now (0.0); otherwise take nothing and return the
    seconds until the next free one (broadcasts: what replies leave)."""
    row = (
        await session.execute(
            text(
                f"WITH t AS (SELECT {_NOW} AS now),"
                " taken AS ("
                "  UPDATE send_budget b SET next_slot = t.now + :spacing FROM t"
                "  WHERE b.name = :name AND GREATEST(b.next_slot, b.paused_until) <= t.now"
                "  RETURNING 1)"
                " SELECT (SELECT count(*) FROM taken),"
                " GREATEST(b.next_slot, b.paused_until) - t.now"
                " FROM send_budget b, t WHERE b.name = :name"
            ),
            {"name": name, "spacing": spacing},
        )
    ).one_or_none()
    if row is None:
        raise LookupError(f"no send budget {name!r}")
    taken, wait = row
    return 0.0 if taken else max(0.001, float(wait))


async def pause(session: Session, *, name: str, seconds: float) -> None:
    """Every send of every process waits ``seconds`` from now (a 429's ``retry_after``)."""
    await session.execute(
        text(
            f"UPDATE send_budget SET paused_until = GREATEST(paused_until, {_NOW} + :seconds)"
            " WHERE name = :name"
        ),
        {"name": name, "seconds": seconds},
    )
