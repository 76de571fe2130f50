"""The kunnafoni command."""
