"""Where a service's referrals go, and who may act on them: deployment configuration.

A referral carries a person's name, phone, place and words. Which Telegram chat receives
them, and which people in that chat may move a referral, is decided by whoever runs the
deployment, in a file outside ``content/`` (``PARTNERS_FILE``), read once at start-up and
never reloaded while the bot runs: editing campaign content cannot redirect personal data.
Content keeps what a service is and whether it takes referrals (``accepts_referrals``);
this file says where they go::

    partners:
      iom_mali:
        chat_id: -1001234567890      # the partner's group (a negative id)
        staff: [123456789, 987654321] # Telegram ids of the people who may move a referral

A group's id is negative in Telegram and a person's positive: a positive ``chat_id`` (a
private chat) is refused, as is a partner without staff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.errors import KunnafoniError


class PartnersError(KunnafoniError):
    """``PARTNERS_FILE`` cannot be used; ``reasons`` says why, one line each."""

    def __init__(self, path: Path | str, reasons: Iterable[str]) -> None:
        self.reasons = list(reasons)
        super().__init__(f"{path}: " + "; ".join(self.reasons))


@dataclass(frozen=True)
class PartnerChat:
    """The group receiving one service's referrals, and the people allowed to act in it."""

    service_id: str
    chat_id: int
    staff: frozenset[int]


@dataclass(frozen=True)
class Partners:
    """Every service's partner chat, by service id (none: no referral is offered)."""

    chats: Mapping[str, PartnerChat] = field(default_factory=dict)

    def chat_for(self, service_id: str) -> int | None:
        """The chat receiving ``service_id``'s referrals, or None when it has none."""
        partner = self.chats.get(service_id)
        return partner.chat_id if partner is not None else None

    def is_staff(self, chat_id: int, user_id: int) -> bool:
        """Whether ``user_id`` may act on referrals in ``chat_id`` (a partner's group)."""
        return any(p.chat_id == chat_id and user_id in p.staff for p in self.chats.values())

    def services(self) -> list[str]:
        return sorted(self.chats)


def is_group_id(chat_id: int) -> bool:
    """Telegram gives groups and channels negative ids, people positive ones."""
    return chat_id < 0


def parse_partners(data: Any, source: Path | str = "PARTNERS_FILE") -> Partners:
    """The partners of a loaded file, or :class:`PartnersError` with every problem."""
    reasons: list[str] = []
    entries = data.get("partners") if isinstance(data, Mapping) else None
    if not isinstance(entries, Mapping):
        raise PartnersError(source, ["expected a 'partners:' mapping of service ids"])
    chats: dict[str, PartnerChat] = {}
    for service_id, entry in entries.items():
        where = f"partners.{service_id}"
        if not isinstance(entry, Mapping):
            reasons.append(f"{where}: expected chat_id and staff")
            continue
        unknown = set(entry) - {"chat_id", "staff"}
        if unknown:
            reasons.append(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        chat_id = entry.get("chat_id")
        staff = entry.get("staff")
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            reasons.append(f"{where}.chat_id: expected the group's numeric id")
            continue
        if not is_group_id(chat_id):
            reasons.append(
                f"{where}.chat_id: {chat_id} is a person's private chat, not a group; referrals"
                " go to the partner's group (its id is negative)"
            )
        if not isinstance(staff, list) or not staff:
            reasons.append(f"{where}.staff: list the Telegram ids of the people who may act")
            continue
        ids = [s for s in staff if isinstance(s, int) and not isinstance(s, bool) and s > 0]
        if len(ids) != len(staff):
            reasons.append(f"{where}.staff: every entry must be a person's Telegram id")
        chats[str(service_id)] = PartnerChat(str(service_id), chat_id, frozenset(ids))
    used: dict[int, str] = {}
    for partner in chats.values():
        if partner.chat_id in used:
            reasons.append(
                f"partners.{partner.service_id}.chat_id: the same group as"
                f" partners.{used[partner.chat_id]}"
            )
        used[partner.chat_id] = partner.service_id
    if reasons:
        raise PartnersError(source, reasons)
    return Partners(chats)


def load_partners(path: Path | None) -> Partners:
    """The partners of ``PARTNERS_FILE``; none when no file is configured."""
    if path is None:
        return Partners()
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PartnersError(path, ["the file does not exist"]) from exc
    except YAMLError as exc:
        raise PartnersError(path, [f"not valid YAML ({exc.__class__.__name__})"]) from exc
    return parse_partners(data, path)
