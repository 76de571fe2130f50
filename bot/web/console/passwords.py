"""Argon2 password hashes for console accounts; a password is never stored nor logged."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()

#: Shorter passwords are refused by ``kunnafoni users``.
MIN_LENGTH = 10


@cache
def _dummy() -> str:
    """Verified against when the name is unknown, so that a wrong name and a wrong
    password take the same time (made at first use: hashing is slow on purpose)."""
    return _HASHER.hash("not-a-password-anyone-has")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """A random password to give once (the first admin)."""
    return secrets.token_urlsafe(15)


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    return None
