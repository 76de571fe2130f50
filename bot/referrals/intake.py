"""A referral comes in: the user confirmed the form, it is stored with a fresh reference.

The form's conversation lives in the dialogue engine; it calls :func:`open_referral` inside
its own transaction and hands the new referral's id to the channel, which delivers it
through :class:`bot.referrals.policy.ReferralPolicy`.
"""

from __future__ import annotations

from bot.referrals.reference import new_reference
from bot.referrals.status import ReferralStatus
from bot.store import Session
from bot.store import referrals as referral_repo
from bot.store.referrals import ReferralRecord

#: References drawn before giving up: five collisions among 600 million codes mean a bug.
ATTEMPTS = 5


async def open_referral(
    session: Session,
    *,
    user_id: int,
    service_id: str,
    need: str,
    language: str,
    first_name: str | None,
    phone: str | None,
    location: str | None,
    description: str | None,
    minor: bool = False,
) -> ReferralRecord:
    """Store a new referral, ``sent`` by its user, under a reference no other one has.

    ``minor``: the person said they are 15-17; the partner's card carries it.
    """
    for _attempt in range(ATTEMPTS):
        stored = await referral_repo.create_referral(
            session,
            reference=new_reference(),
            user_id=user_id,
            service_id=service_id,
            need=need,
            status=ReferralStatus.PENDING.value,
            language=language,
            first_name=first_name,
            phone=phone,
            location=location,
            description=description,
            minor=minor,
        )
        if stored is not None:
            return stored
    raise RuntimeError("could not allocate a referral reference")
