"""Reaching subscribers again: segments, campaign definitions and their planning (this
part), then the durable outbox and the rate-limited sender that deliver them."""
