"""The person's right of access: ``/mydata`` shows, in their language, what is kept about
them, and sends it as a JSON file on request.

The engine loads what the store keeps (``bot/store/access``) into ``turn.kept`` for this
command and its buttons; this module only reads it. The summary says what is kept, field
by field, with the words of the content (places, age brackets, situations, module titles,
referral statuses); the file holds the same and what is only worth a file (times to the
second, what was typed into a referral form), with stable keys. Messages waiting in the NLU
review queue are shown as stored (names and numbers masked): the newest few in the summary,
every one in the file. Nothing here is logged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.content.catalog import Fields
from bot.content.models import Action
from bot.dialogue.flows.modules import menu_button
from bot.dialogue.flows.subscription import age_label
from bot.dialogue.payloads import Do, MyData
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button, Document, State
from bot.places import region_of
from bot.store.access import KeptAbout
from bot.store.models import (
    PROGRESS_ASKED_FOR_HELP,
    PROGRESS_FINISHED_MODULE,
    PROGRESS_OPENED_MODULE,
)

#: The shape of the file, for whoever reads it later: bumped when a key changes meaning.
FILE_FORMAT = "kunnafoni-mydata/1"
FILE_MIME = "application/json"

#: Where the conversation stands, in the summary's words.
_FORM_STATES = frozenset({State.REFERRAL})
_TOPIC_STATES = frozenset({State.TOPIC, State.QUIZ})
_START_STATES = frozenset({State.NEW, State.CHOOSING_LANGUAGE, State.CONSENT})
#: Queued messages shown in the summary (the newest), and how much of each: the file has all.
SUMMARY_UNCLEAR = 5
SUMMARY_UNCLEAR_CHARS = 120
#: The funnel's steps kept on the user's row (``users.progress``), as the file names them.
_STEPS = (
    (PROGRESS_OPENED_MODULE, "opened_a_module"),
    (PROGRESS_FINISHED_MODULE, "finished_a_module"),
    (PROGRESS_ASKED_FOR_HELP, "asked_for_help"),
)


def my_data_button(turn: Turn) -> Button:
    """A button that opens the summary (for a menu or a privacy answer)."""
    return Button(turn.t("command.mydata"), MyData("show").pack())


def file_button(turn: Turn) -> Button:
    return Button(turn.t("mydata.file_button"), MyData("file").pack())


def press(turn: Turn, payload: MyData) -> bool:
    if payload.part == "file":
        send_file(turn)
    else:
        my_data(turn)
    return True


def _kept(turn: Turn) -> KeptAbout:
    return turn.kept or KeptAbout(topics=(), referrals=(), linked_events=0, quiz_answers=0)


def _has_nothing(turn: Turn) -> bool:
    """A person who has not even chosen a language: nothing but where the talk stands."""
    user, kept = turn.user, _kept(turn)
    return (
        turn.chosen_language is None
        and turn.consent is None
        and not kept.topics
        and not kept.referrals
        and not kept.unclear
        and user.region is None
        and user.country is None
        and user.acquisition_source is None
    )


def my_data(turn: Turn) -> None:
    """The summary of what is kept, field by field, then a file, erase and menu buttons."""
    if _has_nothing(turn):
        turn.say("mydata.nothing", [menu_button(turn)])
        return
    lines = _lines(turn)
    intro = "mydata.intro" if turn.consent else "mydata.intro_no_consent"
    turn.say(
        intro,
        [
            file_button(turn),
            Button(turn.t("command.forget"), Do(Action.FORGET).pack()),
            menu_button(turn),
        ],
    )
    turn.append_to_last(text="\n\n" + "\n".join(lines))


def _line(turn: Turn, key: str, value: str) -> str:
    return turn.t(key).format_map(Fields(value=value))


def _date(moment: datetime | None) -> str:
    return f"{moment:%d/%m/%Y}" if moment is not None else ""


def _lines(turn: Turn) -> list[str]:
    """One line per field; without consent, only what is kept all the same."""
    user, kept, consented = turn.user, _kept(turn), bool(turn.consent)
    unknown = turn.t("mydata.not_given")
    lines = [_line(turn, "mydata.language", _language_name(turn))]
    lines.append(_line(turn, "mydata.where", _where(turn)))
    lines.append(_line(turn, "mydata.consent", _consent(turn)))
    place = _place(turn)
    if consented or place is not None:
        lines.append(_line(turn, "mydata.place", place or unknown))
    if consented or user.age_bracket is not None:
        age = age_label(turn, user.age_bracket) if user.age_bracket else unknown
        lines.append(_line(turn, "mydata.age", age))
    if consented or user.situation is not None:
        situation = turn.t(f"subscribe.situation_{user.situation}") if user.situation else unknown
        lines.append(_line(turn, "mydata.situation", situation))
    if consented or user.subscribed:
        lines.append(_line(turn, "mydata.subscription", _subscription(turn)))
    if user.acquisition_source:
        lines.append(_line(turn, "mydata.source", user.acquisition_source))
    if consented or kept.topics:
        titles = ", ".join(_topic_title(turn, seen.topic) for seen in kept.topics)
        lines.append(_line(turn, "mydata.topics", titles or turn.t("mydata.none")))
    if consented or kept.referrals:
        lines.append(_line(turn, "mydata.referrals", str(len(kept.referrals))))
        for case in kept.referrals:
            service = turn.catalog.services.get(case.service_id)
            fields = Fields(
                reference=case.reference,
                organisation=service.organisation if service else case.service_id,
                status=turn.t(f"referral.status.{case.status}"),
                date=_date(case.created_at),
            )
            lines.append(turn.t("referral.mycases_line").format_map(fields))
    if kept.unclear:
        lines.append(_line(turn, "mydata.unclear", str(len(kept.unclear))))
        for queued in kept.unclear[-SUMMARY_UNCLEAR:]:
            fields = Fields(text=_shorten(queued.text), date=_date(queued.created_at))
            lines.append(turn.t("mydata.unclear_line").format_map(fields))
    return lines


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SUMMARY_UNCLEAR_CHARS:
        return flat
    return flat[: SUMMARY_UNCLEAR_CHARS - 1].rstrip() + "…"


def _language_name(turn: Turn) -> str:
    chosen = turn.chosen_language
    if chosen is None:
        return turn.t("mydata.not_given")
    language = turn.catalog.languages.get(chosen)
    return language.name if language is not None else chosen


def _where(turn: Turn) -> str:
    state, topic = turn.state, turn.conversation.topic
    if state in _TOPIC_STATES and topic is not None:
        return _topic_title(turn, topic)
    if state in _FORM_STATES:
        return turn.t("mydata.where_form")
    if state in _START_STATES:
        return turn.t("mydata.where_start")
    return turn.t("mydata.where_menu")


def _consent(turn: Turn) -> str:
    consent = turn.consent
    if consent is None:
        return turn.t("mydata.consent_unanswered")
    at = turn.user_changes.get("consent_at", turn.user.consent_at)
    key = "mydata.consent_yes" if consent else "mydata.consent_no"
    return turn.t(key).format_map(Fields(date=_date(at)))


def _place(turn: Turn) -> str | None:
    user = turn.user
    if user.region is not None:
        return turn.t(f"place.{region_of(user.region) or user.region}")
    if user.country is not None:
        return turn.t(f"country.{user.country}")
    return None


def _subscription(turn: Turn) -> str:
    user = turn.user
    if user.subscribed:
        return turn.t("mydata.subscribed").format_map(Fields(date=_date(user.subscribed_at)))
    return turn.t("mydata.not_subscribed")


def _topic_title(turn: Turn, topic_id: str) -> str:
    topic = turn.catalog.topics.get(topic_id)
    return turn.t(topic.title) if topic is not None else topic_id


# -- the file --------------------------------------------------------------------------------


def send_file(turn: Turn) -> None:
    """Everything kept about the person, as a JSON file, with a caption."""
    document = Document(
        filename=f"kunnafoni-mydata-{datetime.now(UTC):%Y-%m-%d}.json",
        content=export(turn),
        mime=FILE_MIME,
    )
    turn.say("mydata.file_caption", [menu_button(turn)], document=document)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat() if moment else None


def export(turn: Turn) -> bytes:
    """The JSON document (UTF-8, keys sorted, times in ISO 8601 UTC)."""
    user, kept = turn.user, _kept(turn)
    form = turn.memory.referral
    data: dict[str, Any] = {
        "format": FILE_FORMAT,
        "generated_at": _iso(datetime.now(UTC)),
        "account": {
            "channel": user.channel,
            "id": user.external_id,
            "first_contact_at": _iso(user.created_at),
            "last_seen_at": _iso(user.last_seen_at),
            "came_through": user.acquisition_source,
        },
        "language": turn.chosen_language,
        "consent": {
            "given": turn.consent,
            "at": _iso(turn.user_changes.get("consent_at", user.consent_at)),
        },
        "place": {"region": user.region, "country": user.country},
        "profile": {"age_bracket": user.age_bracket, "situation": user.situation},
        "subscription": {
            "subscribed": user.subscribed,
            "subscribed_at": _iso(user.subscribed_at),
            "unsubscribed_at": _iso(user.unsubscribed_at),
            "blocked_at": _iso(user.blocked_at),
        },
        "conversation": {
            "state": turn.conversation.state,
            "topic": turn.conversation.topic,
            "referral_form_in_progress": (
                None
                if form is None
                else {"service": form.service, "need": form.need, "answers": form.fields or {}}
            ),
        },
        "topics_seen": [
            {
                "topic": seen.topic,
                "title": _topic_title(turn, seen.topic),
                "first_seen_at": _iso(seen.first_seen_at),
            }
            for seen in kept.topics
        ],
        "referrals": [
            {
                "reference": case.reference,
                "service": case.service_id,
                "organisation": _organisation(turn, case.service_id),
                "need": case.need,
                "status": case.status,
                "status_label": turn.t(f"referral.status.{case.status}"),
                "language": case.language,
                "created_at": _iso(case.created_at),
                "updated_at": _iso(case.updated_at),
                "you_gave": {
                    "first_name": case.first_name,
                    "phone": case.phone,
                    "location": case.location,
                    "description": case.description,
                },
            }
            for case in kept.referrals
        ],
        "messages_not_understood": [
            {"text": queued.text, "kept_since": _iso(queued.created_at)} for queued in kept.unclear
        ],
        "statistics_linked_to_you": {
            "events": kept.linked_events,
            "quiz_answers": kept.quiz_answers,
            "steps_reached": [name for bit, name in _STEPS if user.progress & bit],
        },
    }
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _organisation(turn: Turn, service_id: str) -> str | None:
    service = turn.catalog.services.get(service_id)
    return service.organisation if service is not None else None
