"""Matching people to the services that can help."""
