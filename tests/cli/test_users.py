"""``kunnafoni users``: accounts made from the command line, the password from stdin only."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import accounts as account_store
from bot.store.db import Database, upgrade_database
from bot.web.console.passwords import verify_password

PASSWORD = "a password long enough"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'users.db'}"
    asyncio.run(upgrade_database(url))
    return url


def _run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def _accounts(url: str) -> list[account_store.Account]:
    async def read() -> list[account_store.Account]:
        database = Database(url)
        try:
            async with database.reading() as session:
                return await account_store.list_accounts(session)
        finally:
            await database.dispose()

    return asyncio.run(read())


def _log(url: str) -> list[tuple[str, str, str]]:
    async def read() -> list[tuple[str, str, str]]:
        database = Database(url)
        try:
            async with database.reading() as session:
                return [
                    (e.actor, e.action, e.detail) for e in await account_store.audit_log(session)
                ]
        finally:
            await database.dispose()

    return asyncio.run(read())


def test_add_list_disable_and_reset(
    db: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert (
        _run(
            monkeypatch,
            [
                "users",
                "add",
                "paula",
                "--role",
                "partner",
                "--service",
                "legal_aid",
                "--service",
                "shelter",
                "--db",
                db,
            ],
            PASSWORD + "\n",
        )
        == 0
    )
    [paula] = _accounts(db)
    assert (paula.role, paula.services) == ("partner", ("legal_aid", "shelter"))
    assert verify_password(paula.password_hash, PASSWORD)
    assert PASSWORD not in paula.password_hash
    # Chosen by whoever ran the command: the console asks paula for her own first.
    assert paula.must_change_password
    assert _run(monkeypatch, ["users", "list", "--db", db]) == 0
    assert "paula" in capsys.readouterr().out
    assert _run(monkeypatch, ["users", "disable", "paula", "--db", db]) == 0
    assert not _accounts(db)[0].active
    assert (
        _run(monkeypatch, ["users", "reset-password", "paula", "--db", db], "another one, long\n")
        == 0
    )
    assert verify_password(_accounts(db)[0].password_hash, "another one, long")
    assert _accounts(db)[0].must_change_password
    assert [a for _, a, _ in _log(db)] == [
        "account.reset-password",
        "account.disable",
        "account.add",
    ]
    everything = capsys.readouterr()
    for text in (everything.out, everything.err, caplog.text):
        assert PASSWORD not in text and "another one, long" not in text


def test_no_password_argument_and_short_ones_refused(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit):
        _run(monkeypatch, ["users", "add", "ada", "--role", "admin", "--password", "x", "--db", db])
    assert _run(monkeypatch, ["users", "add", "ada", "--role", "admin", "--db", db], "short\n") == 2
    assert _accounts(db) == []


def test_scoped_roles_need_their_scope(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(monkeypatch, ["users", "add", "p", "--role", "partner", "--db", db], PASSWORD) == 2
    assert (
        _run(monkeypatch, ["users", "add", "t", "--role", "translator", "--db", db], PASSWORD) == 2
    )
    assert (
        _run(
            monkeypatch,
            ["users", "add", "t", "--role", "translator", "--language", "bm", "--db", db],
            PASSWORD,
        )
        == 0
    )
    assert _run(monkeypatch, ["users", "add", "t", "--role", "viewer", "--db", db], PASSWORD) == 1


def test_unknown_account(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(monkeypatch, ["users", "disable", "nobody", "--db", db]) == 1


def test_a_fresh_database_gets_a_first_admin_once(
    db: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from bot.cli.users import FIRST_ADMIN, announce_console

    caplog.set_level(logging.DEBUG)
    announce_console(db, "http://127.0.0.1:8080/console/")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8080/console/" in out
    password = out.split("one-time password: ")[1].split()[0]
    [admin] = _accounts(db)
    assert (admin.name, admin.role) == (FIRST_ADMIN, "admin")
    assert admin.must_change_password
    assert verify_password(admin.password_hash, password)
    assert password not in caplog.text
    announce_console(db, "http://127.0.0.1:8080/console/")
    assert "one-time password" not in capsys.readouterr().out
    assert len(_accounts(db)) == 1


def test_without_the_tables_it_says_how_to_make_an_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.users import announce_console

    announce_console(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", "http://x/console/")
    assert "kunnafoni users add NAME --role admin" in capsys.readouterr().out
