"""Telegram updates made for tests of ordering, and a recorder of when each was handled."""

from __future__ import annotations

import asyncio

from telegram import Update


def message(update_id: int, chat: int) -> Update:
    """A private text message ``update_id`` from ``chat``."""
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat, "type": "private"},
                "from": {"id": chat, "is_bot": False, "first_name": "T"},
                "text": "x",
            },
        },
        None,
    )


class Recorder:
    """When each update's handling started and ended, and how many ran at once."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int, int]] = []
        self.running = 0
        self.most = 0

    async def handle(self, update: Update, seconds: float) -> None:
        assert update.effective_chat is not None
        chat = update.effective_chat.id
        self.running += 1
        self.most = max(self.most, self.running)
        self.log.append(("start", chat, update.update_id))
        await asyncio.sleep(seconds)
        self.log.append(("end", chat, update.update_id))
        self.running -= 1
