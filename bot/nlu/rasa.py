"""Async client of a Rasa server (`rasa run --enable-api`), with a circuit breaker.

Authentication: Rasa is started with ``--jwt-secret $RASA_TOKEN --jwt-method HS256`` and
the client sends a short-lived JSON Web Token signed with that secret in the
``Authorization`` header. The secret never travels, and no URL carries a token (a URL
ends up in error messages and proxy logs; ``--auth-token`` reads ``?token=``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from bot.nlu.types import CALLER, Entity, NluResult, NluSource, NluUnavailable

logger = logging.getLogger(__name__)


class CircuitBreaker:
    """Stop calling a server that keeps failing; try again after a cool-down.

    Closed: calls go through. After ``threshold`` failures in a row it opens for
    ``cooldown`` seconds and calls fail at once; then one trial call is let through
    (half-open): success closes it, failure opens it again.

    A failure is counted once per *caller* (a conversation): one person whose long
    messages time out again and again must not cut everyone off from the model, so it
    takes failures for ``threshold`` different callers, or failures no caller explains
    (the server unreachable: ``caller=None``, each one counted), to open it.
    """

    def __init__(
        self,
        threshold: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._callers: set[str] = set()
        self._open_until: float | None = None

    @property
    def is_open(self) -> bool:
        return self._open_until is not None and self._clock() < self._open_until

    def allow(self) -> bool:
        return not self.is_open

    def success(self) -> None:
        if self._open_until is not None:
            logger.info("NLU server answers again; circuit closed")
        self._failures = 0
        self._callers.clear()
        self._open_until = None

    def failure(self, caller: str | None = None) -> None:
        if caller is None:
            self._failures += 1
        elif caller not in self._callers:
            if len(self._callers) < self.threshold:  # never more than it takes to open
                self._callers.add(caller)
            self._failures += 1
        half_open = self._open_until is not None
        if half_open or self._failures >= self.threshold:
            if not half_open:
                logger.warning(
                    "NLU server failed %d times; circuit open for %.0fs",
                    self._failures,
                    self.cooldown,
                )
            self._open_until = self._clock() + self.cooldown


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_jwt(secret: str, claims: dict[str, Any]) -> str:
    """An HS256 JSON Web Token (RFC 7519) of ``claims``: what Rasa's sanic-jwt verifies."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256)
    return f"{header}.{body}.{_b64url(signature.digest())}"


class RasaAuth:
    """The ``Authorization`` header for Rasa: a token valid ``lifetime`` seconds, renewed
    a minute before it expires. Rasa's endpoints other than a conversation's own need the
    ``admin`` role."""

    def __init__(
        self, secret: str, *, lifetime: int = 600, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self.lifetime = lifetime
        self._clock = clock
        self._token = ""
        self._expires = 0.0

    def __repr__(self) -> str:  # the secret must not reach a log through a repr
        return "RasaAuth(...)"

    def headers(self) -> dict[str, str]:
        now = self._clock()
        if now > self._expires - 60:
            self._expires = now + self.lifetime
            claims = {"user": {"username": "kunnafoni", "role": "admin"}, "exp": int(self._expires)}
            self._token = sign_jwt(self._secret, claims)
        return {"Authorization": f"Bearer {self._token}"}


class RasaClient:
    """``POST /model/parse`` with a signed token and a timeout; raises :class:`NluUnavailable`.

    ``token`` is the shared secret (``RASA_TOKEN``); None: a server without authentication.
    ``timeout`` bounds each parse as a whole (connecting, waiting for a free connection,
    sending and reading), not only each phase of it. The circuit breaker counts a slow or
    failed parse against the conversation it was for (:data:`CALLER`), and a server that
    cannot be reached against no one.
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 2.0,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._auth = RasaAuth(token) if token else None
        self.breaker = breaker or CircuitBreaker()
        self._http = httpx.AsyncClient(
            base_url=self.url, timeout=httpx.Timeout(timeout), transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self) -> dict[str, str]:
        return self._auth.headers() if self._auth is not None else {}

    async def status(self) -> dict[str, Any]:
        """The server's ``/status`` (which model is loaded)."""
        try:
            response = await self._http.get("/status", headers=self._headers())
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body
        except (httpx.HTTPError, ValueError) as exc:
            raise NluUnavailable(f"Rasa status failed: {exc!r}") from exc

    async def parse(self, text: str) -> NluResult:
        if not self.breaker.allow():
            raise NluUnavailable("circuit open: Rasa failed recently")
        # Rasa reads a message that starts with "/" (after spaces) as an intent typed by
        # name ("/emergency", " /stop, plus de messages") and answers it with confidence
        # 1.0, whatever follows. A user's text never means that: send the words only.
        query = _without_leading_slashes(text)
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._http.post(
                    "/model/parse", json={"text": query}, headers=self._headers()
                )
            response.raise_for_status()
            body = response.json()
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self.breaker.failure()  # the server is not there: nobody's message explains it
            raise NluUnavailable(f"Rasa unreachable: {exc!r}") from exc
        except TimeoutError as exc:
            self.breaker.failure(CALLER.get())
            raise NluUnavailable(f"Rasa parse took over {self.timeout:.1f}s") from exc
        except (httpx.HTTPError, ValueError) as exc:
            self.breaker.failure(CALLER.get())
            raise NluUnavailable(f"Rasa parse failed: {exc!r}") from exc
        self.breaker.success()
        return parse_rasa_response(text, body, offset=len(text) - len(query))


def parse_rasa_response(text: str, body: dict[str, Any], *, offset: int = 0) -> NluResult:
    """Rasa's answer as an :class:`NluResult`; entity positions are shifted by ``offset``
    characters when the text sent was ``text`` without its first ``offset`` characters."""
    intent = body.get("intent") or {}
    ranking = tuple(
        (str(item.get("name")), float(item.get("confidence") or 0.0))
        for item in body.get("intent_ranking") or []
        if item.get("name")
    )
    entities = tuple(
        Entity(
            entity=str(item.get("entity")),
            value=str(item.get("value")),
            start=_shifted(item.get("start"), offset),
            end=_shifted(item.get("end"), offset),
        )
        for item in body.get("entities") or []
        if item.get("entity") and item.get("value") is not None
    )
    return NluResult(
        text=text,
        intent=intent.get("name"),
        confidence=float(intent.get("confidence") or 0.0),
        source=NluSource.RASA,
        ranking=ranking,
        entities=entities,
        raw=body,
    )


def _shifted(position: Any, offset: int) -> int | None:
    return position + offset if isinstance(position, int) else None


def _without_leading_slashes(text: str) -> str:
    """``text`` without the spaces and slashes before its first word (a suffix of it)."""
    words = text.lstrip()
    while words.startswith("/"):
        words = words[1:].lstrip()
    return words
