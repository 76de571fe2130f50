"""What the design's fixed stack costs per update before the bot does anything.

Not a test: it measures the floor under the service's throughput targets (issue 21:
1,000 engine steps/s in one process; 300 updates/s end to end through
python-telegram-bot). Two parts, each in this process, its CPU time per step or update
reported next to the rate:

- ``db``: the statements one engine step sends (``bot/dialogue/engine.py``: record the
  update id, load the person and their conversation under a row lock, store the
  conversation, insert the step's events; one transaction), through SQLAlchemy 2's
  asyncio engine and psycopg as the bot uses them, on tables of a scratch schema; no
  dialogue, NLU or content. ``--raw`` runs the same statements through psycopg alone,
  without SQLAlchemy, for comparison.
- ``ptb``: python-telegram-bot 22 with one handler that answers every message with
  ``reply_text`` (no engine, no database), updates handed to ``Application.process_update``
  as the webhook does, ``--chats`` at once, the Bot API a minimal HTTP server in another
  process that answers at once (``TCP_NODELAY`` set).

    .venv/bin/python -m bench.stack_floor db --db postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.stack_floor db --db postgresql://postgres@127.0.0.1:5432/test --raw
    .venv/bin/python -m bench.stack_floor ptb
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import secrets
import socket
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.config import normalise_database_url

STEP_SQL = (
    "INSERT INTO {s}.received (update_id, chat_id) VALUES (%(u)s, %(c)s) "
    "ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
    "SELECT p.id, p.language, p.consent, c.state FROM {s}.people p "
    "LEFT JOIN {s}.conversations c ON c.person_id = p.id WHERE p.chat_id = %(c)s "
    "FOR UPDATE OF p",
    "INSERT INTO {s}.conversations (person_id, state, updated_at) VALUES (%(p)s, %(state)s, "
    "%(now)s) ON CONFLICT (person_id) DO UPDATE SET state = excluded.state, "
    "updated_at = excluded.updated_at",
    "INSERT INTO {s}.events (person_id, kind, name, data, created_at) VALUES "
    "(%(p)s, 'inbound', 'text', %(data)s, %(now)s), (%(p)s, 'served', 'menu.main', '{{}}', "
    "%(now)s), (%(p)s, 'served', 'topic.libya.card1', '{{}}', %(now)s)",
)

SCHEMA_SQL = (
    "CREATE SCHEMA {s}",
    "CREATE TABLE {s}.received (update_id bigint PRIMARY KEY, chat_id bigint)",
    "CREATE TABLE {s}.people (id serial PRIMARY KEY, chat_id bigint UNIQUE, "
    "language text, consent boolean)",
    "CREATE TABLE {s}.conversations (person_id int PRIMARY KEY REFERENCES {s}.people(id), "
    "state jsonb, updated_at timestamptz)",
    "CREATE TABLE {s}.events (id bigserial PRIMARY KEY, person_id int, kind text, "
    "name text, data jsonb, created_at timestamptz)",
    "CREATE INDEX ON {s}.events (kind, created_at, person_id, name)",
    "CREATE INDEX ON {s}.events (created_at, person_id)",
    "CREATE INDEX ON {s}.events (person_id, created_at)",
)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _steps(chats: int, steps: int, step: Any) -> tuple[float, float, list[float]]:
    """Run ``steps`` steps for each of ``chats`` chats at once (one chat's steps one
    after the other); wall seconds, CPU seconds, latencies in ms."""
    latencies: list[float] = []

    async def chat(n: int) -> None:
        for k in range(steps):
            began = time.perf_counter()
            await step(n, n * steps + k)
            latencies.append((time.perf_counter() - began) * 1000)

    began, began_cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(chat(n) for n in range(chats)))
    return time.perf_counter() - began, time.process_time() - began_cpu, latencies


def _figures(
    name: str, count: int, wall: float, cpu: float, latencies: list[float]
) -> dict[str, Any]:
    return {
        "part": name,
        "count": count,
        "per_second": round(count / wall, 1),
        "cpu_ms_each": round(cpu * 1000 / count, 3),
        "p50_ms": round(_percentile(latencies, 0.5), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
    }


async def database_floor(url: str, chats: int, steps: int, raw: bool) -> dict[str, Any]:
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    schema = f"kf_floor_{secrets.token_hex(4)}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(plain, autocommit=True) as admin:
        for sql in SCHEMA_SQL:
            await admin.execute(sql.format(s=schema))
        await admin.execute(
            f"INSERT INTO {schema}.people (chat_id, language, consent) "
            "SELECT g, 'fr', true FROM generate_series(0, %(n)s) g",
            {"n": chats},
        )
    statements = [sql.format(s=schema) for sql in STEP_SQL]
    state = json.dumps({"screen": "menu", "cards": {"libya": 2}, "lang": "fr"})
    data = json.dumps({"intent": "greet", "confidence": 0.93, "nlu": "keywords"})
    try:
        if raw:
            # Ten connections, as the SQLAlchemy pool below, handed out by a queue.
            pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
            for _ in range(10):
                pool.put_nowait(await psycopg.AsyncConnection.connect(plain))

            async def raw_step(chat: int, update: int) -> None:
                now = datetime.now(UTC)
                conn = await pool.get()
                try:
                    async with conn.transaction():
                        await conn.execute(statements[0], {"u": update, "c": chat})
                        found = await (await conn.execute(statements[1], {"c": chat})).fetchone()
                        assert found is not None
                        values = {"p": found[0], "state": state, "now": now, "data": data}
                        await conn.execute(statements[2], values)
                        await conn.execute(statements[3], values)
                finally:
                    pool.put_nowait(conn)

            try:
                wall, cpu, latencies = await _steps(chats, steps, raw_step)
            finally:
                while not pool.empty():
                    await pool.get_nowait().close()
            return _figures("db, psycopg alone", chats * steps, wall, cpu, latencies)

        engine = create_async_engine(normalise_database_url(url), pool_size=10, max_overflow=0)
        # The same SQL as text() with named parameters, as SQLAlchemy Core sends it.
        compiled = [text(sql.replace("%(", ":").replace(")s", "")) for sql in statements]

        async def step(chat: int, update: int) -> None:
            now = datetime.now(UTC)
            async with engine.begin() as conn:
                await conn.execute(compiled[0], {"u": update, "c": chat})
                found = (await conn.execute(compiled[1], {"c": chat})).first()
                assert found is not None
                values = {"p": found[0], "state": state, "now": now, "data": data}
                await conn.execute(compiled[2], values)
                await conn.execute(compiled[3], values)

        try:
            wall, cpu, latencies = await _steps(chats, steps, step)
        finally:
            await engine.dispose()
        return _figures("db, SQLAlchemy + psycopg", chats * steps, wall, cpu, latencies)
    finally:
        async with await psycopg.AsyncConnection.connect(plain, autocommit=True) as admin:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")


class _BotApi(BaseHTTPRequestHandler):
    """Answers getMe and sendMessage at once, keep-alive."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/getMe"):
            result: dict[str, Any] = {
                "id": 1,
                "is_bot": True,
                "first_name": "Floor",
                "username": "floor_bot",
            }
        else:
            result = {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1, "type": "private"},
                "text": "ok",
            }
        body = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(ports: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BotApi)
    server.daemon_threads = True
    ports.put(server.server_address[1])
    server.serve_forever()


