"""The console over an in-process HTTP client, with accounts of every role."""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.content.publish import ContentPublisher
from bot.content.releases import ContentDesk
from bot.content.store import ContentStore
from bot.nlu.runs import RetrainLauncher
from bot.store import accounts as account_store
from bot.store import referrals as referral_repo
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import utcnow
from bot.web.console.app import PREFIX, build_console
from bot.web.console.cases import case_routes
from bot.web.console.content import content_routes
from bot.web.console.passwords import hash_password
from bot.web.console.topics import topic_routes

PASSWORD = "a long enough password"
#: Hashing is slow on purpose: hash once for every test account.
HASH = hash_password(PASSWORD)

#: One account per role; the partner has service "legal_aid_bamako" only, the translator
#: and the reviewer the language "bm" only.
ACCOUNTS = {
    "ada": ("admin", (), ()),
    "eddie": ("editor", (), ()),
    "tina": ("translator", (), ("bm",)),
    "vic": ("viewer", (), ()),
    "paula": ("partner", ("legal_aid_bamako",), ()),
    "agnes": ("agent", (), ()),
    "rita": ("reviewer", (), ("bm",)),
    "anna": ("annotator", (), ()),
}
#: A case of the partner's own service, and one of another partner's.
OWN_CASE = "KF-OWN111"
OTHER_CASE = "KF-OTH222"


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
    trusted_proxies: tuple[str, ...] = (),
    writable: bool = False,
    ffmpeg: str | Literal["find"] | None = "find",
    desk: ContentDesk | None = None,
    nlu_data_dir: Path | None = None,
) -> Starlette:
    """The console over ``content``; with ``writable`` it may change it (give it a copy).
    The NLU review queue writes into ``nlu_data_dir`` (by default a new temporary folder:
    never the project's nlu/data)."""
    console = build_console(
        database,
        secret="test-secret-" + "x" * 24,
        secure=False,
        catalog=content.current,
        clock=clock,
        trusted_proxies=trusted_proxies,
        content=content if writable else None,
        ffmpeg=ffmpeg,
        desk=desk,
        routes=[*case_routes(), *content_routes(), *topic_routes()],
        nlu_data_dir=nlu_data_dir or Path(tempfile.mkdtemp(prefix="kunnafoni-nlu-")) / "data",
    )
    # The NLU page's buttons start a command that exits at once, never a real training.
    console.state.nlu_launcher = RetrainLauncher(
        Path(tempfile.mkdtemp(prefix="nlu-runs-")), command=(sys.executable, "-c", "pass")
    )
    return Starlette(routes=[Mount(PREFIX, app=console)])


def content_desk(database: Database, directory: Path) -> ContentDesk:
    """The drafts and publisher of one replica serving the content folder ``directory``."""
    store = ContentStore(directory)
    return ContentDesk(database, ContentPublisher(store, database, interval=0.1))


@asynccontextmanager
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def token_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


async def sign_in(
    c: httpx.AsyncClient,
    name: str,
    password: str = PASSWORD,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    page = await c.get(f"{PREFIX}/login")
    return await c.post(
        f"{PREFIX}/login",
        data={"csrf": token_in(page.text), "name": name, "password": password},
        headers=headers,
    )


async def add_cases(database: Database, *, external_id: str = "7001") -> dict[str, int]:
    """A person with a case for the partner's service and one for another partner (sent,
    as once delivered to their chats); reference -> referral id."""
    ids: dict[str, int] = {}
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(
            session, channel="telegram", external_id=external_id
        )
        for reference, service in ((OWN_CASE, "legal_aid_bamako"), (OTHER_CASE, "another_partner")):
            stored = await referral_repo.create_referral(
                session,
                reference=reference,
                user_id=user.id,
                service_id=service,
                need="legal_aid",
                status="sent",
                language="fr",
                first_name="Awa",
                phone="+22376000000",
                location="bamako",
                description="private words",
            )
            assert stored is not None
            ids[reference] = stored.id
    return ids
