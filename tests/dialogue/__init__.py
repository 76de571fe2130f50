"""The dialogue engine and its flows."""
