"""Fixtures of the store's tests."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from bot.store.db import create_engine


@pytest.fixture
def private_postgres_schema(postgres_schema_url: str) -> Iterator[str]:
    """An empty schema of its own in the test database (a migration test migrates it),
    dropped after."""
    schema = f"kf_mig_{secrets.token_hex(4)}"
    url = make_url(postgres_schema_url).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)

    async def run(statement: str) -> None:
        engine = create_engine(rendered)
        async with engine.begin() as conn:
            await conn.exec_driver_sql(statement)
        await engine.dispose()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    try:
        yield rendered
    finally:
        asyncio.run(run(f'DROP SCHEMA "{schema}" CASCADE'))
