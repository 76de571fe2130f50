"""A voice note from the console: any recording turned into the OGG/Opus Telegram plays.

A file that is already OGG/Opus is kept as it is; anything else (a browser's WebM/Opus
recording, an MP3, a WAV, an M4A from a phone) is converted with ``ffmpeg`` (found on
``PATH`` when the console starts; Debian's ``ffmpeg`` package). Without it, only
OGG/Opus files are taken, and the page says so. The size and duration are bounded so
that a note stays something a person listens to on a phone.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
from dataclasses import dataclass
from enum import StrEnum

from bot.content.checks import is_ogg_opus
from bot.errors import KunnafoniError

#: The largest upload taken (Telegram's bots download files up to 20 MB).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: The longest voice note (seconds): a card's text read aloud, not a programme.
MAX_SECONDS = 300.0
#: ffmpeg gets this long to convert one file.
CONVERT_TIMEOUT = 120.0


class RecordingRefusal(StrEnum):
    """Why a recording was refused; each value is a console label."""

    EMPTY = "voice.error.empty"
    TOO_BIG = "voice.error.too_big"
    TOO_LONG = "voice.error.too_long"
    NO_FFMPEG = "voice.error.no_ffmpeg"
    UNREADABLE = "voice.error.unreadable"


class RecordingError(KunnafoniError):
    def __init__(self, refusal: RecordingRefusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


@dataclass(frozen=True)
class VoiceNote:
    data: bytes
    seconds: float
    #: Whether ffmpeg converted it (False: the upload was OGG/Opus already).
    converted: bool


def find_ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def ogg_opus_seconds(data: bytes) -> float | None:
    """The duration of an OGG/Opus stream: the last page's granule position (48 kHz)
    minus the header's pre-skip; None when it cannot be read."""
    last = data.rfind(b"OggS")
    head = data.find(b"OpusHead")
    if last < 0 or head < 0 or len(data) < last + 14 or len(data) < head + 12:
        return None
    granule: int = struct.unpack_from("<q", data, last + 6)[0]
    pre_skip: int = struct.unpack_from("<H", data, head + 10)[0]
    if granule < 0:
        return None
    return max(0.0, (granule - pre_skip) / 48_000)


async def to_voice_note(data: bytes, *, ffmpeg: str | None) -> VoiceNote:
    """``data`` as an OGG/Opus voice note within the limits; :class:`RecordingError` if not."""
    if not data:
        raise RecordingError(RecordingRefusal.EMPTY)
    if len(data) > MAX_UPLOAD_BYTES:
        raise RecordingError(RecordingRefusal.TOO_BIG)
    converted = False
    if not is_ogg_opus(data[:64]):
        if ffmpeg is None:
            raise RecordingError(RecordingRefusal.NO_FFMPEG)
        data = await _convert(ffmpeg, data)
        converted = True
    seconds = ogg_opus_seconds(data)
    if seconds is None:
        raise RecordingError(RecordingRefusal.UNREADABLE)
    if seconds > MAX_SECONDS:
        raise RecordingError(RecordingRefusal.TOO_LONG)
    return VoiceNote(data, seconds, converted)


async def _convert(ffmpeg: str, data: bytes) -> bytes:
    """Mono Opus at 32 kb/s in an OGG container, as Telegram's own recorder makes."""
    process = await asyncio.create_subprocess_exec(
        ffmpeg,
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        "pipe:0",
        "-vn",
        "-map_metadata",
        "-1",
        "-ac",
        "1",
        "-ar",
        "48000",
        "-c:a",
        "libopus",
        "-b:a",
        "32k",
        "-application",
        "voip",
        # Stop a little past the limit: a longer file is refused, never cut.
        "-t",
        str(int(MAX_SECONDS) + 1),
        "-f",
        "ogg",
        "pipe:1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, _err = await asyncio.wait_for(process.communicate(data), CONVERT_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RecordingError(RecordingRefusal.UNREADABLE) from None
    if process.returncode != 0 or not is_ogg_opus(out[:64]):
        raise RecordingError(RecordingRefusal.UNREADABLE)
    return out
