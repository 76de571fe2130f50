"""Phone numbers in free text, masked before the text leaves the bot or is stored.

A run of 8 digits or more (single spaces, dots or dashes allowed between them, an
optional ``+`` before) is taken for a phone number: Malian numbers have 8 digits, other
countries' more, with ``+`` or ``00`` and the country code. Shorter numbers are never
touched: ages and brackets (``18-24``), a button's number (``2``), the emergency lines
people quote (``17``), prices of a few hundred thousand francs (``500 000 FCFA``). Three
longer shapes are not phones either and stay as typed: a round price grouped by
thousands (``10 000 000``) or followed by a currency (``15000000 FCFA``), years
(``2015-2018``) and dates (``12.05.2024``).

The referral form's phone step reads its own answer (``bot.referrals.form``); this module
is for everything else: the text sent to the NLU server and what analytics events store.
"""

from __future__ import annotations

import re

#: What a phone number becomes.
PHONE_MASK = "[phone]"
#: The fewest digits a phone number has (a Malian number without its country code).
MIN_PHONE_DIGITS = 8

_RUN = re.compile(r"\+?\d(?:[ .\-]?\d)*")
_SEPARATOR = re.compile(r"[ .\-]")
_CURRENCY = re.compile(r"\s*(?:f\s?cfa|cfa|fr\b|francs?\b|f\b|euros?\b|€|\$|dollars?\b)", re.I)
_YEAR = re.compile(r"(?:19|20)\d\d")


def mask_phones(text: str) -> str:
    """``text`` with each phone number replaced by ``[phone]``."""
    return _RUN.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    found = match.group(0)
    groups = _SEPARATOR.split(found.lstrip("+"))
    if sum(len(group) for group in groups) < MIN_PHONE_DIGITS:
        return found
    international = found.startswith(("+", "00"))
    if not international and (
        _price(found, groups, match.string[match.end() :]) or _years_or_date(groups)
    ):
        return found
    return PHONE_MASK


def _price(found: str, groups: list[str], after: str) -> bool:
    if _CURRENCY.match(after):
        return True
    thousands = (
        len(groups) >= 3
        and "-" not in found
        and 1 <= len(groups[0]) <= 3
        and all(len(group) == 3 for group in groups[1:])
    )
    return thousands and groups[-1] == "000"


def _years_or_date(groups: list[str]) -> bool:
    years = len(groups) >= 2 and all(_YEAR.fullmatch(group) for group in groups)
    date = (
        len(groups) == 3
        and all(1 <= len(group) <= 2 for group in groups[:2])
        and _YEAR.fullmatch(groups[2]) is not None
    )
    return years or date
