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
    VIEWER = "viewer"
    PARTNER = "partner"
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
    REVIEW = "review"  # the NLU review queue: read, label, discard


#: Role -> the actions it may take.
ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.EDITOR: frozenset(
        {
            Action.HOME,
            Action.DASHBOARD,
            Action.EXPORT,
            Action.SERVICE,
            Action.TRANSLATIONS,
            Action.REVIEW,
        }
    ),
    Role.TRANSLATOR: frozenset({Action.HOME, Action.TRANSLATIONS}),
    Role.VIEWER: frozenset({Action.HOME, Action.DASHBOARD, Action.EXPORT}),
    Role.PARTNER: frozenset({Action.HOME, Action.SERVICE}),
    Role.ANNOTATOR: frozenset({Action.HOME, Action.REVIEW}),
}

#: Scoped actions: the account attribute that bounds them, for the roles it bounds.
SCOPES: dict[Action, tuple[str, frozenset[Role]]] = {
    Action.SERVICE: ("services", frozenset({Role.PARTNER})),
    Action.TRANSLATIONS: ("languages", frozenset({Role.TRANSLATOR})),
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
