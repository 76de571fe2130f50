"""Referrals: passing a person's request to a service, with their consent, and following it.

A referral moves ``sent -> received -> in_progress -> closed``; a partner may skip a step
forward, never go back. ``first_name``, ``phone`` and ``description`` are sensitive: they
are shown to the user and to the service's partner chat only, never written to logs.
"""

from __future__ import annotations

import re
import secrets

#: The life of a referral, in order.
STATUSES: tuple[str, ...] = ("sent", "received", "in_progress", "closed")
#: Needs for which the bot offers to pass the person's request on.
REFERRAL_NEEDS = frozenset(
    {"return_help", "reintegration", "psychosocial", "missing_person", "ask_human"}
)

#: Unambiguous on a phone screen and over the phone: no 0/O, 1/I/L, U/V.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
MAX_NAME = 64
MAX_DESCRIPTION = 1000
MAX_LOCATION = 64


def new_reference() -> str:
    """A short code the user can quote, e.g. ``KF-7Q3M2P`` (29^6: about 600 million)."""
    return "KF-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def next_statuses(status: str) -> tuple[str, ...]:
    """The statuses a referral in ``status`` may move to."""
    if status not in STATUSES:
        return ()
    return STATUSES[STATUSES.index(status) + 1 :]


def can_move(status_from: str, status_to: str) -> bool:
    return status_to in next_statuses(status_from)


_SEPARATORS = re.compile(r"[\s.\-()/]")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def normalise_phone(text: str) -> str | None:
    """A phone number as typed, in E.164, or None when it is not one.

    Malian numbers may be typed as their 8 local digits; others need their country
    code (``+33 6...`` or ``0033 6...``).
    """
    compact = _SEPARATORS.sub("", text.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if re.fullmatch(r"[2-9]\d{7}", compact):
        compact = "+223" + compact
    return compact if _E164.match(compact) else None


def clean_text(text: str, limit: int) -> str:
    """User text kept for a referral: control characters removed, whitespace tidied."""
    printable = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text)
    lines = [" ".join(line.split()) for line in printable.strip().splitlines()]
    return "\n".join(line for line in lines if line)[:limit]
