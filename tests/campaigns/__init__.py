"""Broadcasts: segments, the outbox and the rate-limited sender."""
