"""A campaign's file of ``content/broadcasts/`` as the console makes or changes it.

The fields are validated by the campaign model, field by field, and written with the
round-trip editor (comments, key order and the rest of the file kept). The console keeps
the text as a draft (``bot.content.drafts``) until it is published; keeping the file as
the one place a campaign lives means ``kunnafoni broadcast plan|send NAME``, the worker's
drips and the console all read the same definition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.content.editing import dump_document, load_document
from bot.content.models import CampaignFile
from bot.errors import KunnafoniError

#: File names of campaigns (the loader's rule) and names the console's own pages take.
NAME = re.compile(r"^[a-z0-9_]{1,64}$")
RESERVED = frozenset({"new", "audience", "runs"})
#: The refusal of a save over a change made since the form was opened.
CHANGED_MEANWHILE = "changed_meanwhile"
#: Fields named by the segment's own rules (minors, active/inactive days).
SEGMENT_RULES = ("age_brackets", "inactive_for_days")


class CampaignRefused(KunnafoniError):
    """The campaign was not saved. ``fields``: field name -> reason; ``problems``: the
    loader's reasons that concern the tree as a whole (a message key that does not exist)."""

    def __init__(self, fields: Mapping[str, str], problems: list[str] | None = None) -> None:
        self.fields = dict(fields)
        self.problems = list(problems or [])
        super().__init__(
            "; ".join([*(f"{k}: {v}" for k, v in self.fields.items()), *self.problems])
        )


def campaign_path(root: Path, name: str) -> Path:
    return root / "broadcasts" / f"{name}.yml"


def validate(data: Mapping[str, Any]) -> CampaignFile:
    """The campaign as the loader reads it; :class:`CampaignRefused` per field when not."""
    try:
        return CampaignFile.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors():
            loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
            # "segment.languages" -> "languages"; a model-level error -> "kind".
            name = loc[-1] if loc else "kind"
            if loc and loc[0] == "steps":
                name = "steps"
            reason = str(error["msg"]).removeprefix("Value error, ")
            if not loc:
                # A rule of the kind ("a oneoff campaign needs when and message"): shown
                # on the fields it asks for that are empty.
                wanted = ("when", "message") if data.get("kind") == "oneoff" else ("steps",)
                empty = [f for f in wanted if not data.get(f)]
                for field in empty or ["kind"]:
                    fields.setdefault(field, reason)
                continue
            if loc == ["segment"]:
                # A rule across the segment's fields: on the field it names.
                name = next((f for f in SEGMENT_RULES if f in reason), "segment")
            fields.setdefault(name, reason)
        raise CampaignRefused(fields) from exc


def _document(campaign: CampaignFile, old: Any) -> CommentedMap:
    """``old`` (the file's document, comments kept) updated to ``campaign``."""
    data = campaign.model_dump(mode="json", exclude_defaults=True)
    data["kind"] = campaign.kind.value
    if "when" in data:
        # Mali time is UTC+0: written with its offset, as the files do.
        data["when"] = campaign.when.isoformat() if campaign.when else None
    doc = old if isinstance(old, CommentedMap) else CommentedMap()
    for key in list(doc):
        if key not in data:
            del doc[key]
    for key in ("kind", "when", "segment", "message", "steps", "quiet_hours", "catch_up_days"):
        if key in data:
            doc[key] = _yaml(data[key], doc.get(key))
    return doc


def _yaml(value: Any, old: Any) -> Any:
    if isinstance(value, dict):
        block = old if isinstance(old, CommentedMap) else CommentedMap()
        for key in list(block):
            if key not in value:
                del block[key]
        for key, item in value.items():
            block[key] = _yaml(item, block.get(key))
        if len(block) and all(not isinstance(v, (dict, list)) for v in value.values()):
            block.fa.set_flow_style()
        return block
    if isinstance(value, list):
        seq = CommentedSeq(_yaml(item, None) for item in value)
        if all(not isinstance(item, (dict, list)) for item in value):
            seq.fa.set_flow_style()
        return seq
    return value


def campaign_text(root: Path, name: str, data: Mapping[str, Any]) -> str:
    """The new text of campaign ``name``'s file (its comments and order kept when it
    exists); :class:`CampaignRefused` per field when the model refuses ``data``."""
    campaign = validate(data)
    path = campaign_path(root, name)
    doc = _document(campaign, load_document(path) if path.exists() else None)
    return dump_document(doc)
