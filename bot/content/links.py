"""Links between content files: message keys, button targets, services and campaigns.

Each file names things defined elsewhere (a message key, a topic, an intent, a
language). A dangling name is a problem at the line that names it, so the whole
tree is checked as one before it is served.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bot.content.catalog import MAX_BUTTON_LABEL, MAX_PAYLOAD_BYTES, payload_for
from bot.content.checks import MessageSources
from bot.content.models import (
    ID_PATTERN,
    ButtonSpec,
    CampaignFile,
    IntentsFile,
    Menu,
    MessageEntry,
    PlacesFile,
    PrivacyFile,
    ServicesFile,
    Topic,
)
from bot.content.models import (
    ServiceCategory as C,
)
from bot.content.models.services import UNKNOWN
from bot.content.needs import NEEDS
from bot.content.reading import Reader, Source
from bot.places import HOME_COUNTRY

#: What a campaign file may be called (its name is its id).
CAMPAIGN_NAME = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class Links:
    """What the other files may name: the known message keys, topics and intents."""

    reader: Reader
    default: str
    known_keys: Mapping[str, MessageEntry]
    message_sources: MessageSources
    topics: Collection[str]
    #: ``None`` when intents.yml did not load: intent names are then not checked.
    intents: Collection[str] | None

    def need_key(
        self, src: Source, path: tuple[Any, ...], key: str, *, label: bool = False
    ) -> None:
        """``key`` has a default-language text; as a button ``label``, a short one everywhere."""
        if key not in self.known_keys:
            self.reader.problem(src, src.line(*path), f"message '{key}' has no {self.default} text")
            return
        if label:
            for code, (_msrc, parsed) in self.message_sources.items():
                entry = parsed.messages.get(key)
                if entry is not None and len(entry.text) > MAX_BUTTON_LABEL:
                    self.reader.problem(
                        src,
                        src.line(*path),
                        f"button label '{key}' is over {MAX_BUTTON_LABEL} characters in {code}",
                    )

    def need_target(self, src: Source, path: tuple[Any, ...], spec: ButtonSpec) -> None:
        """A button's label exists, it leads somewhere known, and its payload fits Telegram."""
        reader = self.reader
        self.need_key(src, (*path, "label"), spec.label, label=True)
        if spec.topic and spec.topic not in self.topics:
            reader.problem(
                src, src.line(*path, "topic"), f"bad button: unknown topic '{spec.topic}'"
            )
        if spec.intent and self.intents is not None and spec.intent not in self.intents:
            reader.problem(
                src, src.line(*path, "intent"), f"bad button: unknown intent '{spec.intent}'"
            )
        if len(payload_for(spec).encode()) > MAX_PAYLOAD_BYTES:
            reader.problem(
                src, src.line(*path), f"bad button: payload over {MAX_PAYLOAD_BYTES} bytes"
            )


def check_menu(links: Links, src: Source, menu: Menu) -> None:
    links.need_key(src, ("text",), menu.text)
    for i, item in enumerate(menu.items):
        links.need_target(src, ("items", i), item)


def check_topic(links: Links, src: Source, topic: Topic) -> None:
    """A topic's title, cards, buttons and quiz name known messages and targets."""
    links.need_key(src, ("title",), topic.title, label=True)
    for i, card in enumerate(topic.cards):
        links.need_key(src, ("cards", i, "text"), card.text)
        for j, button in enumerate(card.buttons):
            links.need_target(src, ("cards", i, "buttons", j), button)
        _check_figure(links, src, topic, i)
        if card.services is not None and card.services not in NEEDS:
            links.reader.problem(
                src,
                src.line("cards", i, "services"),
                f"unknown need '{card.services}' (known: {', '.join(NEEDS)})",
            )
    for i, question in enumerate(topic.quiz):
        links.need_key(src, ("quiz", i, "question"), question.question)
        for j, answer in enumerate(question.answers):
            links.need_key(src, ("quiz", i, "answers", j, "label"), answer.label, label=True)
            links.need_key(src, ("quiz", i, "answers", j, "feedback"), answer.feedback)
        longest = f"quiz:{topic.id}:{question.id}:{len(question.answers) - 1}"
        if len(longest.encode()) > MAX_PAYLOAD_BYTES:
            links.reader.problem(
                src,
                src.line("quiz", i, "id"),
                f"quiz button payload over {MAX_PAYLOAD_BYTES} bytes: shorten the ids",
            )


#: A digit in a card's default-language text: a figure (a number, a date, a phone, a
#: share) that needs its sources, as the content guide says.
FIGURE = re.compile(r"[0-9]")


def card_states_figure(entry: MessageEntry | None) -> bool:
    return entry is not None and FIGURE.search(entry.text) is not None


def _check_figure(links: Links, src: Source, topic: Topic, index: int) -> None:
    """A card that states a figure names where it comes from and when it was checked: its
    own ``sources`` and ``verified_on``, or a ``source`` and ``verified_on`` on its text."""
    card = topic.cards[index]
    entry = links.known_keys.get(card.text)
    if not card_states_figure(entry):
        return
    assert entry is not None
    if card.sources and card.verified_on is not None:
        return
    if entry.source and entry.verified_on is not None:
        return
    links.reader.problem(
        src,
        src.line("cards", index, "text"),
        f"card {index + 1} ('{card.text}') states a figure: it needs sources "
        "(title, url) and verified_on",
    )


