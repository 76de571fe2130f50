"""The engine's features, one module each, as functions over the turn.

Dependencies point one way: ``modules`` (the menu, which every flow falls back to) is
at the bottom; ``subscription`` and ``help`` build on it; ``onboarding`` on
subscription; ``referral_form`` on help; ``access`` (``/mydata``) on subscription's
words for age brackets. Only ``bot.dialogue.router`` imports them all.
"""
