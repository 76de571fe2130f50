"""Shared fixtures: databases on SQLite and PostgreSQL, the real content, a stub NLU,
the real Rasa server (`rasa_server`, tests/support/rasa.py).

Network: tests may only reach loopback. A guard refuses any other address, so a
test that would call Telegram or a hub fails loudly instead of leaking.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.config import PROJECT_ROOT, normalise_database_url
from bot.content.catalog import Catalog
from bot.content.loader import load_catalog
from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.store.db import Database, create_engine, upgrade_database
from tests.fakes.bot_api import FakeBotApi
from tests.support.databases import private_schema, sqlite_copy
from tests.support.environment import CONTENT_DIR, IN_CI, run_blocking
from tests.support.nlu import StubParser
from tests.support.rasa import rasa_server  # noqa: F401  (the real Rasa server, once per run)

# --- network guard ---------------------------------------------------------------------------

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(host: Any) -> bool:
    if host in (None, "localhost", "") or (isinstance(host, str) and host.startswith("/")):
        return True
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return False


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_local(host):
        raise OSError(f"tests may not reach the network (lookup of {host!r})")
    return _real_getaddrinfo(host, *args, **kwargs)


def _check_address(address: Any) -> None:
    if isinstance(address, tuple) and not _is_local(address[0]):
        raise OSError(f"tests may not reach the network (connect to {address!r})")


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    _check_address(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    _check_address(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.getaddrinfo = _real_getaddrinfo
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings from the test, never from a developer's .env or shell."""
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "RASA_TOKEN",
        "RASA_URL",
        "DATABASE_URL",
        "CONTENT_DIR",
        "ADMIN_TELEGRAM_IDS",
        "KUNNAFONI_ENV",
        "TELEGRAM_WEBHOOK_URL",
        "TELEGRAM_WEBHOOK_SECRET",
        "HTTP_HOST",
        "HTTP_PORT",
        "LOG_FORMAT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'default.db'}")
    monkeypatch.setenv("RASA_URL", "")


# --- content ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(CONTENT_DIR)


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A private copy of the real content, to change or to break."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


@pytest.fixture
def tree(content_copy: Path) -> Path:
    """The same private copy, under the name the content tests use."""
    return content_copy


@pytest.fixture(scope="session")
def content_store() -> ContentStore:
    return ContentStore(CONTENT_DIR, nlu_data_dir=PROJECT_ROOT / "nlu" / "data")


# --- databases -------------------------------------------------------------------------------


def _postgres_url() -> str:
    raw = os.environ.get("TEST_DATABASE_URL", "")
    reason = ""
    if not raw:
        reason = "TEST_DATABASE_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"
    else:
        url = normalise_database_url(raw)
        if not url.startswith("postgresql"):
            reason = f"TEST_DATABASE_URL is not a PostgreSQL URL: {make_url(url).drivername}"
        else:
            try:
                import psycopg

                parsed = make_url(url)
                psycopg.connect(
                    host=parsed.host,
                    port=parsed.port or 5432,
                    user=parsed.username,
                    password=parsed.password,
                    dbname=parsed.database,
                    connect_timeout=3,
                ).close()
                return url
            except Exception as exc:
                reason = f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}"
    if IN_CI:
        pytest.fail(f"PostgreSQL tests must run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """A private schema in the test database, migrated once, dropped at the end."""
    with private_schema(_postgres_url()) as url:
        yield url


@pytest.fixture
def postgres_url() -> str:
    """The test database's URL (skipped, or failed in CI, when there is none)."""
    return _postgres_url()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (cheaper than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    run_blocking(lambda: upgrade_database(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database of each kind, isolated per test.

    SQLite: a fresh copy of a migrated file. PostgreSQL: everything runs inside an
    outer transaction (commits become savepoints) that is rolled back afterwards.
    """
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        async with sqlite_copy(template, tmp_path / "test.db") as database:
            yield database
        return
    url: str = request.getfixturevalue("postgres_schema_url")
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            outer = await connection.begin()
            try:
                yield Database.bound_to(connection)
            finally:
                await outer.rollback()
    finally:
        await engine.dispose()


# --- NLU -------------------------------------------------------------------------------------


@pytest.fixture
def stub_parser() -> StubParser:
    return StubParser()


@pytest.fixture
def engine(database: Database, content_store: ContentStore, stub_parser: StubParser) -> Engine:
    return Engine(
        database=database,
        content=content_store.current,
        nlu=NluService(stub_parser, content_store.matcher),
        thresholds=Thresholds(),
        language_identifier=content_store.language_identifier,
    )


# --- Telegram --------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The fake Bot API server on loopback; it must have refused nothing Telegram accepts."""
    async with FakeBotApi(token="123456:TEST") as server:
        yield server
    assert server.refused == [], server.refused
