"""A service card: the plain text that presents one service to a user.

Every word comes from content (``service.*`` keys); only the organisation's proper
name, its contacts and their layout come from ``services.yml``. Plain text, no parse
mode, so nothing needs escaping; always under Telegram's 4096 characters.
"""

from __future__ import annotations

from bot.content.catalog import MAX_TEXT, SERVICE_LABEL_KEYS, Catalog
from bot.content.models import Service
from bot.content.models.services import UNKNOWN

#: Message keys the card uses besides each service's own (all in REQUIRED_KEYS).
LABEL_KEYS = SERVICE_LABEL_KEYS

#: Country calling code -> digit groups of the national number, for reading aloud.
#: A number whose length does not fit its country's groups is shown as written.
_PHONE_GROUPS: dict[str, tuple[int, ...]] = {
    "223": (2, 2, 2, 2),  # Mali: +223 80 00 11 15
    "221": (2, 3, 2, 2),  # Senegal: +221 33 869 62 00
    "222": (2, 2, 2, 2),  # Mauritania
    "224": (3, 2, 2, 2),  # Guinea
    "225": (2, 2, 2, 2, 2),  # Ivory Coast
    "226": (2, 2, 2, 2),  # Burkina Faso
    "227": (2, 2, 2, 2),  # Niger: +227 20 72 25 62
    "212": (3, 2, 2, 2),  # Morocco: +212 537 76 76 00
    "213": (3, 2, 2, 2),  # Algeria (9 digits; 8-digit numbers stay as written)
    "216": (2, 3, 3),  # Tunisia: +216 71 123 456
    "218": (2, 3, 4),  # Libya: +218 91 091 2743
    "33": (1, 2, 2, 2, 2),  # France: +33 1 23 45 67 89
    "34": (3, 3, 3),  # Spain: +34 661 706 462
}


def format_phone(number: str) -> str:
    """An E.164 number written the way people read it; unchanged for other countries."""
    digits = number.removeprefix("+")
    for code, groups in _PHONE_GROUPS.items():
        rest = digits.removeprefix(code)
        if digits.startswith(code) and len(rest) == sum(groups):
            parts, start = [f"+{code}"], 0
            for size in groups:
                parts.append(rest[start : start + size])
                start += size
            return " ".join(parts)
    return number


def first_contact(service: Service) -> str:
    """The one contact to name for a service: a number first, then its site or address."""
    contacts = service.contacts
    for number in (*contacts.phone, *contacts.whatsapp):
        return format_phone(number)
    for value in (*contacts.emergency, contacts.website, contacts.email, contacts.address):
        if value:
            return value
    return ""


def service_card(catalog: Catalog, service: Service, language: str | None) -> str:
    """The card of ``service`` in ``language`` (falling back along its chain)."""

    def text(key: str) -> str:
        return catalog.text(key, language).text

    def line(label: str, value: str) -> str:
        return text(f"service.label.{label}").format(value=value)

    contacts = service.contacts
    lines = [service.organisation, text(service.description)]
    if contacts.emergency:
        lines.append(line("emergency", ", ".join(contacts.emergency)))
    if contacts.phone:
        lines.append(line("phone", ", ".join(format_phone(p) for p in contacts.phone)))
    if contacts.whatsapp:
        lines.append(line("whatsapp", ", ".join(format_phone(p) for p in contacts.whatsapp)))
    if contacts.address:
        lines.append(line("address", contacts.address))
    if contacts.hours and contacts.hours != UNKNOWN:
        lines.append(line("hours", text(contacts.hours)))
    if contacts.website:
        lines.append(line("website", contacts.website))
    if contacts.email:
        lines.append(line("email", contacts.email))
    nearest = catalog.services.get(service.nearest) if service.nearest else None
    if nearest is not None:
        # No contact of its own: the nearest office that has one, named with it.
        lines.append(
            text("service.nearest").format(
                organisation=nearest.organisation, contact=first_contact(nearest)
            )
        )
    elif not contacts.phone and not contacts.whatsapp and not contacts.emergency:
        lines.append(text("service.no_contact"))
    card = "\n".join(lines)
    if len(card) > MAX_TEXT:  # content limits make this unreachable; never send an error
        card = card[: MAX_TEXT - 1] + "\u2026"
    return card
