"""Write a campaign of ``content/broadcasts/`` from the console, and make it live.

A campaign made or changed in the console is written to its YAML file with the
round-trip editor (comments, key order and the rest of the file kept), then the whole
tree is loaded again by the loader of ``kunnafoni content check``. A result that does
not load is undone (the file as it was), so the live content never holds an invalid
campaign. Keeping the file as the one place a campaign lives means ``kunnafoni broadcast
plan|send NAME``, the worker's drips and the console all read the same definition.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.content.editing import dump_document, load_document, write_atomic
from bot.content.loader import check_content
from bot.content.models import CampaignFile
from bot.content.store import ContentStore
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


@dataclass(frozen=True)
class Saved:
    name: str
    created: bool
    #: The live content version after the save.
    version: str


def campaign_path(root: Path, name: str) -> Path:
    return root / "broadcasts" / f"{name}.yml"


def file_version(root: Path, name: str) -> str:
    """A short hash of the campaign's file as it is now ("" when there is none): the form
    carries it, so a save over someone else's change in between is refused, not lost."""
    path = campaign_path(root, name)
    if not path.exists():
        return ""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


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


def save_campaign(
    store: ContentStore,
    name: str,
    data: Mapping[str, Any],
    *,
    create: bool,
    base: str | None = None,
) -> Saved:
    """Write campaign ``name`` (new with ``create``) and reload the content.

    Refused, with nothing changed: a bad name, a name taken (``create``) or unknown (not
    ``create``), a file changed since the form read it (``base``, :func:`file_version`),
    a field the model refuses, or a tree the loader refuses.
    """
    if not NAME.match(name) or name in RESERVED:
        raise CampaignRefused({"name": "lower-case letters, digits and _ only"})
    root = store.directory
    path = campaign_path(root, name)
    if create and path.exists():
        raise CampaignRefused({"name": "a campaign of that name exists"})
    if not create and not path.exists():
        raise CampaignRefused({"name": "no campaign of that name"})
    if base is not None and base != file_version(root, name):
        raise CampaignRefused({}, [CHANGED_MEANWHILE])
    old_text = path.read_text(encoding="utf-8") if path.exists() else None
    write_atomic(path, campaign_text(root, name, data))
    if not store.reload() or name not in store.current().campaigns:
        problems = [p.reason for p in check_content(root)]
        if old_text is None:
            path.unlink(missing_ok=True)
        else:
            write_atomic(path, old_text)
        store.reload()
        raise CampaignRefused({}, problems or ["the content did not load"])
    return Saved(name, create, store.current().version)
