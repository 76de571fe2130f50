"""The load benches start and run end to end at a tiny size (their figures are not checked;
they are scripts, run by hand: see bench/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bench import engine_load, memory, replicas, stack_floor, telegram_load


def _plain(postgres_schema_url: str) -> str:
    """The test database's URL without the schema option: the benches make their own."""
    base = make_url(postgres_schema_url).difference_update_query(["options"])
    return base.render_as_string(hide_password=False)


def _figures(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_engine_load_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert engine_load.main(["--chats", "3", "--steps", "6", "--json"]) == 0
    figures = _figures(capsys)
    assert figures["steps"] == 18 and figures["nlu"] == "keywords"


@pytest.mark.parametrize("mode", ["webhook", "polling"])
def test_telegram_load_runs(mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--mode", mode, "--users", "3", "--steps", "5", "--timeout", "30", "--json"]
    assert telegram_load.main(argv) == 0
    figures = _figures(capsys)
    assert figures["updates"] == 15 and figures["refused"] == 0


def test_stack_floor_telegram_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert stack_floor.main(["ptb", "--chats", "2", "--steps", "3", "--json"]) == 0
    figures = _figures(capsys)
    assert figures["count"] == 6 and float(figures["cpu_ms_each"]) > 0  # type: ignore[arg-type]


@pytest.mark.postgres
@pytest.mark.parametrize("raw", [False, True])
def test_stack_floor_database_runs(
    raw: bool, postgres_schema_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["db", "--db", _plain(postgres_schema_url), "--chats", "2", "--steps", "3", "--json"]
    assert stack_floor.main([*argv, "--raw"] if raw else argv) == 0
    assert _figures(capsys)["count"] == 6


def test_memory_runs(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--db", "sqlite", "--users", "50", "--events", "200", "--active", "3", "--json"]
    assert memory.main(argv) == 0
    figures = _figures(capsys)
    assert figures["updates"] == 9 and float(figures["rss_peak_mb"]) > 0  # type: ignore[arg-type]


@pytest.mark.postgres
def test_replicas_runs(postgres_schema_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--db", _plain(postgres_schema_url), "--users", "2", "--steps", "3", "--json"]
    assert replicas.main([*argv, "--timeout", "30"]) == 0
    figures = _figures(capsys)
    assert figures["replicas"] == 2
    assert figures["one_replica"]["chats_missing_answers"] == 0  # type: ignore[index]


def test_console_dashboard_runs_and_measures_again_without_filling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import console_dashboard

    db = f"sqlite:///{tmp_path / 'dashboard.db'}"
    argv = ["console_dashboard", "--users", "40", "--events", "300", "--rounds", "1"]
    monkeypatch.setattr("sys.argv", [*argv, "--db", db, "--json"])
    console_dashboard.main()
    first = _figures(capsys)
    assert first["fill_seconds"] is not None and first["rolled_up_days"] > 0
    sections = first["sections"]
    assert isinstance(sections, dict) and "understanding (language=bm)" in sections
    # The pages were served to the signed-in viewer (the bench asserts each answer is 200).
    assert {f"page {name}" for name in console_dashboard.SECTIONS} <= set(sections)
    monkeypatch.setattr("sys.argv", [*argv, "--db", db, "--reuse", "--json"])
    console_dashboard.main()
    again = _figures(capsys)
    assert again["fill_seconds"] is None and again["rolled_up_days"] == 0
