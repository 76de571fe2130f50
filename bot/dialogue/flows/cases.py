"""/mycases (the user's referrals and where each stands) and the answer to "talk to a
person?"."""

from __future__ import annotations

from bot.content.catalog import Fields
from bot.dialogue.flows.modules import menu, menu_button
from bot.dialogue.payloads import Human
from bot.dialogue.turn import Turn


def my_cases(turn: Turn) -> None:
    cases = turn.cases or []
    if not cases:
        turn.say("referral.mycases_none", [menu_button(turn)])
        return
    lines = []
    for case in cases:
        service = turn.catalog.services.get(case.service_id)
        fields = Fields(
            reference=case.reference,
            organisation=service.organisation if service else case.service_id,
            status=turn.t(f"referral.status.{case.status}"),
            date=f"{case.created_at:%d/%m/%Y}",
        )
        lines.append(turn.t("referral.mycases_line").format_map(fields))
    turn.say("referral.mycases_title", [menu_button(turn)])
    turn.append_to_last(text="\n\n" + "\n".join(lines))


def handover_answer(turn: Turn, payload: Human) -> bool:
    if payload.yes and turn.can_hand_over:
        turn.open_handover = True
    else:
        menu(turn)
    return True
