"""Content where a service takes referrals, as a deployment has once a partner agrees."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

PARTNER_CHAT = -1001234567
SERVICE = "iom_mali"


def enable_referrals(root: Path, service_id: str = SERVICE, chat: int = PARTNER_CHAT) -> None:
    """Let a service receive referrals, as a deployment does once the partner agrees."""
    yaml = YAML(typ="rt")
    path = root / "services.yml"
    doc = yaml.load(path.read_text(encoding="utf-8"))
    service = next(s for s in doc["services"] if s["id"] == service_id)
    service["accepts_referrals"] = True
    service["partner_chat_id"] = chat
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(doc, handle)
