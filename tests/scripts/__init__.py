"""The NLU evaluation tools."""
