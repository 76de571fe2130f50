"""Referrals: passing a person's request to a service, with their consent, and following it.

The package owns every rule about a referral; the channels only show and carry it.

- :mod:`bot.referrals.status`: the statuses, in order, and the forward-only moves;
- :mod:`bot.referrals.reference`: the short references users quote;
- :mod:`bot.referrals.form`: the needs a referral is offered for and the form's fields;
- :mod:`bot.referrals.intake`: storing a confirmed referral under a fresh reference;
- :mod:`bot.referrals.notifier`: what a channel must do for the policy (the ``Notifier``);
- :mod:`bot.referrals.policy`: delivery to the partner chat, partners' moves, reminders.

The pure rules are re-exported here, under the names other code has always imported.
The intake, notifier and policy are imported from their own modules: they reach the store
and the content catalog, and the catalog reads the statuses from this package, so
re-exporting them here would make an import cycle.
"""

from __future__ import annotations

from bot.referrals.form import (
    MAX_DESCRIPTION,
    MAX_LOCATION,
    MAX_NAME,
    REFERRAL_NEEDS,
    LimitReached,
    ReferralLimits,
    clean_text,
    normalise_phone,
)
from bot.referrals.reference import new_reference
from bot.referrals.status import (
    OPEN_STATUSES,
    STATUSES,
    ReferralStatus,
    can_move,
    next_statuses,
)

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_LOCATION",
    "MAX_NAME",
    "OPEN_STATUSES",
    "REFERRAL_NEEDS",
    "STATUSES",
    "LimitReached",
    "ReferralLimits",
    "ReferralStatus",
    "can_move",
    "clean_text",
    "new_reference",
    "next_statuses",
    "normalise_phone",
]
