"""The one place where the parts are built and wired together."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.content.store import ContentStore
from bot.dialogue.engine import Engine, Thresholds
from bot.nlu.rasa import RasaClient
from bot.nlu.service import NluService
from bot.store.db import Database


@dataclass
class Runtime:
    settings: Settings
    database: Database
    content: ContentStore
    nlu: NluService
    engine: Engine

    async def aclose(self) -> None:
        await self.nlu.aclose()
        await self.database.dispose()


def build_nlu(settings: Settings, content: ContentStore) -> NluService:
    token = settings.rasa_token.get_secret_value() if settings.rasa_token else None
    rasa = (
        RasaClient(settings.rasa_url, token, timeout=settings.rasa_timeout)
        if settings.rasa_url
        else None
    )
    return NluService(rasa, content.matcher)


def build_runtime(settings: Settings, *, database_url: str | None = None) -> Runtime:
    """Create the database handle, content store, NLU client and engine (no I/O but content)."""
    content = ContentStore(settings.content_dir, nlu_data_dir=settings.nlu_data_dir)
    database = Database(database_url or settings.database_url)
    nlu = build_nlu(settings, content)
    thresholds = Thresholds(
        confidence=settings.nlu_confidence_threshold,
        ambiguity=settings.nlu_ambiguity_margin,
        emergency=settings.nlu_emergency_floor,
    )
    engine = Engine(
        database=database,
        content=content.current,
        nlu=nlu,
        thresholds=thresholds,
        language_identifier=content.language_identifier,
    )
    return Runtime(settings, database, content, nlu, engine)
