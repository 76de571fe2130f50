"""Argon2 password hashes for console accounts; a password is never stored nor logged."""

from __future__ import annotations

import asyncio
import secrets
import threading
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
#: Argon2 takes 64 MiB for about a tenth of a second per hash (its default memory cost):
#: one at a time in a process, so that sign-ins at once never add more than that to the
#: bot's memory (they wait their turn instead).
_ONE_AT_A_TIME = threading.Lock()

#: Shorter passwords are refused by ``kunnafoni users``.
MIN_LENGTH = 10


@cache
def _dummy() -> str:
    """Verified against when the name is unknown, so that a wrong name and a wrong
    password take the same time (made at first use: hashing is slow on purpose)."""
    return _HASHER.hash("not-a-password-anyone-has")


def hash_password(password: str) -> str:
    with _ONE_AT_A_TIME:
        return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    with _ONE_AT_A_TIME:
        try:
            return _HASHER.verify(password_hash or _dummy(), password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


async def hash_password_off_loop(password: str) -> str:
    """:func:`hash_password` in a thread: the event loop (Telegram's updates, the other
    pages) goes on meanwhile."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """:func:`verify_password` in a thread, as :func:`hash_password_off_loop`."""
    return await asyncio.to_thread(verify_password, password_hash, password)


def one_time_password() -> str:
    """A random password to give once (the first admin)."""
    return secrets.token_urlsafe(15)


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    return None
