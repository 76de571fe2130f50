"""What the referral form accepts: the needs it is offered for and the fields it keeps.

``first_name``, ``phone`` and ``description`` are sensitive: they are shown to the user and
to the service's partner chat only, never written to logs. The conversation that asks for
them lives in the dialogue engine; the rules about their values live here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

#: Needs for which the bot offers to pass the person's request on.
REFERRAL_NEEDS = frozenset(
    {"return_help", "reintegration", "psychosocial", "missing_person", "ask_human"}
)

MAX_NAME = 64
MAX_DESCRIPTION = 1000
MAX_LOCATION = 64

_SEPARATORS = re.compile(r"[\s.\-()/]")
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


def normalise_phone(text: str) -> str | None:
    """A phone number as typed, in E.164, or None when it is not one.

    Malian numbers may be typed as their 8 local digits; others need their country
    code (``+33 6...`` or ``0033 6...``).
    """
    compact = _SEPARATORS.sub("", text.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if re.fullmatch(r"[2-9][0-9]{7}", compact):
        compact = "+223" + compact
    return compact if _E164.match(compact) else None


def clean_text(text: str, limit: int) -> str:
    """User text kept for a referral: control characters removed, whitespace tidied."""
    printable = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text)
    lines = [" ".join(line.split()) for line in printable.strip().splitlines()]
    return "\n".join(line for line in lines if line)[:limit]


class LimitReached(StrEnum):
    """Why a person may not send another referral now."""

    OPEN = "open"
    DAY = "day"


@dataclass(frozen=True)
class ReferralLimits:
    """How many referrals one person may have open at once, and send in 24 hours: each is
    posted to a partner's chat, so an unlimited form would let one person flood it."""

    open: int = 3
    per_day: int = 3

    def reached(self, *, open_now: int, last_day: int) -> LimitReached | None:
        if open_now >= self.open:
            return LimitReached.OPEN
        if last_day >= self.per_day:
            return LimitReached.DAY
        return None
