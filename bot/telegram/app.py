"""Build the python-telegram-bot ``Application`` around the engine (``bot/telegram/service.py``
runs it: webhook or polling, beside the HTTP server)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.config import Environment, Settings
from bot.content.catalog import Catalog, Fields
from bot.content.voice import AttachError, attach_voice
from bot.dialogue.engine import COMMANDS, Engine
from bot.dialogue.types import Button, Inbound, Media, Outcome, Reply
from bot.metrics import REPLIES
from bot.runtime import Runtime, build_runtime
from bot.store import repositories as repo
from bot.store.db import Database, upgrade_database
from bot.store.locks import ChatLocks
from bot.telegram.drain import ChatDrain
from bot.telegram.handover import HandoverRelay
from bot.telegram.ordering import PerChatProcessor, mark_failed
from bot.telegram.referrals import PARTNER_PAYLOAD, ReferralDesk, need_label
from bot.telegram.retry import RetryAfterWaiter
from bot.telegram.worker import Worker

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
BotApplication = Application[Any, Any, Any, Any, Any, Any]
#: Two buttons share a row when both labels are at most this long.
SHORT_LABEL = 18
#: ``/reroute <reference> relay``: to the team's human relay rather than a service.
RELAY = "relay"
#: A voice note over this size is refused by /attach (Telegram's bots download up to 20 MB).
MAX_VOICE_BYTES = 20 * 1024 * 1024
#: A media caption's limit in the Bot API (characters, after entities parsing).
MAX_CAPTION = 1024


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """Inline keyboard rows: short labels two by two, long ones alone."""
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        key = InlineKeyboardButton(button.label, callback_data=button.payload)
        last = rows[-1] if rows else None
        if (
            last is not None
            and len(last) == 1
            and len(button.label) <= SHORT_LABEL
            and len(last[0].text) <= SHORT_LABEL
        ):
            last.append(key)
        else:
            rows.append([key])
    return InlineKeyboardMarkup(rows)


def inbound_from_update(update: Update) -> Inbound | None:
    """The engine's view of an update, or None when it is not for the engine."""
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    common: dict[str, Any] = {
        "user_id": str(user.id),
        "channel": CHANNEL,
        "update_id": update.update_id,
        "locale": user.language_code,
    }
    if update.callback_query is not None:
        return Inbound(button=update.callback_query.data or "", **common)
    message = update.effective_message
    if message is None:
        return None
    if message.text is not None:
        text = message.text
        if text.startswith("/"):
            head, _, args = text[1:].partition(" ")
            command = head.split("@", 1)[0]
            return Inbound(command=command, args=args.strip(), **common)
        return Inbound(text=text, **common)
    if message.caption:
        # A photo, video or file with words: the words are read like any text (a photo
        # captioned "aidez moi" is a cry for help, not a photo).
        return Inbound(text=message.caption, **common)
    if message.voice is not None or message.audio is not None:
        return Inbound(voice=True, **common)
    if message.location is not None:
        return Inbound(location=(message.location.latitude, message.location.longitude), **common)
    return Inbound(media=True, **common)


