"""``kunnafoni users add | list | disable | enable | reset-password``: console accounts.

A password is read from standard input (one line) or prompted twice at a terminal,
never taken as an argument (it would sit in the shell's history and the process list).
A password set here (``add``, ``reset-password``) is a one-time password: the console asks
its holder for a new one at the first sign-in.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from bot.cli.database import database_url, open_database
from bot.store import accounts as account_store
from bot.store.models import utcnow
from bot.web.console.passwords import hash_password, one_time_password, password_problem
from bot.web.console.permissions import Role

#: Who the audit log names for changes made with this command.
CLI_ACTOR = "cli"


def read_password() -> str | None:
    """The new password from a terminal prompt (twice) or stdin's first line; None after
    saying what is wrong."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            print("kunnafoni: the two passwords differ", file=sys.stderr)
            return None
        password = first
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    problem = password_problem(password)
    if problem:
        print(f"kunnafoni: {problem}", file=sys.stderr)
        return None
    return password


def cmd_add(args: argparse.Namespace) -> int:
    role = Role(args.role)
    if role is Role.PARTNER and not args.service:
        print("kunnafoni: a partner account needs at least one --service", file=sys.stderr)
        return 2
    if role in (Role.TRANSLATOR, Role.REVIEWER) and not args.language:
        print(f"kunnafoni: a {role} account needs at least one --language", file=sys.stderr)
        return 2
    password = read_password()
    if password is None:
        return 2

    async def add() -> int:
        async with open_database(database_url(args.db)) as database:
            async with database.transaction() as session:
                if await account_store.account_by_name(session, args.name) is not None:
                    print(f"kunnafoni: an account {args.name!r} exists", file=sys.stderr)
                    return 1
                await account_store.create_account(
                    session,
                    name=args.name,
                    role=role.value,
                    password_hash=hash_password(password),
                    services=args.service or (),
                    languages=args.language or (),
                    # Chosen by whoever ran the command: the holder picks their own.
                    must_change_password=True,
                )
                await account_store.audit(
                    session, actor=CLI_ACTOR, action="account.add", detail=f"{args.name} {role}"
                )
        print(f"Account {args.name} ({role}) created.")
        return 0

    return asyncio.run(add())


def cmd_list(args: argparse.Namespace) -> int:
    async def show() -> None:
        async with open_database(database_url(args.db)) as database:
            async with database.reading() as session:
                accounts = await account_store.list_accounts(session)
        if not accounts:
            print("No console account (kunnafoni users add NAME --role admin).")
        for a in accounts:
            scope = " ".join([*a.services, *a.languages]) or "-"
            state = "disabled" if a.disabled_at else "active"
            print(f"{a.name:<24} {a.role:<10} {state:<8} {scope}")

    asyncio.run(show())
    return 0


def _change(args: argparse.Namespace, action: str) -> int:
    password = read_password() if action == "account.reset-password" else None
    if action == "account.reset-password" and password is None:
        return 2

    async def change() -> bool:
        async with open_database(database_url(args.db)) as database:
            async with database.transaction() as session:
                if action == "account.reset-password":
                    assert password is not None
                    done = await account_store.set_password_hash(
                        session, args.name, hash_password(password), must_change=True
                    )
                else:
                    at = utcnow() if action == "account.disable" else None
                    done = await account_store.set_disabled(session, args.name, at=at)
                if done:
                    await account_store.audit(
                        session, actor=CLI_ACTOR, action=action, detail=args.name
                    )
                return done

    if not asyncio.run(change()):
        print(f"kunnafoni: no account {args.name!r}", file=sys.stderr)
        return 1
    print(f"{action.removeprefix('account.')}: {args.name}")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    return _change(args, "account.disable")


def cmd_enable(args: argparse.Namespace) -> int:
    return _change(args, "account.enable")


def cmd_reset_password(args: argparse.Namespace) -> int:
    return _change(args, "account.reset-password")


#: The first admin's name on a fresh database.
FIRST_ADMIN = "admin"


async def ensure_first_admin(url: str) -> str | None:
    """On a database without any console account, create :data:`FIRST_ADMIN` with a
    one-time password and return it (to print once); None when accounts exist."""
    async with open_database(url) as database, database.transaction() as session:
        if await account_store.count_accounts(session):
            return None
        password = one_time_password()
        await account_store.create_account(
            session,
            name=FIRST_ADMIN,
            role=Role.ADMIN.value,
            password_hash=hash_password(password),
            must_change_password=True,
        )
        await account_store.audit(
            session, actor=CLI_ACTOR, action="account.add", detail=f"{FIRST_ADMIN} admin (first)"
        )
        return password


def announce_console(url: str, address: str) -> None:
    """Print where the console is and, on a fresh database, the first admin's one-time
    password (to the terminal, once; never to the logs)."""
    print(f"Web console: {address}")
    try:
        password = asyncio.run(ensure_first_admin(url))
    except Exception:  # no console tables yet (production migrates by hand)
        print(
            "No console account yet: run `kunnafoni db upgrade`, then"
            " `kunnafoni users add NAME --role admin`."
        )
        return
    if password is not None:
        print(
            f"First console account created: {FIRST_ADMIN}, one-time password: {password}\n"
            "It is shown only now: sign in, and the console asks you to choose your own."
        )
