"""Build the python-telegram-bot ``Application`` around the engine."""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.config import Environment, Settings
from bot.dialogue.engine import Engine
from bot.dialogue.types import Button, Inbound, Outcome, Reply
from bot.runtime import Runtime, build_runtime
from bot.store.db import upgrade_database

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
BotApplication = Application[Any, Any, Any, Any, Any, Any]
#: Two buttons share a row when both labels are at most this long.
SHORT_LABEL = 18


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
    if message.voice is not None or message.audio is not None:
        return Inbound(voice=True, **common)
    if message.location is not None:
        return Inbound(location=(message.location.latitude, message.location.longitude), **common)
    return Inbound(media=True, **common)


class TelegramAdapter:
    """Handlers, one shape each: take the update, ask the engine, send what it says."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pass a private message or button press to the engine and send its replies."""
        if update.callback_query is not None:
            # Stop the client's spinner first; the reply follows as a new message.
            await update.callback_query.answer()
        inbound = inbound_from_update(update)
        chat = update.effective_chat
        if inbound is None or chat is None or self.engine is None:
            return
        outcome = await self.engine.handle(inbound)
        await send_outcome(context, chat.id, outcome)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure and tell the user something went wrong, never the traceback."""
        logger.error("Error while handling an update", exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None or self.engine is None:
            return
        try:
            text = self.engine.catalog().text("error.generic", None).text
            await context.bot.send_message(update.effective_chat.id, text)
        except Exception:  # the error path must not raise in turn
            logger.exception("Could not send the error message")


async def send_outcome(context: ContextTypes.DEFAULT_TYPE, chat_id: int, outcome: Outcome) -> None:
    for reply in outcome.replies:
        await send_reply(context, chat_id, reply)


async def send_reply(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> None:
    # Plain text: content has no markup, so nothing needs escaping.
    await context.bot.send_message(chat_id, reply.text, reply_markup=keyboard(reply.buttons))


def build_application(settings: Settings, engine: Engine | None = None) -> BotApplication:
    """The PTB application. Without ``engine``, the runtime is built (and closed) with it."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    adapter = TelegramAdapter(engine)
    owned: dict[str, Runtime] = {}

    async def post_init(_app: BotApplication) -> None:
        if adapter.engine is None:
            if settings.environment in (Environment.LOCAL, Environment.TEST):
                await upgrade_database(settings.database_url)
            owned["runtime"] = build_runtime(settings)
            adapter.engine = owned["runtime"].engine

    async def post_shutdown(_app: BotApplication) -> None:
        if "runtime" in owned:
            await owned.pop("runtime").aclose()

    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.bot_api_base_url)
        .base_file_url(settings.bot_api_file_url)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    private = filters.ChatType.PRIVATE
    # Order matters only in that both handlers are in group 0 and are disjoint:
    # button presses first, then every kind of private message.
    application.add_handler(CallbackQueryHandler(adapter.on_update))
    application.add_handler(MessageHandler(private & ~filters.StatusUpdate.ALL, adapter.on_update))
    application.add_error_handler(adapter.on_error)
    return application


def run_polling(settings: Settings) -> int:
    """Long-poll Telegram until interrupted."""
    application = build_application(settings)
    logger.info("Polling %s for updates", settings.telegram_api_url)
    application.run_polling(allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY])
    return 0
