"""The engine's features, one module each, as functions over the turn.

Dependencies point one way: ``modules`` (the menu, which every flow falls back to) is
at the bottom; ``subscription`` and ``help`` build on it; ``consent`` (the ledger) on
help; ``onboarding`` on subscription and consent; ``privacy`` on onboarding;
``referral_form`` on help; ``access`` (``/mydata``) on subscription's words for age
brackets. Only ``bot.dialogue.router`` imports them all.
"""
