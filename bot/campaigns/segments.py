"""A campaign's segment taken apart: each criterion alone, for ``broadcast plan``.

Which users a segment matches is asked of the database (``bot/store/audience.py``).
"""

from __future__ import annotations

from bot.content.models import Segment

__all__ = ["Segment", "criteria"]


def criteria(segment: Segment) -> list[tuple[str, Segment]]:
    """Each criterion of ``segment`` alone, with a label (for ``broadcast plan``).

    ``minors`` is not a criterion of its own: each part keeps the segment's rule, so a
    part counts the same people the campaign could reach.
    """
    data = segment.model_dump(mode="json", exclude_defaults=True)
    minors = data.pop("minors", None)
    groups = [
        ("regions", "countries"),
        ("sources", "source_prefixes"),
    ]
    done: set[str] = set()
    out: list[tuple[str, Segment]] = []
    for name in type(segment).model_fields:
        if name not in data or name in done:
            continue
        group = next((g for g in groups if name in g), (name,))
        part = {n: data[n] for n in group if n in data}
        done.update(group)
        label = "; ".join(f"{n}: {_show(v)}" for n, v in part.items())
        if minors is not None:
            part["minors"] = minors
        out.append((label, Segment.model_validate(part)))
    return out


def _show(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
