"""Referral references: the short code a user quotes to a partner, e.g. ``KF-7Q3M2P``."""

from __future__ import annotations

import secrets

#: Unambiguous on a phone screen and over the phone: no 0/O, 1/I/L, U/V.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"


def new_reference() -> str:
    """A short code the user can quote, e.g. ``KF-7Q3M2P`` (29^6: about 600 million)."""
    return "KF-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))