class TelegramAdapter:
    """Handlers, one shape each: take the update, ask the engine, send what it says."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self.runtime = runtime
        self.desk: ReferralDesk | None = None
        self.relay: HandoverRelay | None = None
        if runtime is not None:
            self.attach_runtime(runtime)

    def attach_runtime(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.desk = ReferralDesk(
            runtime.database,
            runtime.engine.catalog,
            admin_ids=self.settings.admin_telegram_ids,
            ack_after=timedelta(hours=self.settings.referral_ack_hours),
            partners=runtime.partners,
        )
        if self.settings.agents_chat_id is not None:
            self.relay = HandoverRelay(
                runtime.database,
                runtime.engine.catalog,
                self.settings.agents_chat_id,
                matcher=runtime.content.matcher,
                commands=COMMANDS,
                staff=self.settings.agents_staff_ids,
            )

    @property
    def engine(self) -> Engine | None:
        return self.runtime.engine if self.runtime is not None else None

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a private message or button press to the engine and send its replies."""
        query = update.callback_query
        chat = update.effective_chat
        if query is not None:
            if (query.data or "").startswith(f"{PARTNER_PAYLOAD}:") and self.desk is not None:
                await self.desk.on_partner_button(update, context.bot)
                return
            # Stop the client's spinner first; the reply follows as a new message.
            await query.answer()
            if chat is not None and chat.type != ChatType.PRIVATE:
                return  # users' buttons live in private chats only
        inbound = inbound_from_update(update)
        if inbound is None or chat is None or self.runtime is None:
            return
        if (
            query is None
            and self.relay is not None
            and await self.relay.from_user(update, context.bot)
        ):
            return  # relayed to (or ended with) a person of the team
        if inbound.command == "attach" and self._is_admin(update):
            await self.attach(update, context.bot, inbound.args)
            return
        if inbound.command == "reroute" and self._is_admin(update) and self.desk is not None:
            user = update.effective_user
            assert user is not None
            catalog = self.runtime.engine.catalog()
            language = user.language_code if catalog.has_language(user.language_code) else None
            parts = inbound.args.split()
            if len(parts) == 2 and parts[1].lower() == RELAY:
                answer = await self.reroute_to_relay(context.bot, parts[0].upper(), language)
            else:
                answer = await self.desk.reroute(context.bot, user.id, inbound.args, language)
            await context.bot.send_message(chat.id, answer)
            return
        outcome = await self.runtime.engine.handle(inbound)
        await self.send_outcome(context.bot, chat.id, outcome)
        if self.desk is not None:
            for referral_id in outcome.referrals:
                await self.desk.deliver(context.bot, referral_id)
            for reference in outcome.withdrawn:
                await self.desk.withdrawn(context.bot, reference)
        if outcome.handover and self.relay is not None and outcome.user is not None:
            await self.relay.open(
                context.bot,
                user_id=outcome.user,
                chat_id=chat.id,
                language=outcome.meta.language or self.runtime.engine.catalog().default_language,
            )

    async def on_agents(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A message in the agents' chat: relayed to the user of its topic or thread."""
        if self.relay is not None:
            await self.relay.from_agents(update, context.bot)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure and tell the user something went wrong, never the traceback."""
        mark_failed()
        logger.error("Error while handling an update", exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None or self.engine is None:
            return
        try:
            text = self.engine.catalog().text("error.generic", None).text
            await context.bot.send_message(update.effective_chat.id, text)
        except Exception:  # the error path must not raise in turn
            logger.exception("Could not send the error message")

    # -- sending ----------------------------------------------------------------------------

    async def send_outcome(self, bot: Bot, chat_id: int, outcome: Outcome) -> None:
        for reply in outcome.replies:
            await self.send_reply(bot, chat_id, reply)

    async def send_reply(self, bot: Bot, chat_id: int, reply: Reply) -> None:
        # Plain text: content has no markup, so nothing needs escaping.
        markup = keyboard(reply.buttons)
        if reply.document is not None:
            await self.send_document(bot, chat_id, reply, markup)
            return
        if reply.media is not None and reply.media.kind == "voice":
            instead = reply.media.mode == "instead"
            sent = await self.send_voice(bot, chat_id, reply.media, markup if instead else None)
            if sent and instead:
                REPLIES.inc()
                return
        await bot.send_message(chat_id, reply.text, reply_markup=markup)
        REPLIES.inc()

    async def send_document(
        self, bot: Bot, chat_id: int, reply: Reply, markup: InlineKeyboardMarkup | None
    ) -> None:
        """A file made for this person (their data): uploaded each time, never kept, with
        the reply's text as its caption (sent before it when too long for a caption)."""
        document = reply.document
        assert document is not None
        caption: str | None = reply.text
        if len(reply.text) > MAX_CAPTION:
            await bot.send_message(chat_id, reply.text)
            caption = None
        await bot.send_document(
            chat_id,
            document=InputFile(document.content, filename=document.filename),
            caption=caption,
            reply_markup=markup,
        )
        REPLIES.inc()

    async def send_voice(
        self, bot: Bot, chat_id: int, media: Media, markup: InlineKeyboardMarkup | None
    ) -> bool:
        """Send a voice note by its stored ``file_id``, or upload it once and keep the id.

        False when the file cannot be read: the caller then sends the text alone.
        """
        assert self.runtime is not None
        path = self.runtime.content.directory / media.path
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            logger.error("Voice note %s unreadable (%s); sending the text", media.path, exc)
            return False
        digest = hashlib.sha256(data).hexdigest()
        database = self.runtime.database
        async with database.transaction() as session:
            file_id = await repo.media_file_id(session, channel=CHANNEL, sha256=digest)
        if file_id is not None:
            try:
                await bot.send_voice(chat_id, voice=file_id, reply_markup=markup)
                return True
            except BadRequest as exc:
                # E.g. another bot token: the id means nothing to this bot. Upload again.
                logger.warning("Stored file id for %s refused (%s); uploading", media.path, exc)
        message = await bot.send_voice(chat_id, voice=data, filename=path.name, reply_markup=markup)
        if message.voice is not None:
            async with database.transaction() as session:
                await repo.remember_media_file(
                    session,
                    channel=CHANNEL,
                    sha256=digest,
                    path=media.path,
                    file_id=message.voice.file_id,
                )
        return True

    async def reroute_to_relay(self, bot: Bot, reference: str, language: str | None) -> str:
        """``/reroute <reference> relay``: a referral no partner could receive goes to a
        person of the team instead: the relay opens for its person, the agents told why."""
        assert self.runtime is not None and self.desk is not None
        catalog = self.runtime.engine.catalog()
        fields = Fields(reference=reference, service=RELAY)
        if self.relay is None:
            return catalog.text("admin.reroute_no_relay", language).text.format_map(fields)
        handed = await self.desk.policy.to_relay(reference)
        if handed is None:
            return catalog.text("admin.reroute_refused", language).text.format_map(fields)
        referral, (_channel, address) = handed
        note = catalog.text("agent.referral_rerouted", None).text.format_map(
            Fields(reference=reference, need=need_label(catalog, referral.need))
        )
        await self.relay.open(
            bot,
            user_id=referral.user_id or 0,
            chat_id=int(address),
            language=referral.language,
            note=note,
        )
        return catalog.text("admin.reroute_relay_done", language).text.format_map(fields)

    # -- campaign managers ------------------------------------------------------------------

    def _is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.settings.admin_telegram_ids

    async def attach(self, update: Update, bot: Bot, args: str) -> None:
        """``/attach <key> <lang>`` in reply to a voice note: save it, record it, make it live."""
        assert self.runtime is not None
        message = update.effective_message
        user = update.effective_user
        assert message is not None and user is not None
        catalog = self.runtime.engine.catalog()
        language = user.language_code if catalog.has_language(user.language_code) else None
        parts = args.split()
        original: Message | None = message.reply_to_message
        voice = original.voice if original is not None else None
        fields = {"key": parts[0] if parts else "", "lang": parts[1] if len(parts) > 1 else ""}

        async def answer(key: str) -> None:
            text = catalog.text(key, language).text.format_map(Fields(fields))
            await message.reply_text(text)

        if len(parts) != 2 or voice is None:
            await answer("admin.attach_usage")
            return
        if voice.file_size is not None and voice.file_size > MAX_VOICE_BYTES:
            await answer("admin.attach_not_voice")
            return
        key, code = parts
        file = await bot.get_file(voice.file_id)
        data = bytes(await file.download_as_bytearray())
        publisher = self.runtime.publisher
        try:
            async with publisher.editing(f"attach by admin {user.id}"):
                attached = await asyncio.to_thread(
                    attach_voice, self.runtime.content, key=key, language=code, data=data
                )
        except AttachError as exc:
            logger.info("Voice note for %s/%s refused: %s", key, code, exc.refusal.name)
            await answer(exc.refusal.value)
            return
        # The recording is already on Telegram's servers: reuse its id, never upload it.
        async with self.runtime.database.transaction() as session:
            await repo.remember_media_file(
                session,
                channel=CHANNEL,
                sha256=attached.sha256,
                path=attached.path,
                file_id=voice.file_id,
            )
        logger.info("Voice note attached to %s in %s by admin %s", key, code, user.id)
        await answer("admin.attach_done")


def command_menus(catalog: Catalog) -> list[tuple[str | None, list[BotCommand]]]:
    """(language_code, commands) for ``setMyCommands``: the default language without a
    code, then each language Telegram has a code for (two-letter ISO 639-1)."""
    codes: list[str | None] = [None, *(code for code in catalog.languages if len(code) == 2)]
    return [
        (
            code,
            [
                BotCommand(name, catalog.text(f"command.{name}", code).text[:256])
                for name in COMMANDS
            ],
        )
        for code in codes
    ]


async def publish_commands(bot: Bot, catalog: Catalog) -> None:
    for code, commands in command_menus(catalog):
        await bot.set_my_commands(commands, language_code=code)


def build_application(settings: Settings, runtime: Runtime | None = None) -> BotApplication:
    """The PTB application. Without ``runtime``, one is built, started and closed with it."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    adapter = TelegramAdapter(settings, runtime)
    owned: dict[str, Runtime] = {}
    tasks: list[asyncio.Task[None]] = []
    # One chat's updates in order across replicas too (PostgreSQL; nothing on SQLite).
    database = runtime.database if runtime is not None else None
    chat_locks = ChatLocks(
        database.url if database is not None else settings.database_url,
        size=settings.update_concurrency,
    )

    waiter = RetryAfterWaiter(budget=runtime.budget if runtime is not None else None)

    async def post_init(app: BotApplication) -> None:
        if adapter.runtime is None:
            if settings.environment in (Environment.LOCAL, Environment.TEST):
                await upgrade_database(settings.database_url)
            owned["runtime"] = build_runtime(settings)
            adapter.attach_runtime(owned["runtime"])
            await owned["runtime"].start()
        current = adapter.runtime
        assert current is not None and adapter.desk is not None
        waiter.budget = current.budget
        if settings.worker_in_process:
            # The worker's loops (bot/telegram/worker.py): broadcasts, drips, referral
            # checks, privacy purge; elected across processes on PostgreSQL.
            worker = Worker(settings, current, desk_bot=app.bot, desk=adapter.desk)
            tasks.append(asyncio.create_task(worker.run(), name="worker"))
        if adapter.relay is not None and settings.handover_idle_minutes > 0:
            # Closes relays nobody wrote in for HANDOVER_IDLE_MINUTES, both sides told.
            idle_after = timedelta(minutes=settings.handover_idle_minutes)
            tasks.append(
                asyncio.create_task(
                    adapter.relay.run_idle(
                        app.bot,
                        idle_after=idle_after,
                        every=min(60.0, idle_after.total_seconds() / 2),
                    ),
                    name="idle relays",
                )
            )

        async def commands_for(catalog: Catalog) -> None:
            await publish_commands(app.bot, catalog)

        # The command menu follows the content: set now, and again for each new version.
        current.publisher.listeners.append(commands_for)
        try:
            await commands_for(current.engine.catalog())
        except Exception:  # the command menu is a nicety: the bot works without it
            logger.exception("Could not set the command menus")

    async def post_shutdown(_app: BotApplication) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await chat_locks.aclose()
        if "runtime" in owned:
            await owned.pop("runtime").aclose()

    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.bot_api_base_url)
        .base_file_url(settings.bot_api_file_url)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .rate_limiter(waiter)
        # Different chats at once, one chat's updates in order (bot/telegram/ordering.py).
        .concurrent_updates(PerChatProcessor(settings.update_concurrency, guard=chat_locks.turn))
        .build()
    )
    if chat_locks.enabled and settings.telegram_webhook_url is not None:
        # Webhook replicas on PostgreSQL: the chat's turn handles all of the chat's
        # recorded updates in id order, whichever replica received them (bot/telegram/drain.py).
        processor = application.update_processor
        assert isinstance(processor, PerChatProcessor)

        def drain_database() -> Database:
            assert adapter.runtime is not None
            return adapter.runtime.database

        processor.drain = ChatDrain(
            channel=CHANNEL,
            database=drain_database,
            bot=lambda: application.bot,
            handle=application.process_update,
        )
    private = filters.ChatType.PRIVATE
    # Order matters only in that both handlers are in group 0 and are disjoint:
    # button presses first, then every kind of private message.
    application.add_handler(CallbackQueryHandler(adapter.on_update))
    if settings.agents_chat_id is not None:
        # Every message of the agents' chat, service messages included: the relay sorts them.
        application.add_handler(
            MessageHandler(filters.Chat(settings.agents_chat_id), adapter.on_agents)
        )
    application.add_handler(MessageHandler(private & ~filters.StatusUpdate.ALL, adapter.on_update))
    application.add_error_handler(adapter.on_error)
    return application
