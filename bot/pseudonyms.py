"""How a person is named in logs and to the agents: a pseudonym, never personal data.

A Telegram id, a phone or a name must not reach a log line or a chat of staff; the
internal ``users.id`` behind a fixed prefix identifies the case to the team without
identifying the person outside the database.
"""

from __future__ import annotations


def pseudonym(user_id: int) -> str:
    """``u<users.id>``: the internal number, never a Telegram id or a name."""
    return f"u{user_id}"
