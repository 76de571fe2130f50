"""The console over an in-process HTTP client, with accounts of every role."""

from __future__ import annotations

import re
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.content.store import ContentStore
from bot.store import accounts as account_store
from bot.store.db import Database
from bot.store.models import utcnow
from bot.web.console.app import PREFIX, build_console
from bot.web.console.passwords import hash_password

PASSWORD = "a long enough password"
#: Hashing is slow on purpose: hash once for every test account.
HASH = hash_password(PASSWORD)

#: One account per role; the partner has service "legal_aid_bamako" only, the translator
#: the language "bm" only.
ACCOUNTS = {
    "ada": ("admin", (), ()),
    "eddie": ("editor", (), ()),
    "tina": ("translator", (), ("bm",)),
    "vic": ("viewer", (), ()),
    "paula": ("partner", ("legal_aid_bamako",), ()),
    "anna": ("annotator", (), ()),
}


async def add_accounts(database: Database) -> None:
    async with database.transaction() as session:
        for name, (role, services, languages) in ACCOUNTS.items():
            await account_store.create_account(
                session,
                name=name,
                role=role,
                password_hash=HASH,
                services=services,
                languages=languages,
            )


def console_app(
    database: Database,
    content: ContentStore,
    *,
    clock: Callable[[], datetime] = utcnow,
    nlu_data_dir: Path | None = None,
) -> Starlette:
    """The console; the NLU review queue writes into ``nlu_data_dir`` (by default a new
    temporary folder: never the project's nlu/data)."""
    console = build_console(
        database,
        secret="test-secret-" + "x" * 24,
        secure=False,
        catalog=content.current,
        clock=clock,
        nlu_data_dir=nlu_data_dir or Path(tempfile.mkdtemp(prefix="kunnafoni-nlu-")) / "data",
    )
    return Starlette(routes=[Mount(PREFIX, app=console)])


@asynccontextmanager
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def token_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


async def sign_in(c: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    page = await c.get(f"{PREFIX}/login")
    return await c.post(
        f"{PREFIX}/login", data={"csrf": token_in(page.text), "name": name, "password": password}
    )
