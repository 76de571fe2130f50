"""Attach a recorded voice note to a message in one language, and make it live."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from bot.content.checks import is_ogg_opus
from bot.content.editing import MessageFile, write_atomic, write_atomic_bytes
from bot.content.store import ContentStore
from bot.errors import KunnafoniError


class AttachRefusal(StrEnum):
    """Why a voice note was not attached; each value is a message key for the manager."""

    UNKNOWN_KEY = "admin.attach_unknown_key"
    UNKNOWN_LANGUAGE = "admin.attach_unknown_language"
    NOT_OPUS = "admin.attach_not_voice"
    NO_TEXT = "admin.attach_no_text"
    INVALID = "admin.attach_invalid"


class AttachError(KunnafoniError):
    def __init__(self, refusal: AttachRefusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


@dataclass(frozen=True)
class Attached:
    key: str
    language: str
    #: Relative to the content folder.
    path: str
    sha256: str


def media_path_for(key: str, language: str) -> str:
    return f"media/{language}/{key}.ogg"


def attach_voice(store: ContentStore, *, key: str, language: str, data: bytes) -> Attached:
    """Save ``data`` as the voice note of ``key`` in ``language`` and reload the content.

    The message file and the media folder are restored if the result does not load,
    so a failed attach changes nothing.
    """
    catalog = store.current()
    if key not in catalog.messages[catalog.default_language]:
        raise AttachError(AttachRefusal.UNKNOWN_KEY)
    if language not in catalog.languages:
        raise AttachError(AttachRefusal.UNKNOWN_LANGUAGE)
    if not is_ogg_opus(data[:64]):
        raise AttachError(AttachRefusal.NOT_OPUS)
    if key not in catalog.messages.get(language, {}):
        # A voice note belongs to a text in its language: translate the text first.
        raise AttachError(AttachRefusal.NO_TEXT)

    root = store.directory
    relative = media_path_for(key, language)
    media = root / relative
    messages = MessageFile(root, language)
    old_messages = messages.path.read_bytes()
    old_media = media.read_bytes() if media.exists() else None

    write_atomic_bytes(media, data)
    entry = messages.entry(key) or {}
    old_voice = entry.get("voice")
    mode = str(old_voice.get("mode", "before")) if isinstance(old_voice, dict) else "before"
    messages.update(key, voice={"file": relative, "mode": mode})
    messages.save()
    if not store.reload() or store.current().messages[language][key].voice is None:
        write_atomic(messages.path, old_messages.decode("utf-8"))
        if old_media is None:
            media.unlink(missing_ok=True)
        else:
            write_atomic_bytes(media, old_media)
        store.reload()
        raise AttachError(AttachRefusal.INVALID)
    return Attached(key, language, relative, hashlib.sha256(data).hexdigest())
