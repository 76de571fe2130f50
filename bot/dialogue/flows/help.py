"""Help needs: where the user is (asked once), the services that fit, emergencies first.

Where the user is comes from what they write (a town or country of ``places.yml``,
or the NLU's entities), from the buttons of "where are you?", or from what they said
before. The emergency contacts follow the country of the emergency: its own sourced
numbers where there are some, IOM and the embassy where there are none; asked again
in the same emergency, the numbers come back in one short line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.content.needs import NEEDS
from bot.dialogue.flows.directory import nearest_services, service_reply, town_of, where
from bot.dialogue.flows.modules import menu, menu_button, menu_buttons, with_menu
from bot.dialogue.memory import EmergencyNotes, Place, is_recent
from bot.dialogue.payloads import Human, Intent, Where, WherePlace
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button, State
from bot.nlu.keywords import EMERGENCY_INTENT
from bot.nlu.types import NluResult
from bot.places import ABROAD, HOME_COUNTRY, REGIONS, region_of
from bot.routing.matching import ServiceMatch, match
from bot.routing.places import Mention, Who, finder, is_destination, speaker_before
from bot.routing.render import format_phone

#: Entities kept as the user's location, and the user field each one fills.
LOCATION_ENTITIES = {"place_ml": "region", "country": "country"}

#: Contacts shown for an emergency abroad: the nearest two, so the numbers are read at
#: once (the header line, then two cards).
EMERGENCY_CARDS = 2

#: How long asking again counts as the same emergency (numbers in one line).
SAME_EMERGENCY = timedelta(hours=3)


def set_where(
    turn: Turn,
    *,
    region: str | None = None,
    country: str | None = None,
    town: str | None = None,
) -> None:
    # A town is only kept with its country abroad, and a new place replaces it.
    turn.memory.help.town = town if country in ABROAD else None
    if region is not None and country is None:
        country = HOME_COUNTRY
    place = Place(region, country)
    if turn.consent:
        # (A Malian place said before stays: the matching knows abroad wins, and
        # campaigns for a region reach its people abroad too.)
        turn.user_changes.update(place.to_data())
    else:
        # Not remembered without consent: used for the answer in progress, then dropped.
        turn.memory.help.where = place


def keep_location(turn: Turn, understood: NluResult) -> bool:
    """A place the user says they are in is where they are: remembered if they agreed
    to it, otherwise used for this answer only. A place said about someone else, or
    where someone goes or comes from, is not. True when the user said where they are."""
    notes = turn.memory.help
    mentions = finder(turn.catalog).mentions(understood.text)
    # A name alone ("libye") is a subject to talk about, unless it answers "where are you?".
    answering = turn.state is State.LOCATION
    own = [m for m in mentions if m.who is Who.USER or (answering and m.who is Who.UNKNOWN)]
    others = [m for m in mentions if m not in own]
    if own:
        _set_mention(turn, own[-1])
    else:
        for entity in understood.entities:
            field_name = LOCATION_ENTITIES.get(entity.entity)
            if not field_name or not entity.value:
                continue
            value = entity.value.lower()[:64]
            about = [m for m in mentions if m.who is Who.OTHER]
            if _about_someone_else(understood.text, entity.start, value, about):
                continue
            if _destination(turn, understood.text, entity.start, value):
                continue  # where someone goes ("partir en Espagne"), not where they are
            set_where(turn, **{field_name: value})
            notes.said_here = True
    notes.said_here = notes.said_here or bool(own)
    if notes.said_here:
        # Never asked for a place the conversation gave (without consent it is not kept
        # after this answer, and the question is not asked instead).
        notes.where_asked = True
    if others and not notes.said_here:
        # Someone else's place, or a place named alone: the emergency contacts of this
        # answer follow it, and nothing is stored.
        notes.said_elsewhere = others[-1].country
    return notes.said_here


def _set_mention(turn: Turn, mention: Mention) -> None:
    if mention.region is not None:
        set_where(turn, region=mention.region)
    elif mention.country != HOME_COUNTRY:
        set_where(turn, country=mention.country, town=mention.town)
    else:
        set_where(turn, country=HOME_COUNTRY)


def _about_someone_else(text: str, start: int | None, value: str, others: list[Mention]) -> bool:
    if start is not None:
        return speaker_before(text, start) is Who.OTHER
    return any(value in (m.country, m.town) for m in others)


def _destination(turn: Turn, text: str, start: int | None, value: str) -> bool:
    if start is not None:
        return is_destination(text, start)
    return any(value in (d.country, d.town) for d in finder(turn.catalog).destinations(text))


def acknowledge(turn: Turn) -> bool:
    """A place said alone ("je suis a Kita"): thanks, naming it, and whether it is kept
    (with consent) or used for the next answer only. False when no place is known."""
    region, country = where(turn)
    if region is not None:
        label = turn.t(f"place.{region_of(region) or region}")
    elif country is not None:
        label = turn.t(f"country.{country}")
    else:
        return False
    turn.say(
        "place.ack" if turn.consent else "place.ack_once",
        menu_buttons(turn),
        fields={"place": label},
    )
    return True


def located(turn: Turn, latitude: float, longitude: float) -> None:
    """A location shared on the phone: the nearest known town within reach gives the
    country (and region), used like a typed place: the question waiting for it, the
    emergency going on, or an acknowledgement."""
    town = finder(turn.catalog).nearest(latitude, longitude)
    if town is None:
        with_menu(turn, "fallback.location")
        return
    if town.place is not None:
        set_where(turn, region=town.place)
    else:
        set_where(turn, country=town.country, town=town.id)
    notes = turn.memory.help
    notes.said_here = True
    notes.where_asked = True
    if answer_pending(turn):
        return
    shown = turn.memory.emergency
    if shown is not None and _recent(shown):
        # The emergency going on: the contacts of where the user really is.
        emergency(turn)
        return
    acknowledge(turn)


def answer_pending(turn: Turn) -> bool:
    """The place typed in answer to "where are you?": the need waiting for it is answered."""
    pending = turn.memory.help
    need = pending.need
    if turn.state is not State.LOCATION or need is None or need not in NEEDS:
        return False
    pending.need = None
    services(turn, need)
    return True


def help_with(turn: Turn, need: str) -> None:
    """A need for help: ask where the user is once, then the services that fit."""
    if need == EMERGENCY_INTENT:
        # An emergency never waits for a question: contacts for what is known, at once.
        emergency(turn)
        return
    region, country = where(turn)
    pending = turn.memory.help
    if region is None and country is None and not pending.where_asked:
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


def emergency(turn: Turn, *, brief_again: bool = False) -> None:
    """Contacts for the country of the emergency. ``brief_again`` (a message, not the
    button): written again in the same emergency, the numbers come in one line."""
    region, country = where(turn)
    notes = turn.memory.help
    if not notes.said_here and notes.said_elsewhere is not None:
        # Someone else in danger elsewhere: that country's contacts, for this answer only.
        region, country = None, notes.said_elsewhere
    abroad = country if country in ABROAD else None
    town = town_of(turn) if notes.said_here or notes.said_elsewhere is None else None
    shown = turn.memory.emergency
    same = shown is not None and shown.country == (abroad or "")
    if brief_again and same and repeat_numbers(turn):
        return
    if abroad is None:
        services(turn, EMERGENCY_INTENT, region=region, country=country)
    else:
        found = match(
            turn.catalog,
            EMERGENCY_INTENT,
            country=abroad,
            town=town,
            language=turn.language,
            limit=EMERGENCY_CARDS,
        )
        turn.memory.help.where = None
        turn.memory.help.town = None
        has_own = any(
            reason.startswith(("covers:town:", "covers:country:"))
            for m in found
            for reason in m.reasons
        )
        turn.say(
            "emergency.abroad" if has_own else "emergency.no_number",
            fields={"country": turn.t(f"country.{abroad}")},
        )
        for found_service in found:
            turn.replies.append(service_reply(turn, EMERGENCY_INTENT, found_service))
        turn.meta.services = [m.as_meta() for m in found]
        turn.append_to_last(tuple(_emergency_buttons(turn)))
        _remember_emergency(turn, abroad or "", found)


def repeat_numbers(turn: Turn) -> bool:
    """In an emergency shown a moment ago: its numbers again, in one short line."""
    shown = turn.memory.emergency
    if shown is None or not _recent(shown) or not shown.numbers:
        return False
    shown.at = _now().isoformat()
    turn.say(
        "emergency.again",
        _emergency_buttons(turn),
        fields={"numbers": ", ".join(shown.numbers)},
    )
    return True


def asks_again(turn: Turn, text: str) -> bool:
    """Words like "help", "dema", "qui appeler" while an emergency is going on: the
    numbers again (not inside the referral form, whose answers are the person's words)."""
    if turn.state is State.REFERRAL or not finder(turn.catalog).asks_again(text):
        return False
    return repeat_numbers(turn)


def _emergency_buttons(turn: Turn) -> list[Button]:
    buttons = [menu_button(turn)]
    if "ask_human" in turn.catalog.intents:
        # After the contacts, a person: the agents' relay, or who listens.
        buttons.insert(0, Button(turn.t("intent_label.ask_human"), Intent("ask_human").pack()))
    return buttons


def _remember_emergency(turn: Turn, country: str, found: list[ServiceMatch]) -> None:
    numbers: list[str] = []
    for m in found:
        contacts = m.service.contacts
        numbers.extend(contacts.emergency)
        numbers.extend(format_phone(p) for p in contacts.phone)
    turn.memory.emergency = EmergencyNotes(country, _now().isoformat(), numbers)


def _now() -> datetime:
    return datetime.now(UTC)


def _recent(shown: EmergencyNotes) -> bool:
    return is_recent(shown.at, SAME_EMERGENCY)


def services(
    turn: Turn, need: str, *, region: str | None = None, country: str | None = None
) -> None:
    """The need's own text (if any), then up to three service cards, best first."""
    found = nearest_services(turn, need, region=region, country=country)
    turn.memory.help.where = None
    turn.memory.help.town = None
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
    if need == EMERGENCY_INTENT:
        _remember_emergency(turn, "", found)
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
