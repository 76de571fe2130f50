"""Turning what a query returns into the frozen dataclasses that leave the store.

Repositories return plain records, never ORM rows. Instead of one hand-written mapper per
record, :func:`to_record` reads the record's fields by name from an ORM object, a result
``Row`` (its column labels) or a mapping, so a new column is one field on the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, fields
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import Row

from bot.store.types import as_utc

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")

_ABSENT = object()


@cache
def _init_fields(record_type: type[DataclassInstance]) -> tuple[tuple[str, bool], ...]:
    """``(name, has_default)`` of each field the record's ``__init__`` takes."""
    return tuple(
        (f.name, f.default is not MISSING or f.default_factory is not MISSING)
        for f in fields(record_type)
        if f.init
    )


def to_record(record_type: type[R], row: Any, /, **overrides: Any) -> R:
    """A ``record_type`` built from the same-named attributes (or keys) of ``row``.

    ``overrides`` give fields that are not read from ``row`` as they are (a value computed
    from the row, or a field of a joined table). A field missing from both is an error,
    unless the record gives it a default. Every datetime read from ``row`` comes out aware,
    in UTC (a naive one is taken as UTC, which is how the store writes them).
    """
    # A Row is also a tuple: read its columns by label, never its tuple methods (``count``).
    source = row._mapping if isinstance(row, Row) else row
    values: dict[str, Any] = {}
    for name, has_default in _init_fields(record_type):
        if name in overrides:
            values[name] = overrides[name]
            continue
        if isinstance(source, Mapping):
            value = source.get(name, _ABSENT)
        else:
            value = getattr(source, name, _ABSENT)
        if value is _ABSENT:
            if has_default:
                continue
            raise AttributeError(
                f"{record_type.__name__}.{name}: no such attribute on {type(source).__name__}"
            )
        values[name] = as_utc(value) if isinstance(value, datetime) else value
    unknown = set(overrides) - set(values)
    if unknown:
        raise TypeError(f"{record_type.__name__} has no fields {sorted(unknown)}")
    return record_type(**values)


def rows_touched(result: Any) -> int:
    """How many rows an UPDATE or DELETE matched (0 when the driver does not say)."""
    return int(getattr(result, "rowcount", 0) or 0)