async def telegram_floor(chats: int, steps: int) -> dict[str, Any]:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, MessageHandler, filters
    from telegram.request import HTTPXRequest

    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    try:
        port = await asyncio.to_thread(ports.get, True, 10)
        application = (
            ApplicationBuilder()
            .token("123:floor")
            .base_url(f"http://127.0.0.1:{port}/bot")
            .request(HTTPXRequest(connection_pool_size=chats))
            .concurrent_updates(True)
            .updater(None)
            .build()
        )

        async def answer(update: Update, _context: Any) -> None:
            assert update.message is not None
            await update.message.reply_text("ok")

        application.add_handler(MessageHandler(filters.TEXT, answer))
        await application.initialize()
        try:

            async def step(chat: int, update_id: int) -> None:
                body = {
                    "update_id": update_id,
                    "message": {
                        "message_id": update_id,
                        "date": int(time.time()),
                        "chat": {"id": 1000 + chat, "type": "private", "first_name": "A"},
                        "from": {"id": 1000 + chat, "is_bot": False, "first_name": "A"},
                        "text": "salut, c est quoi les risques de la route ?",
                    },
                }
                # What the webhook does with a request's JSON body.
                update = Update.de_json(json.loads(json.dumps(body)), application.bot)
                await application.process_update(update)

            wall, cpu, latencies = await _steps(chats, steps, step)
        finally:
            await application.shutdown()
        return _figures("python-telegram-bot, reply_text", chats * steps, wall, cpu, latencies)
    finally:
        server.terminate()
        server.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("db", "ptb"))
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--raw", action="store_true", help="db: psycopg without SQLAlchemy")
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.part == "db":
        figures = asyncio.run(database_floor(args.db, args.chats, args.steps, args.raw))
    else:
        figures = asyncio.run(telegram_floor(args.chats, args.steps))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{figures['part']}: {figures['count']} at {args.chats} at once, "
            f"{figures['per_second']}/s, {figures['cpu_ms_each']} ms of CPU each, "
            f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
