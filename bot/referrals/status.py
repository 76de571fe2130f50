"""The life of a referral: its statuses, in order, and the moves a partner may make.

A referral is ``pending`` from the moment the person sends it until its partner chat has
accepted the message; then ``sent -> received -> in_progress -> closed``, moved by the
partner, who may skip a step forward, never go back. Two statuses are outside that line:
``undeliverable`` (every delivery attempt failed: the admins are told and re-route it to
another service) and ``withdrawn`` (the person asked for their data to be erased; the
partner can no longer act on it). Statuses are stored as their string values.
"""

from __future__ import annotations

from enum import StrEnum


class ReferralStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    UNDELIVERABLE = "undeliverable"
    WITHDRAWN = "withdrawn"


#: The life of a referral a partner works, in order.
STATUSES: tuple[str, ...] = (
    ReferralStatus.SENT.value,
    ReferralStatus.RECEIVED.value,
    ReferralStatus.IN_PROGRESS.value,
    ReferralStatus.CLOSED.value,
)
#: Statuses the bot sets itself, never a partner: before delivery and after it failed.
DELIVERY_STATUSES: tuple[str, ...] = (
    ReferralStatus.PENDING.value,
    ReferralStatus.UNDELIVERABLE.value,
)
#: The statuses in which a referral still wants someone's attention (a partner's, or the
#: admins' while it is not delivered).
OPEN_STATUSES: tuple[str, ...] = (
    ReferralStatus.PENDING.value,
    *STATUSES[:-1],
    ReferralStatus.UNDELIVERABLE.value,
)


def next_statuses(status: str) -> tuple[str, ...]:
    """The statuses a partner may move a referral in ``status`` to."""
    if status not in STATUSES:
        return ()
    return STATUSES[STATUSES.index(status) + 1 :]


def can_move(status_from: str, status_to: str) -> bool:
    return status_to in next_statuses(status_from)
