"""The services directory at work: which services answer a need, and their cards.

``needs`` maps intents and topics to service categories; ``matching`` ranks the
services of ``content/services.yml`` for a user's need, place and language;
``render`` turns one service into the plain text of a card.
"""
