"""Entity parsing for ``parse_mode`` (HTML, MarkdownV2, Markdown), as Telegram does it.

The fake needs the text a user sees (to measure it against Telegram's length limits and to
let tests read it) and must refuse markup Telegram cannot parse, with Telegram's
``can't parse entities`` descriptions.
"""

from __future__ import annotations

import html
import re
from typing import Final

from tests.fakes.bot_api.errors import bad_request

_PARSE_MODES: Final = {"html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2"}


class _EntityError(Exception):
    pass


_HTML_TAGS: Final = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "code",
        "pre",
        "blockquote",
    }
)
_HTML_ENTITY_RE: Final = re.compile(r"&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_html(text: str) -> str:
    """Return the visible text of an HTML-formatted message, refusing what Telegram refuses."""
    visible: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            match = _HTML_ENTITY_RE.match(text, i)
            if match:
                visible.append(html.unescape(match.group(0)))
                i = match.end()
                continue
            visible.append(char)
            i += 1
            continue
        if char != "<":
            visible.append(char)
            i += 1
            continue
        begin = i
        end = _find_tag_end(text, i)
        if end < 0:
            raise _EntityError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        inner = text[i + 1 : end]
        i = end + 1
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not open_tags:
                raise _EntityError(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
            expected = open_tags.pop()
            if name and name != expected:
                raise _EntityError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{expected}>", found "</{name}>"'
                )
            continue
        name_match = re.match(r"[a-zA-Z0-9-]+", inner)
        name = name_match.group(0).lower() if name_match else ""
        if name not in _HTML_TAGS:
            raise _EntityError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}'
            )
        if name == "span" and "tg-spoiler" not in inner:
            raise _EntityError('Tag "span" must have class "tg-spoiler"')
        open_tags.append(name)
    if open_tags:
        raise _EntityError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(visible)


def _find_tag_end(text: str, start: int) -> int:
    quote: str | None = None
    for index in range(start + 1, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == ">":
            return index
    return -1


def _parse_markdown_v2(text: str) -> str:
    """Return the visible text of a MarkdownV2-formatted message, refusing what Telegram does."""
    visible: list[str] = []
    stack: list[tuple[str, int]] = []

    def toggle(entity: str, at: int) -> None:
        if stack and stack[-1][0] == entity:
            stack.pop()
        else:
            stack.append((entity, _byte_offset(text, at)))

    i = 0
    while i < len(text):
        char = text[i]
        top = stack[-1][0] if stack else None
        if char == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126:
            visible.append(text[i + 1])
            i += 2
            continue
        if top == "Pre":
            if text.startswith("```", i):
                stack.pop()
                i += 3
            else:
                visible.append(char)
                i += 1
            continue
        if top == "Code":
            if char == "`":
                stack.pop()
            else:
                visible.append(char)
            i += 1
            continue
        if top in ("TextUrl", "CustomEmoji") and char == "]":
            stack.pop()
            i += 1
            if i < len(text) and text[i] == "(":
                i = _skip_markdown_url(text, i)
            continue
        if char not in _MDV2_RESERVED:
            visible.append(char)
            i += 1
            continue
        at_line_start = i == 0 or text[i - 1] == "\n"
        if text.startswith("```", i):
            stack.append(("Pre", _byte_offset(text, i)))
            i += 3
            line_end = text.find("\n", i)
            if line_end >= 0 and "`" not in text[i:line_end]:
                i = line_end + 1  # the language of the code block
        elif char == "`":
            stack.append(("Code", _byte_offset(text, i)))
            i += 1
        elif at_line_start and text.startswith("**>", i):
            i += 3
        elif at_line_start and char == ">":
            i += 1
        elif char == "*":
            toggle("Bold", i)
            i += 1
        elif char == "~":
            toggle("Strikethrough", i)
            i += 1
        elif text.startswith("||", i):
            toggle("Spoiler", i)
            i += 2
        elif text.startswith("__", i) and top != "Italic":
            toggle("Underline", i)
            i += 2
        elif char == "_":
            toggle("Italic", i)
            i += 1
        elif char == "[":
            stack.append(("TextUrl", _byte_offset(text, i)))
            i += 1
        elif text.startswith("![", i):
            stack.append(("CustomEmoji", _byte_offset(text, i)))
            i += 2
        else:
            raise _EntityError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack:
        entity, offset = stack[-1]
        raise _EntityError(f"Can't find end of {entity} entity at byte offset {offset}")
    return "".join(visible)


def _skip_markdown_url(text: str, start: int) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 2
            continue
        if text[i] == ")":
            return i + 1
        i += 1
    raise _EntityError(f"Can't find end of a url at byte offset {_byte_offset(text, start)}")


def _parse_markdown(text: str) -> str:
    """Return the visible text of a legacy Markdown message, refusing what Telegram refuses."""
    visible: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            visible.append(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            visible.append(char)
            i += 1
            continue
        delimiter = "```" if text.startswith("```", i) else ("]" if char == "[" else char)
        opener = "```" if delimiter == "```" else char
        end = text.find(delimiter, i + len(opener))
        if end < 0:
            raise _EntityError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
            )
        visible.append(text[i + len(opener) : end])
        i = end + len(delimiter)
        if char == "[" and i < len(text) and text[i] == "(":
            close = text.find(")", i)
            i = close + 1 if close >= 0 else len(text)
    return "".join(visible)


def visible_text(text: str, parse_mode: str | None) -> str:
    """The text a user sees once Telegram has parsed ``parse_mode`` markup.

    Raises :class:`ApiError` with Telegram's ``can't parse entities`` description when the
    markup is invalid.
    """
    if not parse_mode:
        return text
    mode = _PARSE_MODES.get(parse_mode.lower())
    if mode is None:
        raise bad_request("unsupported parse_mode", f"parse_mode {parse_mode!r} is unknown")
    parser = {"HTML": _parse_html, "MarkdownV2": _parse_markdown_v2, "Markdown": _parse_markdown}
    try:
        return parser[mode](text)
    except _EntityError as error:
        raise bad_request(f"can't parse entities: {error}") from None


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
