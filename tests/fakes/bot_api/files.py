"""Files the fake knows: sent by users, uploaded by the bot, and where to download them.

Each file gets a ``file_id`` shaped like Telegram's for its kind, and a ``file_path`` under
which ``getFile`` lets the bot download it from the server's ``/file/bot<token>/`` route.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from tests.fakes.bot_api.errors import bad_request
from tests.fakes.bot_api.records import ApiRequest

# File kinds the fake can send: Bot API result field, file_id prefix, download folder, extension.
_MEDIA: Final = {
    "voice": ("AwACAgQAAxkBAAI", "voice", "oga", "audio/ogg"),
    "audio": ("CQACAgQAAxkBAAI", "music", "mp3", "audio/mpeg"),
    "photo": ("AgACAgQAAxkBAAI", "photos", "jpg", "image/jpeg"),
    "document": ("BQACAgQAAxkBAAI", "documents", "bin", "application/octet-stream"),
}


@dataclass
class StoredFile:
    """A file's bytes and the identifiers Telegram would give it."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str


class FileStore:
    """The files of one fake server, by ``file_id`` and by download path."""

    def __init__(self) -> None:
        self.by_id: dict[str, StoredFile] = {}
        self.by_path: dict[str, StoredFile] = {}
        self._counter = itertools.count(1)

    def store(
        self,
        kind: str,
        data: bytes,
        *,
        file_id: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Keep a file and give it Telegram-shaped identifiers and a download path."""
        prefix, folder, extension, default_mime = _MEDIA.get(kind, _MEDIA["document"])
        number = next(self._counter)
        stored = StoredFile(
            file_id=file_id or f"{prefix}{number:06d}{uuid.uuid4().hex}",
            file_unique_id=f"AgAD{number:04d}{uuid.uuid4().hex[:8]}",
            kind=kind,
            data=data,
            file_path=f"{folder}/file_{number}.{extension}",
            mime_type=mime_type or default_mime,
        )
        self.by_id[stored.file_id] = stored
        self.by_path[stored.file_path] = stored
        return stored

    def media_file(self, kind: str, request: ApiRequest) -> StoredFile:
        """The file a send method names: an uploaded part, a known file_id or a URL."""
        uploaded = request.files.get(kind)
        value = request.params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            uploaded = request.files[value.removeprefix("attach://")]
        if uploaded is not None:
            mime_type = uploaded.content_type
            if mime_type in (None, "application/octet-stream"):
                mime_type = None  # Telegram detects the real type; use the kind's usual one
            return self.store(kind, uploaded.data, mime_type=mime_type)
        assert isinstance(value, str)
        if value in self.by_id:
            return self.by_id[value]
        if urlsplit(value).scheme in ("http", "https"):
            return self.store(kind, b"")
        raise bad_request(
            "wrong file identifier/HTTP URL specified",
            f"{kind}={value!r} is neither a known file_id nor an HTTP URL",
        )

    def media_object(
        self, kind: str, stored: StoredFile, params: Mapping[str, Any]
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """The Voice, Audio, Document or photo sizes the sent message carries."""
        base = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if kind == "photo":
            thumbnail = self.store("photo", stored.data)
            return [
                {
                    "file_id": thumbnail.file_id,
                    "file_unique_id": thumbnail.file_unique_id,
                    "file_size": len(stored.data),
                    "width": 90,
                    "height": 90,
                },
                base | {"width": 800, "height": 800},
            ]
        media = base | {"mime_type": stored.mime_type}
        if kind in ("voice", "audio"):
            media["duration"] = int(params.get("duration", 1))
        if kind == "audio":
            for key in ("performer", "title"):
                if key in params:
                    media[key] = params[key]
        return media
