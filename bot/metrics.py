"""Prometheus metrics of the running bot (``/metrics``), in one registry.

Labels are kinds, outcomes, sources, status codes and statuses: never a user, a chat or
anything a person wrote. Counters and histograms are updated where things happen; the
gauges about work waiting in the database are set at scrape time (``bot/web``).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "REGISTRY", "exposition"]

REGISTRY = CollectorRegistry(auto_describe=True)

#: Handling times of an update and of an NLU parse: most take milliseconds, a slow NLU
#: server or Bot API round trip seconds.
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

UPDATES = Counter(
    "kunnafoni_updates",
    "Telegram updates handled, by kind (message, callback_query, ...) and outcome "
    "(handled, duplicate, error).",
    ("kind", "outcome"),
    registry=REGISTRY,
)
UPDATE_SECONDS = Histogram(
    "kunnafoni_update_handling_seconds",
    "Time from the start of an update's handling to its end (replies sent).",
    buckets=_SECONDS,
    registry=REGISTRY,
)
UPDATES_IN_FLIGHT = Gauge(
    "kunnafoni_updates_in_flight",
    "Updates accepted and not finished (waiting for their chat's turn or being handled).",
    registry=REGISTRY,
)
NLU_SECONDS = Histogram(
    "kunnafoni_nlu_seconds",
    "Time to understand a text, by where the answer came from (rasa, keywords, fallback: "
    "keywords because the NLU server failed).",
    ("source",),
    buckets=_SECONDS,
    registry=REGISTRY,
)
NLU_ANSWERS = Counter(
    "kunnafoni_nlu_answers",
    "Texts understood, by source (rasa, keywords, fallback).",
    ("source",),
    registry=REGISTRY,
)
REPLIES = Counter(
    "kunnafoni_replies_sent",
    "Messages the bot sent in answer to updates.",
    registry=REGISTRY,
)
TELEGRAM_ERRORS = Counter(
    "kunnafoni_telegram_errors",
    "Bot API calls that failed, by code (400, 401, 403, 409, 429, timeout, network, other).",
    ("code",),
    registry=REGISTRY,
)
WEBHOOK_REFUSED = Counter(
    "kunnafoni_webhook_refused",
    "Webhook requests refused, by reason (secret, body).",
    ("reason",),
    registry=REGISTRY,
)
OUTBOX_OPEN = Gauge(
    "kunnafoni_outbox_depth",
    "Broadcast messages waiting in the outbox (pending or claimed).",
    registry=REGISTRY,
)
REFERRALS = Gauge(
    "kunnafoni_referrals",
    "Referrals by status.",
    ("status",),
    registry=REGISTRY,
)
OLDEST_UNACKNOWLEDGED = Gauge(
    "kunnafoni_referral_oldest_unacknowledged_seconds",
    "Age of the oldest referral no partner has acknowledged yet (0 when none).",
    registry=REGISTRY,
)
HANDOVERS_OPEN = Gauge(
    "kunnafoni_handovers_open",
    "Conversations relayed to a person of the team right now.",
    registry=REGISTRY,
)
CONTENT_VERSION = Gauge(
    "kunnafoni_content_version_info",
    "The content version being served (1 for the live version's hash).",
    ("version",),
    registry=REGISTRY,
)


def exposition() -> bytes:
    """The registry in Prometheus's text format."""
    return generate_latest(REGISTRY)
