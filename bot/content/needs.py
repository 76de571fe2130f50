"""What each user need asks of the services directory: need -> service categories.

A need is an intent name (``nlu/domain.yml``) or a topic id (``content/topics``).
The categories are in order of preference: a service of the first category ranks
before one that only has the second. The content loader requires, for every need
here, at least one national service of one of its categories, and a national
emergency service, so a need always gets an answer.

The map lives with the content, not with the matching (``bot.routing``) that reads it:
the loader's "no dead end" check needs it, and content is the lower layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.content.models import ServiceCategory as C

NEEDS: Mapping[str, tuple[C, ...]] = MappingProxyType(
    {
        # Intents.
        "return_help": (C.RETURN_ASSISTANCE,),
        "reintegration": (C.REINTEGRATION, C.EMPLOYMENT),
        "psychosocial": (C.PSYCHOSOCIAL, C.HEALTH),
        "missing_person": (C.FAMILY_TRACING,),
        "documents": (C.DOCUMENTS, C.CONSULAR),
        "diaspora_money": (C.DIASPORA_MONEY,),
        "emergency": (C.EMERGENCY,),
        "legal_migration": (C.LEGAL_MIGRATION, C.EMPLOYMENT),
        # Already abroad: papers, police, health care, asylum.
        "rights_abroad": (C.PROTECTION, C.LEGAL_AID, C.CONSULAR, C.HEALTH),
        "local_opportunities": (C.EMPLOYMENT,),
        # The bot has no live chat: someone asking for a person gets the organisations
        # where people listen (psychosocial support first), then those that help home.
        "ask_human": (C.PSYCHOSOCIAL, C.RETURN_ASSISTANCE),
        # Topics whose last card leads to help.
        "home_opportunities": (C.EMPLOYMENT, C.REINTEGRATION),
        "legal_paths": (C.LEGAL_MIGRATION, C.EMPLOYMENT),
        "libya": (C.RETURN_ASSISTANCE,),
        "life_abroad": (C.CONSULAR, C.DOCUMENTS),
        "returnee_stories": (C.REINTEGRATION, C.PSYCHOSOCIAL),
    }
)
