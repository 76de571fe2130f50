"""Who may do what in the console: the one table of roles and actions, and the one check.

Every route names its action with :func:`bot.web.console.routes.guarded`; nothing else
decides. A scoped action (a partner's service, a translator's language) is allowed only
when the route's path parameter is in the account's scope: a hand-made URL to another
partner's service is refused like any other.
"""

from __future__ import annotations

from enum import StrEnum

from bot.store.accounts import Account


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    TRANSLATOR = "translator"
    #: A translator who may also mark their languages' translations reviewed.
    REVIEWER = "reviewer"
    VIEWER = "viewer"
    PARTNER = "partner"
    AGENT = "agent"  # the team's agents: the handover desk only
    #: Labels the NLU review queue, and sees nothing else.
    ANNOTATOR = "annotator"


class Action(StrEnum):
    HOME = "home"
    DASHBOARD = "dashboard"
    EXPORT = "export"
    SERVICE = "service"  # one service's referrals (scoped: partners only their own)
    TRANSLATIONS = "translations"  # one language's coverage (scoped: translators)
    USERS = "users"
    AUDIT = "audit"
    PASSWORD = "password"  # one's own password (every role)
    #: Campaigns: create, edit, plan, send, cancel, runs.
    BROADCASTS = "broadcasts"
    #: One language's voice notes: listen, record, upload (scoped: translators).
    VOICE = "voice"
    CASES = "cases"  # the inbox and its export: every query bounded by services_in_scope()
    CASE = "case"  # one case's page (scoped: partners only their services' cases)
    CASE_WORK = "case_work"  # move, note, assign: the partner's own staff only
    REROUTE = "reroute"  # send a case no partner acknowledged to another service
    RESPONSE_TIMES = "response_times"  # each partner's medians to acknowledge and close
    HANDOVERS = "handovers"  # the handover desk: open relays, pseudonymous
    # Content edited in the console (bot/web/console/content.py). Scoped to a language:
    # translators and reviewers only their own.
    CONTENT = "content"  # read messages side by side, check a text, download a sheet
    CONTENT_EDIT = "content.edit"  # save or discard a draft, import a sheet
    CONTENT_REVIEW = "content.review"  # mark a translation reviewed (never one's own)
    CONTENT_STATUS = "content.status"  # the coverage matrix of every language
    # Modules edited in the console (bot/web/console/topics.py): editors and admins.
    TOPICS = "topics"  # the modules, their cards, buttons and quiz questions
    TOPICS_EDIT = "topics.edit"  # card order, buttons, sources, quiz questions: drafts
    PUBLISH = "publish"  # publish drafts, see the versions and their diffs, roll back
    REVIEW = "review"  # the NLU review queue: read, label, discard
    #: Retrain the NLU, compare, promote, undo (admins only: it changes what the bot
    #: understands for everyone).
    NLU = "nlu"


#: Role -> the actions it may take.
ALLOWED: dict[Role, frozenset[Action]] = {
    # Admins see every case's status and history, never the person's fields or the
    # partner's notes (the case page is the partner's), and do not move a partner's cases.
    Role.ADMIN: frozenset(Action) - {Action.CASE_WORK},
    Role.EDITOR: frozenset(
        {
            Action.HOME,
            Action.DASHBOARD,
            Action.EXPORT,
            Action.SERVICE,
            Action.TRANSLATIONS,
            Action.BROADCASTS,
            Action.VOICE,
            Action.REVIEW,
        }
    ),
    Role.TRANSLATOR: frozenset({Action.HOME, Action.TRANSLATIONS, Action.VOICE}),
    Role.VIEWER: frozenset({Action.HOME, Action.DASHBOARD, Action.EXPORT}),
    Role.PARTNER: frozenset(
        {Action.HOME, Action.SERVICE, Action.CASES, Action.CASE, Action.CASE_WORK}
    ),
    Role.AGENT: frozenset({Action.HOME, Action.HANDOVERS}),
    Role.REVIEWER: frozenset({Action.HOME, Action.TRANSLATIONS, Action.VOICE}),
    Role.ANNOTATOR: frozenset({Action.HOME, Action.REVIEW}),
}

# Every account may change its own password, whatever its role.
for _role in Role:
    ALLOWED[_role] = ALLOWED[_role] | {Action.PASSWORD}

#: Content actions, added to the roles above (editors: every language).
_TRANSLATING = frozenset({Action.CONTENT, Action.CONTENT_EDIT, Action.CONTENT_STATUS})
ALLOWED[Role.EDITOR] |= _TRANSLATING | {Action.CONTENT_REVIEW, Action.PUBLISH}
ALLOWED[Role.EDITOR] |= {Action.TOPICS, Action.TOPICS_EDIT}
ALLOWED[Role.TRANSLATOR] |= _TRANSLATING
ALLOWED[Role.REVIEWER] |= _TRANSLATING | {Action.CONTENT_REVIEW}

#: Scoped actions: the account attribute that bounds them, for the roles it bounds.
SCOPES: dict[Action, tuple[str, frozenset[Role]]] = {
    Action.SERVICE: ("services", frozenset({Role.PARTNER})),
    Action.CASE: ("services", frozenset({Role.PARTNER})),
    Action.CASE_WORK: ("services", frozenset({Role.PARTNER})),
    Action.VOICE: ("languages", frozenset({Role.TRANSLATOR, Role.REVIEWER})),
    Action.TRANSLATIONS: ("languages", frozenset({Role.TRANSLATOR, Role.REVIEWER})),
    Action.CONTENT: ("languages", frozenset({Role.TRANSLATOR, Role.REVIEWER})),
    Action.CONTENT_EDIT: ("languages", frozenset({Role.TRANSLATOR, Role.REVIEWER})),
    Action.CONTENT_REVIEW: ("languages", frozenset({Role.REVIEWER})),
}


def allowed(account: Account, action: Action, scope: str | None = None) -> bool:
    """May ``account`` take ``action`` (on ``scope``: a service id, a language)?"""
    if not account.active:
        return False
    try:
        role = Role(account.role)
    except ValueError:
        return False
    if action not in ALLOWED[role]:
        return False
    bound = SCOPES.get(action)
    if bound is not None and role in bound[1]:
        return scope is not None and scope in getattr(account, bound[0])
    return True


def services_in_scope(account: Account, action: Action) -> tuple[str, ...] | None:
    """The services whose cases ``account`` may see for ``action``: its own for a role the
    action is scoped for, None (every service) otherwise. Queries of the inbox and its
    export take this, so a list is bounded like a page."""
    bound = SCOPES.get(action, SCOPES[Action.SERVICE])
    try:
        role = Role(account.role)
    except ValueError:
        return ()
    return tuple(getattr(account, bound[0])) if role in bound[1] else None
