"""Routing a user to help: which services of the directory answer a need, and their cards.

``matching`` ranks the services of ``content/services.yml`` for a user's need, place
and language; ``render`` turns one service into the plain text of a card. What each
need asks of the directory (``bot.content.needs``) and the canonical places
(``bot.places``) are content: the loader checks the directory against them.
"""
