"""The one place where the parts are built and wired together."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.budget import LocalBudget, SendBudget, build_budget
from bot.config import Settings
from bot.content.publish import ContentPublisher
from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.rasa import RasaClient
from bot.nlu.service import NluService
from bot.partners import Partners, PartnersError, load_partners
from bot.referrals.form import ReferralLimits
from bot.store.db import Database

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    content: ContentStore
    nlu: NluService
    engine: Engine
    publisher: ContentPublisher
    #: Where referrals go and who may act on them (``PARTNERS_FILE``), read once.
    partners: Partners = field(default_factory=Partners)
    #: Telegram's messages per second, shared by every process (``bot/budget.py``).
    budget: SendBudget = field(default_factory=LocalBudget)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, *, watch: bool = True) -> None:
        """Bring the content to the latest release, record the version going live, and
        watch the folder for changes."""
        await self.publisher.sync()
        await self.publisher.record("startup")
        if watch and self.settings.content_reload_seconds > 0:
            self._tasks.append(asyncio.create_task(self.publisher.watch(), name="content-watch"))
            logger.info(
                "Watching %s for content changes every %.1f s",
                self.content.directory,
                self.settings.content_reload_seconds,
            )

    async def aclose(self) -> None:
        # Let a publication in progress record its version before the watcher stops.
        await self.publisher.settled()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
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
    partners = checked_partners(settings, content)
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
        handover=settings.agents_chat_id is not None,
        partners=partners,
        referral_limits=ReferralLimits(
            open=settings.referral_max_open, per_day=settings.referral_max_per_day
        ),
        review=settings.nlu_review_capture,
    )
    publisher = ContentPublisher(content, database, interval=settings.content_reload_seconds)
    budget = build_budget(database, settings.telegram_send_rate)
    return Runtime(settings, database, content, nlu, engine, publisher, partners, budget)


def checked_partners(settings: Settings, content: ContentStore) -> Partners:
    """``PARTNERS_FILE``, checked against the content at start-up: every service it names
    must exist and accept referrals (a typo would silently drop a partner's referrals)."""
    partners = load_partners(settings.partners_file)
    services = content.current().services
    reasons = []
    for service_id in partners.services():
        service = services.get(service_id)
        if service is None:
            reasons.append(f"partners.{service_id}: no such service in content/services.yml")
        elif not service.accepts_referrals:
            reasons.append(
                f"partners.{service_id}: the service does not accept referrals in content"
                " (accepts_referrals: false)"
            )
    if reasons:
        raise PartnersError(settings.partners_file or "PARTNERS_FILE", reasons)
    return partners
