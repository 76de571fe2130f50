"""A service taking referrals, as a deployment has once a partner agrees: the content says
it accepts them, and the deployment's partners file (``PARTNERS_FILE``, outside the content)
says which group receives them and who in it may act."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from bot.partners import Partners, load_partners

PARTNER_CHAT = -1001234567
SERVICE = "iom_mali"
#: The partner's staff member the tests press buttons as.
STAFF = 81


def partners_file(root: Path) -> Path:
    """The partners file of the content folder ``root`` (beside it, never inside)."""
    return root.parent / f"{root.name}.partners.yml"


def enable_referrals(
    root: Path,
    service_id: str = SERVICE,
    chat: int = PARTNER_CHAT,
    staff: tuple[int, ...] = (STAFF,),
) -> Partners:
    """Let a service receive referrals: ``accepts_referrals`` in the content, its group and
    staff in the partners file beside it. Returns every partner enabled so far."""
    yaml = YAML(typ="rt")
    path = root / "services.yml"
    doc = yaml.load(path.read_text(encoding="utf-8"))
    service = next(s for s in doc["services"] if s["id"] == service_id)
    service["accepts_referrals"] = True
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(doc, handle)
    deployment = partners_file(root)
    safe = YAML(typ="safe")
    data = safe.load(deployment.read_text(encoding="utf-8")) if deployment.exists() else None
    data = data or {"partners": {}}
    data["partners"][service_id] = {"chat_id": chat, "staff": list(staff)}
    with deployment.open("w", encoding="utf-8") as handle:
        safe.dump(data, handle)
    return load_partners(deployment)
