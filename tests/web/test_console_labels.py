"""Every label of the console exists in French and English, and every key the pages use
is in the catalogue (the dynamic ones too: each chart, column, figure, step and role)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.store.dashboard import SECTIONS
from bot.web.console.i18n import LANGUAGES, catalogue
from bot.web.console.permissions import Role

TEMPLATES = Path(__file__).resolve().parents[2] / "bot" / "web" / "console" / "templates"
LITERAL = re.compile(r"""\bt\(\s*["']([a-z_.]+)["']""")


def test_both_catalogues_have_the_same_keys_and_no_empty_label() -> None:
    french, english = (catalogue(code) for code in LANGUAGES)
    assert LANGUAGES[0] == "fr"
    assert sorted(french) == sorted(english)
    assert all(v.strip() for v in [*french.values(), *english.values()])


def test_every_key_a_template_names_is_in_the_catalogue() -> None:
    used = {
        key
        for path in TEMPLATES.glob("*.html")
        for key in LITERAL.findall(path.read_text())
        if not key.endswith(".")  # a prefix ("chart." + name): checked with the dashboard
    }
    assert used, "the pattern found no label"
    assert sorted(used - set(catalogue("fr"))) == []


def test_every_dynamic_key_is_in_the_catalogue() -> None:
    keys = set(catalogue("fr"))
    wanted = {f"section.{s}" for s in SECTIONS} | {f"role.{r.value}" for r in Role}
    wanted |= {f"period.{p}" for p in ("today", "7d", "30d", "custom")}
    assert sorted(wanted - keys) == []


def test_the_same_placeholders_in_both_languages() -> None:
    french, english = (catalogue(code) for code in LANGUAGES)
    fields = re.compile(r"\{(\w+)\}")
    for key, text in french.items():
        assert set(fields.findall(text)) == set(fields.findall(english[key])), key


def test_every_label_of_broadcasts_and_voice_notes_is_in_the_catalogue() -> None:
    from bot.content.models import CampaignKind
    from bot.content.models.messages import VoiceMode
    from bot.content.recording import RecordingRefusal

    keys = set(catalogue("fr"))
    wanted = {f"bc.status.{s}" for s in ("planned", "sending", "done", "cancelled")}
    wanted |= {f"bc.kind.{k.value}" for k in CampaignKind}
    wanted |= {r.value for r in RecordingRefusal}
    wanted |= {f"voice.mode.{m.value}" for m in VoiceMode}
    wanted |= {f"voice.only.{o}" for o in ("all", "missing", "recorded")}
    wanted |= {"voice.error.invalid", "voice.error.read_only", "voice.error.network"}
    wanted |= {f"bc.seg.{f}" for f in ("languages", "regions", "countries", "sources")}
    assert sorted(wanted - keys) == []


def test_every_label_of_the_module_pages_is_in_the_catalogue() -> None:
    from bot.web.console.topics import TARGET_KINDS

    keys = set(catalogue("fr"))
    wanted = {f"topics.kind.{k}" for k in TARGET_KINDS}
    wanted |= {f"topics.conflict.{w}" for w in ("draft", "published")}
    assert sorted(wanted - keys) == []
