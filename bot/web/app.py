"""One ASGI application (Starlette) for everything the bot serves over HTTP.

- ``/healthz``: the process answers (liveness); it reads nothing.
- ``/readyz``: each dependency checked, with a JSON body; 503 when one the bot cannot work
  without fails (the database, the content, and what a channel adds: Telegram). The NLU
  server is reported but does not fail readiness: without it the bot answers from
  keywords, and taking every replica out of a load balancer for it would answer no one.
- ``/metrics``: Prometheus's text format; the gauges about work waiting in the database
  are computed at scrape time from cheap aggregate queries.
- ``/console``: the web console for campaign managers (``bot/web/console``).

Bodies carry names of checks and kinds of failure, never a value of a setting.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot import metrics
from bot.config import Environment
from bot.content.releases import ContentDesk
from bot.referrals.notifier import Notifier
from bot.referrals.policy import ReferralPolicy
from bot.referrals.status import ReferralStatus
from bot.runtime import Runtime
from bot.store import service as service_store
from bot.web.console.app import PREFIX, build_console
from bot.web.console.cases import CaseDesk, case_routes
from bot.web.console.content import content_routes
from bot.web.console.topics import topic_routes

logger = logging.getLogger(__name__)

#: A readiness check answers within this, or counts as failed.
CHECK_TIMEOUT = 3.0
#: Referrals no partner has acknowledged yet (not received, in progress or closed).
UNACKNOWLEDGED = (
    ReferralStatus.PENDING.value,
    ReferralStatus.SENT.value,
    ReferralStatus.UNDELIVERABLE.value,
)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = ""


Check = Callable[[], Awaitable[CheckResult]]


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    check: Check
    #: False: reported, but the bot still serves without it.
    required: bool = True


def runtime_checks(runtime: Runtime) -> list[ReadinessCheck]:
    """The database answers, the content is loaded, the NLU server answers (if any)."""

    async def database() -> CheckResult:
        async with runtime.database.reading() as session:
            await service_store.ping(session)
        return CheckResult(True)

    async def content() -> CheckResult:
        catalog = runtime.content.current()
        return CheckResult(bool(catalog.version), f"version {catalog.version}")

    async def nlu() -> CheckResult:
        rasa = runtime.nlu.rasa
        if rasa is None:
            return CheckResult(True, "keywords only (no NLU server configured)")
        status = getattr(rasa, "status", None)
        if status is None:
            return CheckResult(True, "no status to ask")
        await status()
        return CheckResult(True)

    return [
        ReadinessCheck("database", database),
        ReadinessCheck("content", content),
        ReadinessCheck("nlu", nlu, required=False),
    ]


async def _run(check: ReadinessCheck) -> dict[str, Any]:
    try:
        result = await asyncio.wait_for(check.check(), CHECK_TIMEOUT)
    except TimeoutError:
        result = CheckResult(False, f"no answer within {CHECK_TIMEOUT:.0f} s")
    except Exception as exc:  # a check reports its failure, never raises through
        result = CheckResult(False, type(exc).__name__)
    body: dict[str, Any] = {"ok": result.ok, "required": check.required}
    if result.detail:
        body["detail"] = result.detail
    return body


async def readiness(checks: Sequence[ReadinessCheck]) -> tuple[bool, dict[str, Any]]:
    """(ready, JSON body): every check at once."""
    results = await asyncio.gather(*(_run(check) for check in checks))
    by_name = {check.name: result for check, result in zip(checks, results, strict=True)}
    ready = all(r["ok"] for r in results if r["required"])
    degraded = ready and not all(r["ok"] for r in results)
    status = "degraded" if degraded else "ready" if ready else "unavailable"
    return ready, {"status": status, "checks": by_name}


async def refresh_gauges(runtime: Runtime) -> None:
    """Set the gauges computed from the database and the live content."""
    async with runtime.database.reading() as session:
        gauges = await service_store.service_gauges(session, unacknowledged=UNACKNOWLEDGED)
    metrics.OUTBOX_OPEN.set(gauges.outbox_open)
    for status in ReferralStatus:
        metrics.REFERRALS.labels(status.value).set(gauges.referrals_by_status.get(status.value, 0))
    metrics.OLDEST_UNACKNOWLEDGED.set(gauges.oldest_unacknowledged_seconds or 0.0)
    metrics.HANDOVERS_OPEN.set(gauges.handovers_open)
    metrics.CONTENT_VERSION.clear()
    metrics.CONTENT_VERSION.labels(runtime.content.current().version).set(1)


def console_for(runtime: Runtime, notifier: Notifier | None = None) -> Starlette:
    """The console on the runtime's database and content; cookies ``Secure`` outside
    local and test runs (served over HTTPS behind the proxy). ``notifier``: the channel
    a partner's move in the console tells the person on and redraws the card in."""
    settings = runtime.settings
    secret = settings.console_secret
    ack_after = timedelta(hours=settings.referral_ack_hours)
    cases = CaseDesk(
        ReferralPolicy(
            runtime.database,
            runtime.content.current,
            ack_after=ack_after,
            partners=runtime.partners,
        ),
        notifier,
        ack_after=ack_after,
        sla_after=timedelta(hours=settings.referral_sla_hours),
        idle_after=timedelta(minutes=settings.handover_idle_minutes),
    )
    return build_console(
        runtime.database,
        secret=secret.get_secret_value() if secret else secrets.token_urlsafe(32),
        secure=settings.environment not in (Environment.LOCAL, Environment.TEST),
        catalog=runtime.content.current,
        trusted_proxies=settings.console_trusted_proxies,
        content=runtime.content,
        publisher=runtime.publisher,
        desk=ContentDesk(runtime.database, runtime.publisher),
        routes=[*case_routes(), *content_routes(), *topic_routes()],
        cases=cases,
        nlu_data_dir=settings.nlu_data_dir,
    )


def build_web_app(
    runtime: Runtime,
    *,
    checks: Sequence[ReadinessCheck] = (),
    routes: Sequence[BaseRoute] = (),
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
    console: bool = True,
    notifier: Notifier | None = None,
) -> Starlette:
    """The service's ASGI application: health, readiness, metrics, the console (unless
    ``console`` is false: the worker serves no pages; ``notifier`` is its channel to the
    people and partner chats), and ``routes``."""
    all_checks = [*runtime_checks(runtime), *checks]

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        ready, body = await readiness(all_checks)
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics_page(_request: Request) -> Response:
        try:
            await refresh_gauges(runtime)
        except Exception:  # the counters still tell something; the gauges keep old values
            logger.exception("Could not compute the database gauges for /metrics")
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
            *([Mount(PREFIX, app=console_for(runtime, notifier))] if console else []),
            *routes,
        ],
        lifespan=lifespan,
    )
