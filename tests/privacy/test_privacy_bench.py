"""The privacy benchmark runs end to end with small numbers (its figures are not checked):
on a temporary SQLite file, and in a schema of its own on PostgreSQL that it drops."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bench import privacy

SMALL = ["--events", "30", "--background", "200", "--runs", "2", "--rows", "120", "--batch", "50"]
RULES = [
    "abandoned_forms",
    "linked_events",
    "linked_quiz_answers",
    "referral_details",
    "outbox",
    "processed_updates",
]


def test_the_bench_runs_on_sqlite_and_writes_only_where_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figures.json"
    assert privacy.main([*SMALL, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "median" in printed and "processed_updates" in printed
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["erasure"]["events"] == 30 and figures["erasure"]["runs"] == 2
    assert [p["rule"] for p in figures["purges"]] == RULES
    assert all(p["rows"] == 120 for p in figures["purges"])


@pytest.mark.postgres
def test_the_bench_runs_on_postgresql_in_a_schema_it_drops(
    postgres_schema_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = make_url(postgres_schema_url).difference_update_query(["options"])
    url = base.render_as_string(hide_password=False)
    assert privacy.main([*SMALL, "--db", url, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["database"].startswith("postgresql (schema kf_bench_")
    schema = figures["database"].split("schema ")[1].split(",")[0]
    assert [p["rule"] for p in figures["purges"]] == RULES
    with psycopg.connect(
        host=base.host, port=base.port or 5432, user=base.username, dbname=base.database
    ) as conn:
        left = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
    assert left == (0,)
