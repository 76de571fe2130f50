"""The terminal channel and the recorded conversations."""