def check_places(links: Links, src: Source, places: PlacesFile) -> None:
    """Each country's route is a known topic."""
    for i, country in enumerate(places.countries):
        if country.route is not None and country.route not in links.topics:
            links.reader.problem(
                src, src.line("countries", i, "route"), f"unknown topic '{country.route}'"
            )


def check_privacy(links: Links, src: Source, privacy: PrivacyFile, codes: list[str]) -> None:
    """Each language of the requests is declared in languages.yml."""
    for code in privacy.forget:
        if code not in codes:
            links.reader.problem(
                src, src.line("forget", code), f"phrases for undeclared language '{code}'"
            )


def check_intents(links: Links, src: Source, intents: IntentsFile, codes: list[str]) -> None:
    """Each intent's reply, topic, buttons, keyword languages and label are known."""
    reader = links.reader
    for name, spec in intents.intents.items():
        if spec.reply:
            links.need_key(src, ("intents", name, "reply"), spec.reply)
        if spec.topic and spec.topic not in links.topics:
            reader.problem(src, src.line("intents", name, "topic"), f"unknown topic '{spec.topic}'")
        for j, button in enumerate(spec.buttons):
            links.need_target(src, ("intents", name, "buttons", j), button)
        for code in spec.keywords:
            if code not in codes:
                reader.problem(
                    src,
                    src.line("intents", name, "keywords", code),
                    f"keywords for undeclared language '{code}'",
                )
        links.need_key(src, ("intents", name), f"intent_label.{name}", label=True)


def check_services(
    links: Links,
    src: Source,
    services: ServicesFile,
    codes: list[str],
    places: PlacesFile | None,
) -> None:
    """Links from services.yml to the rest, and the guarantee of an answer for every need."""
    reader = links.reader
    seen: dict[str, int] = {}
    by_id = {service.id: service for service in services.services}
    towns = {town.id: town for town in places.towns} if places is not None else {}
    for i, service in enumerate(services.services):
        where = ("services", i)
        if service.id in seen:
            reader.problem(
                src,
                src.line(*where, "id"),
                f"service id '{service.id}' is repeated (first at line {seen[service.id]})",
            )
        else:
            seen[service.id] = src.line(*where, "id")
        for j, code in enumerate(service.spoken):
            if code not in codes:
                reader.problem(
                    src,
                    src.line(*where, "languages", j),
                    f"language '{code}' is not declared in languages.yml",
                )
        for j, town_id in enumerate(service.coverage.towns if places is not None else ()):
            town = towns.get(town_id)
            if town is None:
                reader.problem(
                    src,
                    src.line(*where, "coverage", "towns", j),
                    f"unknown town '{town_id}': add it to places.yml first",
                )
            elif town.country == HOME_COUNTRY:
                reader.problem(
                    src,
                    src.line(*where, "coverage", "towns", j),
                    f"'{town_id}' is in Mali: name Malian places under regions",
                )
        if service.nearest is not None:
            nearest = by_id.get(service.nearest)
            if nearest is None or not nearest.contacts.reachable:
                reader.problem(
                    src,
                    src.line(*where, "nearest"),
                    f"nearest '{service.nearest}' is not a service with a contact of its own",
                )
        links.need_key(src, (*where, "description"), service.description)
        hours = service.contacts.hours
        if hours is not None and hours != UNKNOWN:
            links.need_key(src, (*where, "contacts", "hours"), hours)
    national = [s for s in services.services if s.coverage.national]
    for category in (C.EMERGENCY,):
        if not any(category in s.categories for s in national):
            reader.problem(
                src,
                src.line("services"),
                f"no national service for category '{category}': users needing it"
                " would get no answer",
            )
    for need, categories in NEEDS.items():
        if not any(c in s.categories for s in national for c in categories):
            reader.problem(
                src,
                src.line("services"),
                f"no national service for need '{need}' (categories"
                f" {', '.join(categories)}): users needing it would get no answer",
            )


def check_campaign(links: Links, src: Source, campaign: CampaignFile, codes: list[str]) -> None:
    """Links from a campaign to the rest: message keys, languages, modules; days once each."""
    reader = links.reader
    if campaign.message is not None:
        links.need_key(src, ("message",), campaign.message)
    first_line: dict[int, int] = {}
    for i, step in enumerate(campaign.steps):
        links.need_key(src, ("steps", i, "message"), step.message)
        line = src.line("steps", i, "day")
        if step.day in first_line:
            reader.problem(
                src, line, f"day {step.day} is repeated (first at line {first_line[step.day]})"
            )
        else:
            first_line[step.day] = line
    segment = campaign.segment
    for j, code in enumerate(segment.languages):
        if code not in codes:
            reader.problem(
                src,
                src.line("segment", "languages", j),
                f"segment: language '{code}' is not declared in languages.yml",
            )
    topics = links.topics
    for field_name in ("topics_seen", "topics_not_seen"):
        for j, topic in enumerate(getattr(segment, field_name)):
            if topic not in topics:
                reader.problem(
                    src,
                    src.line("segment", field_name, j),
                    f"segment: unknown topic '{topic}' (known: {', '.join(sorted(topics))})",
                )
