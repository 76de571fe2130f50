"""The referral form: a consent screen saying what is shared with whom, a few optional
questions, a summary, and the confirmation (stored by the engine after deciding)."""

from __future__ import annotations

from bot.dialogue.flows.directory import where
from bot.dialogue.flows.modules import clarify, emergency_button, menu_button, stale
from bot.dialogue.memory import ReferralForm
from bot.dialogue.payloads import FormPress, Refer
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button, State
from bot.places import ABROAD, REGIONS
from bot.referrals import (
    MAX_DESCRIPTION,
    MAX_LOCATION,
    MAX_NAME,
    REFERRAL_NEEDS,
    LimitReached,
    clean_text,
    normalise_phone,
)

#: The form after the consent, in order.
STEPS = ("name", "phone", "location", "description", "confirm")
#: The steps answered by typing.
TEXT_STEPS = ("name", "phone", "location", "description")


def offer(turn: Turn, payload: Refer) -> bool:
    """The consent screen: exactly what will be shared, with whom. Nothing stored yet."""
    service = turn.catalog.services.get(payload.service)
    if (
        service is None
        or payload.need not in REFERRAL_NEEDS
        or not service.accepts_referrals
        or turn.partners.chat_for(service.id) is None
    ):
        return False
    if limit_reached(turn):
        return True
    turn.memory.referral = ReferralForm(payload.service, payload.need, "consent")
    turn.go(State.REFERRAL)
    turn.say(
        "referral.consent",
        [
            Button(turn.t("referral.consent_yes"), FormPress("yes").pack()),
            Button(turn.t("referral.consent_no"), FormPress("no").pack()),
        ],
        fields={"organisation": service.organisation},
    )
    return True


def limit_reached(turn: Turn) -> bool:
    """When the person already has as many referrals open, or sent as many in a day, as
    one may: say so, with their cases and the menu, and open nothing."""
    counts = turn.referral_counts
    if counts is None:
        return False
    reached = turn.referral_limits.reached(open_now=counts.open_now, last_day=counts.last_day)
    if reached is None:
        return False
    turn.go(State.MENU)
    limits = turn.referral_limits
    limit = limits.open if reached is LimitReached.OPEN else limits.per_day
    turn.say(
        f"referral.limit_{reached.value}",
        [emergency_button(turn), menu_button(turn)],
        fields={"limit": limit},
    )
    return True


def current_form(turn: Turn) -> ReferralForm | None:
    form = turn.memory.referral
    if (
        turn.state is not State.REFERRAL
        or form is None
        or form.service not in turn.catalog.services
    ):
        return None
    return form


def expects_text(turn: Turn) -> bool:
    """The form waits for a free answer (name, phone, place, description)."""
    form = current_form(turn)
    return form is not None and form.step in TEXT_STEPS


def press(turn: Turn, payload: FormPress) -> bool:
    form = current_form(turn)
    if form is None:
        return False
    value, step = payload.value, form.step
    if value == "cancel" or (value == "no" and step == "consent"):
        turn.memory.referral = None
        turn.go(State.MENU)
        turn.say("referral.cancelled", [menu_button(turn)])
    elif value == "yes" and step == "consent":
        form.fields = {}
        ask_step(turn, form, "name")
    elif value == "skip" and step in STEPS[:-1]:
        ask_step(turn, form, after(step))
    elif value == "here" and step == "location":
        region, country = where(turn)
        form.answers()["location"] = region or country
        ask_step(turn, form, "description")
    elif value == "send" and step == "confirm":
        if limit_reached(turn):
            turn.memory.referral = None
        else:
            confirm(turn, form)
    else:
        ask_step(turn, form, step)  # an old button: ask the current step again
    return True


def after(step: str) -> str:
    return STEPS[STEPS.index(step) + 1]


def ask_step(turn: Turn, form: ReferralForm, step: str) -> None:
    form.step = step
    cancel = Button(turn.t("referral.cancel"), FormPress("cancel").pack())
    skip = Button(turn.t("referral.skip"), FormPress("skip").pack())
    if step == "consent":
        if not offer(turn, Refer(form.service, form.need)):
            # The service stopped taking referrals since the form began.
            stale(turn)
    elif step == "location":
        region, country = where(turn)
        buttons = [skip, cancel]
        if region or country:
            label = turn.t(f"place.{region}" if region else f"country.{country}")
            buttons.insert(0, Button(label, FormPress("here").pack()))
        turn.say("referral.ask_location", buttons)
    elif step == "confirm":
        summary(turn, form)
    else:
        turn.say(f"referral.ask_{step}", [skip, cancel])


def text(turn: Turn, written: str) -> None:
    """Text typed during the form: the answer to the current step."""
    form = current_form(turn)
    if form is None:
        turn.go(State.MENU)
        clarify(turn)
        return
    step = form.step
    fields = form.answers()
    if step == "name":
        fields["first_name"] = clean_text(written, MAX_NAME) or None
    elif step == "phone":
        phone = normalise_phone(written)
        if phone is None:
            turn.say("referral.phone_invalid")
            ask_step(turn, form, "phone")
            return
        fields["phone"] = phone
    elif step == "location":
        fields["location"] = clean_text(written, MAX_LOCATION) or None
    elif step == "description":
        fields["description"] = clean_text(written, MAX_DESCRIPTION) or None
    else:
        # Text at the consent or confirmation step: show the same choice again.
        ask_step(turn, form, step)
        return
    ask_step(turn, form, after(step))


def summary(turn: Turn, form: ReferralForm) -> None:
    fields = form.fields or {}
    service = turn.catalog.services[form.service]
    missing = turn.t("referral.not_given")
    turn.say(
        "referral.summary",
        [
            Button(turn.t("referral.send"), FormPress("send").pack()),
            Button(turn.t("referral.cancel"), FormPress("cancel").pack()),
        ],
        fields={
            "organisation": service.organisation,
            "name": fields.get("first_name") or missing,
            "phone": fields.get("phone") or missing,
            "location": place_name(turn, fields.get("location")) or missing,
            "description": fields.get("description") or missing,
        },
    )


def place_name(turn: Turn, value: str | None) -> str | None:
    if value in REGIONS:
        return turn.t(f"place.{value}")
    if value in ABROAD:
        return turn.t(f"country.{value}")
    return value


def confirm(turn: Turn, form: ReferralForm) -> None:
    fields = form.fields or {}
    turn.new_referral = {
        "service_id": form.service,
        "need": form.need,
        "first_name": fields.get("first_name"),
        "phone": fields.get("phone"),
        "location": fields.get("location"),
        "description": fields.get("description"),
    }
    turn.memory.referral = None
    turn.go(State.MENU)
