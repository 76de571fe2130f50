"""Test doubles for the services Kunnafoni talks to (a fake Telegram Bot API server, ...)."""
