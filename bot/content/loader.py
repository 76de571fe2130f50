"""Read ``content/`` into a validated :class:`Catalog`, or report every problem.

The loader reads each file (:mod:`bot.content.reading`), checks languages and
messages (:mod:`bot.content.checks`) and the links between files
(:mod:`bot.content.links`), and assembles the catalog only when nothing is wrong.
Problems are collected, not raised one at a time, so a campaign manager sees the
whole list as ``file:line: reason`` in one run of ``kunnafoni content check``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.content.catalog import Catalog
from bot.content.checks import check_key_messages, check_languages, check_messages
from bot.content.links import (
    CAMPAIGN_NAME,
    Links,
    check_campaign,
    check_intents,
    check_menu,
    check_places,
    check_privacy,
    check_services,
    check_topic,
)
from bot.content.models import (
    Campaign,
    CampaignFile,
    IntentsFile,
    LanguagesFile,
    Menu,
    MessagesFile,
    PlacesFile,
    PrivacyFile,
    ServicesFile,
    Topic,
)
from bot.content.reading import ContentError, Problem, Reader, Source

__all__ = ["ContentError", "Problem", "check_content", "load_catalog"]


def load_catalog(content_dir: Path | str) -> Catalog:
    """Load and validate the whole tree; raise :class:`ContentError` listing every problem."""
    root = Path(content_dir)
    reader = Reader(root)
    catalog = _build(root, reader)
    if reader.problems or catalog is None:
        raise ContentError(reader.problems or [Problem(str(root), 1, "no content loaded")])
    return catalog


def check_content(content_dir: Path | str) -> list[Problem]:
    """Every problem in the tree, sorted; empty when it is valid."""
    try:
        load_catalog(content_dir)
    except ContentError as exc:
        return list(exc.problems)
    return []


@dataclass
class _Files:
    """Every file of the tree that read and validated on its own, with its source."""

    languages: tuple[Source, LanguagesFile] | None = None
    messages: dict[str, tuple[Source, MessagesFile]] = field(default_factory=dict)
    menu: tuple[Source, Menu] | None = None
    intents: tuple[Source, IntentsFile] | None = None
    services: tuple[Source, ServicesFile] | None = None
    places: tuple[Source, PlacesFile] | None = None
    privacy: tuple[Source, PrivacyFile] | None = None
    topics: dict[str, tuple[Source, Topic]] = field(default_factory=dict)
    campaigns: dict[str, tuple[Source, CampaignFile]] = field(default_factory=dict)


def _yml_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yml")) if folder.is_dir() else []


def _read_files(root: Path, reader: Reader) -> _Files:
    """Read every file, in a fixed order (the version digest depends on it)."""
    files = _Files(languages=reader.read_model(root / "languages.yml", LanguagesFile))

    for path in _yml_files(root / "messages"):
        read = reader.read_model(path, MessagesFile)
        if read:
            src, parsed = read
            if parsed.language != path.stem:
                reader.problem(
                    src,
                    src.line("language"),
                    f"language '{parsed.language}' does not match the file name '{path.name}'",
                )
                continue
            files.messages[parsed.language] = read

    files.menu = reader.read_model(root / "menu.yml", Menu)
    files.intents = reader.read_model(root / "intents.yml", IntentsFile)
    files.services = reader.read_model(root / "services.yml", ServicesFile)
    if (root / "places.yml").is_file():
        # Optional: without it, places are known only from the NLU's entities.
        files.places = reader.read_model(root / "places.yml", PlacesFile)
    if (root / "privacy.yml").is_file():
        # Optional: without it, a request to erase typed in free text is left to the NLU.
        files.privacy = reader.read_model(root / "privacy.yml", PrivacyFile)

    for path in _yml_files(root / "topics"):
        read_topic = reader.read_model(path, Topic)
        if read_topic:
            src, topic = read_topic
            if topic.id != path.stem:
                reader.problem(
                    src,
                    src.line("id"),
                    f"topic id '{topic.id}' does not match the file name '{path.name}'",
                )
            files.topics[topic.id] = read_topic

    for path in _yml_files(root / "broadcasts"):
        read_campaign = reader.read_model(path, CampaignFile)
        if read_campaign:
            if not CAMPAIGN_NAME.match(path.stem):
                reader.problem(
                    read_campaign[0],
                    1,
                    "campaign file names use lower-case letters, digits and _ only",
                )
                continue
            files.campaigns[path.stem] = read_campaign
    return files


def _build(root: Path, reader: Reader) -> Catalog | None:
    """Check the files together and assemble the catalog; ``None`` when anything is wrong."""
    if not root.is_dir():
        reader.problem(root, 1, "content folder not found")
        return None
    files = _read_files(root, reader)
    if files.languages is None:
        return None
    lang_src, languages = files.languages
    codes = check_languages(reader, lang_src, languages)
    if codes is None:
        return None
    default = languages.default
    known_keys = check_messages(reader, root, files.messages, codes, default)
    if known_keys is None:
        return None
    check_key_messages(reader, lang_src, languages, known_keys, default)

    links = Links(
        reader=reader,
        default=default,
        known_keys=known_keys,
        message_sources=files.messages,
        topics=set(files.topics),
        intents=set(files.intents[1].intents) if files.intents else None,
    )
    if files.menu:
        check_menu(links, *files.menu)
    for src, topic in files.topics.values():
        check_topic(links, src, topic)
    if files.intents:
        check_intents(links, *files.intents, codes)
    if files.places:
        check_places(links, *files.places)
    if files.privacy:
        check_privacy(links, *files.privacy, codes)
    if files.services:
        check_services(links, *files.services, codes, files.places[1] if files.places else None)
    for src, campaign in files.campaigns.values():
        check_campaign(links, src, campaign, codes)

    if files.menu is None or files.intents is None or files.services is None:
        return None
    if reader.problems:
        return None
    messages = files.messages
    return Catalog(
        default_language=default,
        languages={lang.code: lang for lang in languages.languages},
        messages={code: parsed.messages for code, (_src, parsed) in messages.items()},
        statuses={code: parsed.status for code, (_src, parsed) in messages.items()},
        menu=files.menu[1],
        topics={topic_id: topic for topic_id, (_src, topic) in files.topics.items()},
        intents=files.intents[1].intents,
        version=reader.digest.hexdigest()[:16],
        root=root,
        key_messages=tuple(languages.key_messages),
        services={service.id: service for service in files.services[1].services},
        places=files.places[1] if files.places else None,
        privacy=files.privacy[1] if files.privacy else None,
        campaigns={
            name: Campaign.model_validate({**campaign.model_dump(), "name": name})
            for name, (_src, campaign) in files.campaigns.items()
        },
    )
