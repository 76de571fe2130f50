"""The web console for campaign managers: accounts, roles and the dashboard.

Server-rendered pages (Jinja2) under ``/console`` on the service's own ASGI app; every
label comes from the console's catalogue (``messages/fr.json`` first, ``en.json``);
every count about people goes through :mod:`bot.disclosure`.
"""
