"""Help needs: where the user is (asked once), the services that fit, emergencies first."""

from __future__ import annotations

from bot.content.needs import NEEDS
from bot.dialogue.flows.modules import menu, menu_button
from bot.dialogue.memory import Place
from bot.dialogue.payloads import Human, Intent, Refer, Where, WherePlace
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button, Reply, State
from bot.nlu.keywords import EMERGENCY_INTENT
from bot.nlu.types import NluResult
from bot.places import ABROAD, REGIONS
from bot.referrals import REFERRAL_NEEDS
from bot.routing.matching import ServiceMatch, match
from bot.routing.render import service_card

#: Entities kept as the user's location, and the user field each one fills.
LOCATION_ENTITIES = {"place_ml": "region", "country": "country"}


def where(turn: Turn) -> tuple[str | None, str | None]:
    """(region, country) the user is in, as far as the bot knows."""
    moment = turn.memory.help.where or Place()
    region = turn.user_changes.get("region", turn.user.region) or moment.region
    country = turn.user_changes.get("country", turn.user.country) or moment.country
    return region, country


def set_where(turn: Turn, *, region: str | None = None, country: str | None = None) -> None:
    if region is not None and country is None:
        country = "mali"
    place = Place(region, country)
    if turn.consent:
        turn.user_changes.update(place.to_data())
    else:
        # Not remembered without consent: used for the answer in progress, then dropped.
        turn.memory.help.where = place


def keep_location(turn: Turn, understood: NluResult) -> None:
    """A place the user names is where they are: remembered if they agreed to it,
    otherwise used for this answer only."""
    for entity in understood.entities:
        field_name = LOCATION_ENTITIES.get(entity.entity)
        if field_name and entity.value:
            set_where(turn, **{field_name: entity.value.lower()[:64]})


def help_with(turn: Turn, need: str) -> None:
    """A need for help: ask where the user is once, then the services that fit."""
    region, country = where(turn)
    pending = turn.memory.help
    # An emergency never waits for a question: contacts for what is known, at once.
    if need != EMERGENCY_INTENT and region is None and country is None and not pending.where_asked:
        pending.where_asked = True
        pending.need = need
        turn.go(State.LOCATION)
        turn.say(
            "where.ask",
            [
                Button(turn.t("where.in_mali"), Where("ml").pack()),
                Button(turn.t("where.abroad"), Where("abroad").pack()),
                Button(turn.t("where.skip"), Where("skip").pack()),
            ],
        )
        return
    services(turn, need)


def press_where(turn: Turn, payload: Where | WherePlace) -> bool:
    need = turn.memory.help.need
    skip = Button(turn.t("where.skip"), Where("skip").pack())
    if payload == Where("ml"):
        buttons = [Button(turn.t(f"place.{r}"), WherePlace(region=r).pack()) for r in REGIONS]
        turn.say("where.which_region", [*buttons, skip])
        return True
    if payload == Where("abroad"):
        buttons = [
            Button(turn.t(f"country.{c}"), WherePlace(country=c).pack()) for c in sorted(ABROAD)
        ]
        turn.say("where.which_country", [*buttons, skip])
        return True
    if isinstance(payload, WherePlace):
        if payload.region is not None and payload.region in REGIONS:
            set_where(turn, region=payload.region)
        elif payload.country is not None and payload.country in ABROAD:
            set_where(turn, country=payload.country)
        else:
            return False
    turn.memory.help.need = None
    if need is not None and need in NEEDS:
        services(turn, need)
    else:
        menu(turn)
    return True


def services(turn: Turn, need: str) -> None:
    """The need's own text (if any), then up to three service cards, best first."""
    region, country = where(turn)
    found = match(turn.catalog, need, region=region, country=country, language=turn.language)
    turn.memory.help.where = None
    if need != EMERGENCY_INTENT and turn.state in (State.LOCATION, State.REFERRAL):
        # Another need chosen mid-way: the question or the form in progress is dropped
        # (an emergency, though, comes on top of the form, which then goes on).
        turn.memory.referral = None
        turn.go(State.MENU)
    spec = turn.catalog.intents.get(need)
    live_person = need == "ask_human" and turn.can_hand_over
    if spec is not None and spec.reply is not None and not live_person:
        # (ask_human's own text is for when no person can answer here.)
        turn.say(spec.reply, [turn.button(b) for b in spec.buttons])
    for found_service in found:
        turn.replies.append(service_reply(turn, need, found_service))
    turn.meta.services = [m.as_meta() for m in found]
    if live_person:
        turn.say(
            "handover.confirm",
            [
                Button(turn.t("handover.confirm_yes"), Human(True).pack()),
                Button(turn.t("handover.confirm_no"), Human(False).pack()),
            ],
        )
    elif turn.replies:
        extra = [menu_button(turn)]
        if need == EMERGENCY_INTENT and "ask_human" in turn.catalog.intents:
            # After the contacts, a person: the agents' relay, or who listens.
            extra.insert(0, Button(turn.t("intent_label.ask_human"), Intent("ask_human").pack()))
        turn.append_to_last(tuple(extra))


def service_reply(turn: Turn, need: str, found: ServiceMatch) -> Reply:
    service = found.service
    buttons: tuple[Button, ...] = ()
    if need in REFERRAL_NEEDS and service.accepts_referrals and service.partner_chat_id:
        buttons = (Button(turn.t("referral.offer"), Refer(service.id, need).pack()),)
    return Reply(service_card(turn.catalog, service, turn.language), buttons)
