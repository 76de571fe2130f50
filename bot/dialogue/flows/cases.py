"""/mycases (the user's referrals and where each stands, a page at a time) and the answer
to "talk to a person?"."""

from __future__ import annotations

from bot.content.catalog import MAX_TEXT, Fields
from bot.dialogue.flows.modules import menu, menu_button
from bot.dialogue.payloads import CasesPage, Human
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button
from bot.store.referrals import ReferralRecord

#: Referrals on one page of /mycases, most recent first.
CASES_PER_PAGE = 10


def my_cases(turn: Turn, page: int = 1) -> bool:
    """Page ``page`` of the user's referrals: at most ``CASES_PER_PAGE`` lines, and always
    under Telegram's 4,096 characters, with buttons to the newer and older pages."""
    cases = turn.cases or []
    if not cases:
        turn.say("referral.mycases_none", [menu_button(turn)])
        return True
    lines = [_line(turn, case) for case in cases]
    title = turn.t("referral.mycases_title")
    pages = _pages(lines, room=MAX_TEXT - len(title) - len(_heading(turn, 999, 999)) - 2)
    if not 1 <= page <= len(pages):
        return False  # a page that no longer exists: the stale-button answer
    buttons = []
    if page > 1:
        buttons.append(Button(turn.t("referral.mycases_newer"), CasesPage(page - 1).pack()))
    if page < len(pages):
        buttons.append(Button(turn.t("referral.mycases_older"), CasesPage(page + 1).pack()))
    turn.say("referral.mycases_title", [*buttons, menu_button(turn)])
    heading = _heading(turn, page, len(pages)) if len(pages) > 1 else ""
    turn.append_to_last(text=heading + "\n\n" + "\n".join(pages[page - 1]))
    return True


def _line(turn: Turn, case: ReferralRecord) -> str:
    service = turn.catalog.services.get(case.service_id)
    fields = Fields(
        reference=case.reference,
        organisation=service.organisation if service else case.service_id,
        status=turn.t(f"referral.status.{case.status}"),
        date=f"{case.created_at:%d/%m/%Y}",
    )
    return turn.t("referral.mycases_line").format_map(fields)


def _heading(turn: Turn, page: int, pages: int) -> str:
    return " " + turn.t("referral.mycases_page").format_map(Fields(page=page, pages=pages))


def _pages(lines: list[str], *, room: int) -> list[list[str]]:
    """``lines`` cut into pages of at most ``CASES_PER_PAGE`` lines and ``room``
    characters (title and heading aside); a line longer than a page is shortened."""
    pages: list[list[str]] = [[]]
    used = 0
    for line in lines:
        line = line if len(line) <= room else line[: room - 1] + "\u2026"
        if pages[-1] and (len(pages[-1]) == CASES_PER_PAGE or used + 1 + len(line) > room):
            pages.append([])
            used = 0
        pages[-1].append(line)
        used += len(line) + 1
    return pages


def handover_answer(turn: Turn, payload: Human) -> bool:
    if payload.yes and turn.can_hand_over:
        turn.open_handover = True
    else:
        menu(turn)
    return True
