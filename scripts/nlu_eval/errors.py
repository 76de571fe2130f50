"""The one error of the NLU evaluation: a report or run that cannot be produced."""

from __future__ import annotations


class ReportError(Exception):
    """The report cannot be produced; the message says why and what to look at."""
