"""The services directory in a conversation: where the user is, and service cards.

Shared by the help flow (needs, emergencies) and the modules (a card that lists the
services answering it), below both: it asks nothing and changes no state.
"""

from __future__ import annotations

from bot.dialogue.memory import Place
from bot.dialogue.payloads import Refer
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button, Reply
from bot.referrals import REFERRAL_NEEDS
from bot.routing.matching import ServiceMatch, match
from bot.routing.render import service_card


def where(turn: Turn) -> tuple[str | None, str | None]:
    """(region, country) the user is in, as far as the bot knows."""
    moment = turn.memory.help.where or Place()
    region = turn.user_changes.get("region", turn.user.region) or moment.region
    country = turn.user_changes.get("country", turn.user.country) or moment.country
    return region, country


def town_of(turn: Turn) -> str | None:
    """The town abroad said for the next answer (the matching ignores it when the
    country known is another)."""
    return turn.memory.help.town


def nearest_services(
    turn: Turn, need: str, *, region: str | None = None, country: str | None = None
) -> list[ServiceMatch]:
    """The services for ``need`` nearest to the user (``region``/``country`` given, or as
    far as known), in their language."""
    if region is None and country is None:
        region, country = where(turn)
    return match(
        turn.catalog,
        need,
        region=region,
        country=country,
        town=town_of(turn),
        language=turn.language,
    )


def card_services(turn: Turn, need: str) -> None:
    """The services of a module card that names its need, for where the user is as far
    as known; nothing is asked."""
    found = nearest_services(turn, need)
    for found_service in found:
        turn.replies.append(service_reply(turn, need, found_service))
    turn.meta.services = [m.as_meta() for m in found]


def service_reply(turn: Turn, need: str, found: ServiceMatch) -> Reply:
    """One service card, with the referral button where its partner takes referrals."""
    service = found.service
    buttons: tuple[Button, ...] = ()
    takes = service.accepts_referrals and turn.partners.chat_for(service.id) is not None
    if need in REFERRAL_NEEDS and takes:
        buttons = (Button(turn.t("referral.offer"), Refer(service.id, need).pack()),)
    return Reply(service_card(turn.catalog, service, turn.language), buttons)
