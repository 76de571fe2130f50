"""Repositories, records and the schema, on SQLite and PostgreSQL."""
