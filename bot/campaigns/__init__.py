"""The campaign machinery: campaign definitions and when each message is due, segments,
planning, enqueueing into the durable outbox, and the rate-limited sender.

The SQL lives in ``bot/store`` (``outbox``, ``runs``, ``audience``); the sender reaches
users through a :class:`~bot.campaigns.transport.CampaignTransport` (``bot/telegram``
implements it), so nothing here imports SQLAlchemy or python-telegram-bot.
"""
