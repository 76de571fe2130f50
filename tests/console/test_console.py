"""The ``kunnafoni chat --json`` contract, through the real command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.console import inbound_from_line, inbound_from_typing, render
from bot.content.catalog import Catalog
from bot.dialogue.types import Button, Document, Inbound, Meta, Outcome, Reply

META_KEYS = {"intent", "confidence", "language", "state", "topic", "services", "messages"}


def chat(lines: list[str], db: Path, *extra: str) -> tuple[list[dict[str, Any]], str, int]:
    env = {**os.environ, "RASA_URL": "", "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--json", "--db", f"sqlite:///{db}", *extra],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    return out, proc.stderr, proc.returncode


def test_json_chat_contract(tmp_path: Path, catalog: Catalog) -> None:
    lines = [
        json.dumps({"command": "start", "args": "kayes_radio"}),
        json.dumps({"button": "lang:bm"}),
        json.dumps({"button": "consent:yes"}),
        json.dumps({"button": "sub:no"}),
        "not json at all",
        json.dumps({"text": "i ni ce"}),
        "",
        "[1, 2]",
    ]
    out, err, code = chat(lines, tmp_path / "c.db")
    assert code == 0, err
    assert len(out) == len(lines)  # exactly one output line per input line
    for answer in out:
        assert set(answer) == {"replies", "meta"}
        assert set(answer["meta"]) == META_KEYS
        for reply in answer["replies"]:
            assert set(reply) == {"text", "buttons", "media"} and reply["text"]
            for button in reply["buttons"]:
                assert set(button) == {"label", "payload"}
    assert out[0]["meta"]["state"] == "choosing_language"
    assert out[1]["meta"] == {**out[1]["meta"], "language": "bm", "state": "consent"}
    assert out[2]["meta"]["state"] == "subscribe"
    assert out[2]["replies"][-1]["text"] == catalog.text("subscribe.ask", "bm").text
    assert out[3]["meta"]["state"] == "menu"
    assert out[3]["replies"][-1]["text"] == catalog.text("menu.title", "bm").text
    assert out[4]["replies"][0]["text"] == catalog.text("clarify.prompt", "bm").text
    assert out[0]["meta"]["services"] == []
    assert "INFO" in err or err == ""  # logs, if any, on standard error only


def test_json_chat_shows_a_file_under_document(tmp_path: Path, catalog: Catalog) -> None:
    lines = [
        json.dumps({"command": "start"}),
        json.dumps({"button": "lang:fr"}),
        json.dumps({"button": "consent:yes"}),
        json.dumps({"button": "topic:sea"}),
        json.dumps({"command": "mydata"}),
        json.dumps({"button": "mydata:file"}),
    ]
    out, err, code = chat(lines, tmp_path / "c.db", "--user", "u1")
    assert code == 0, err
    assert "document" not in out[4]["replies"][0]  # a reply without a file keeps its shape
    (reply,) = out[5]["replies"]
    assert reply["text"] == catalog.text("mydata.file_caption", "fr").text
    document = reply["document"]
    assert document["mime"] == "application/json" and document["filename"].endswith(".json")
    content = document["content"]
    assert content["account"] == {**content["account"], "channel": "console", "id": "u1"}
    assert [seen["topic"] for seen in content["topics_seen"]] == ["sea"]


def test_interactive_chat_prints_a_file() -> None:
    document = Document("d.json", b'{"a": 1}\n', "application/json")
    shown = render(Outcome([Reply("Here", document=document)], meta=Meta()))
    assert "--- d.json ---" in shown and '{"a": 1}' in shown


def test_json_chat_keeps_state_between_runs_and_presets_language(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    first, _, code = chat([json.dumps({"command": "start"})], db, "--user", "a", "--lang", "bm")
    assert code == 0 and first[0]["meta"]["language"] == "bm"
    again, _, _ = chat([json.dumps({"button": "consent:no"})], db, "--user", "a")
    assert again[0]["meta"]["language"] == "bm" and again[0]["meta"]["state"] == "subscribe"


def test_unknown_preset_language_is_refused(tmp_path: Path) -> None:
    _, err, code = chat([], tmp_path / "c.db", "--lang", "xx")
    assert code == 2 and "unknown language 'xx'" in err


def test_line_parsing() -> None:
    assert inbound_from_line('{"text": "salut"}', user_id="u").text == "salut"
    assert inbound_from_line('{"button": "menu"}', user_id="u").button == "menu"
    start = inbound_from_line('{"command": "/start", "args": "x"}', user_id="u")
    assert (start.command, start.args) == ("start", "x")
    assert inbound_from_line('"quoted"', user_id="u").text == '"quoted"'
    assert inbound_from_line('{"other": 1}', user_id="u").text == '{"other": 1}'
    shared = inbound_from_line('{"location": [13.03, -9.49]}', user_id="u")
    assert (shared.location, shared.text) == ((13.03, -9.49), None)
    for bad in ('{"location": [91, 0]}', '{"location": ["a", 1]}', '{"location": [1]}'):
        assert inbound_from_line(bad, user_id="u").text == bad


def test_interactive_typing_maps_numbers_to_buttons() -> None:
    last = Outcome([Reply("Menu", (Button("A", "topic:a"), Button("B", "topic:b")))], meta=Meta())
    assert inbound_from_typing("2", user_id="u", last=last) == Inbound(
        user_id="u", button="topic:b"
    )
    assert inbound_from_typing("/start kayes", user_id="u", last=last).args == "kayes"
    assert inbound_from_typing("3", user_id="u", last=last).text == "3"


def test_nlu_parse_prints_json_and_falls_back_to_keywords(catalog: Catalog) -> None:
    phrase = catalog.intents["greet"].keywords["bm"][0]
    # Nothing listens on port 9: the client fails fast and keywords answer.
    env = {**os.environ, "RASA_URL": "http://127.0.0.1:9", "RASA_TIMEOUT": "0.5"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "nlu", "parse", phrase],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    parsed = json.loads(proc.stdout)
    assert parsed["intent"] == "greet" and parsed["source"] == "keywords"
    assert parsed["text"] == phrase
    assert set(parsed["language"]) == {"language", "confidence", "mixed"}
