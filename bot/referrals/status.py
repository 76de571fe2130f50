"""The life of a referral: its statuses, in order, and the moves a partner may make.

A referral moves ``sent -> received -> in_progress -> closed``; a partner may skip a step
forward, never go back. ``withdrawn``: the person asked for their data to be erased; the
partner can no longer act on it. Statuses are stored as their string values.
"""

from __future__ import annotations

from enum import StrEnum


class ReferralStatus(StrEnum):
    SENT = "sent"
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


#: The life of a referral a partner works, in order.
STATUSES: tuple[str, ...] = (
    ReferralStatus.SENT.value,
    ReferralStatus.RECEIVED.value,
    ReferralStatus.IN_PROGRESS.value,
    ReferralStatus.CLOSED.value,
)
#: The statuses in which a referral still wants its partner's attention.
OPEN_STATUSES: tuple[str, ...] = STATUSES[:-1]


def next_statuses(status: str) -> tuple[str, ...]:
    """The statuses a referral in ``status`` may move to."""
    if status not in STATUSES:
        return ()
    return STATUSES[STATUSES.index(status) + 1 :]


def can_move(status_from: str, status_to: str) -> bool:
    return status_to in next_statuses(status_from)
