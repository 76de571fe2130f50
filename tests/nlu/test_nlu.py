"""Keyword fallback, the Rasa client against a stub server on loopback, and the breaker."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.content.catalog import Catalog
from bot.nlu.keywords import KeywordMatcher
from bot.nlu.normalise import fold
from bot.nlu.rasa import CircuitBreaker, RasaAuth, RasaClient
from bot.nlu.service import NluService
from bot.nlu.types import CALLER, NluSource, NluUnavailable


def test_fold_maps_bambara_letters_and_french_accents() -> None:
    assert fold("N bɛ  Bamakɔ, ɲɔgɔn!") == "n be bamako nyogon"
    assert fold("Sécurité à l'école") == "securite a l ecole"
    assert fold("n b'a fɛ") == fold("n b a fe")


def test_keyword_matcher_whole_words_and_emergency_priority() -> None:
    matcher = KeywordMatcher(
        [
            ("greet", "fr", "salut"),
            ("risks_libya", "fr", "libye"),
            ("emergency", "fr", "au secours"),
            ("emergency", "bm", "n dɛmɛ"),
        ]
    )
    assert matcher.match("Salut toi").intent == "greet"
    assert matcher.match("salutations").intent is None  # whole words only
    both = matcher.match("salut, au secours on est en libye")
    assert both.intent == "emergency" and both.source is NluSource.KEYWORDS
    assert matcher.match("n deme!").intent == "emergency"  # typed without ɛ
    assert matcher.is_emergency("N DƐMƐ") and not matcher.is_emergency("salut")


def test_content_keywords_trigger_their_own_intent(catalog: Catalog) -> None:
    matcher = KeywordMatcher(catalog.keywords())
    wrong = []
    for intent, language, phrase in catalog.keywords():
        got = matcher.match(phrase).intent
        if got != intent and got != "emergency":
            wrong.append((intent, language, phrase, got))
    assert wrong == []


@pytest.mark.parametrize(
    ("text", "emergency"),
    [
        # bleeding and serious injury now; an injury in the past is a story
        ("je saigne beaucoup aidez nous", True),
        ("mon ami saigne beaucoup", True),
        ("ya un blessé grave ici", True),
        ("il est gravement blesse, on fait koi", True),
        ("j'ai été blessé en Libye l'an dernier", False),
        # violence, lost breath or consciousness, thirst, drowning, kidnapping now
        ("les policiers me frappent maintenant", True),
        ("on nous frappe dans le ghetto", True),
        ("mon ami respire plus, il bouge plus", True),
        ("elle s'est évanouie au soleil", True),
        ("on est perdus dans le desert on a plus d'eau", True),
        ("ya plus d eau depuis hier", True),
        ("la pirogue chavire on se noie", True),
        ("mon frere est kidnappé en Libye ils demandent de l'argent", True),
        # ... and the same words told as a past or a general story
        ("la police frappait les migrants à Tripoli", False),
        ("il respire mieux depuis qu'il est rentré", False),
        ("le désert est immense, on s'y perd facilement", False),
        ("est ce qu'il y a de l'eau sur la route du désert", False),
        # a threat to kill is an emergency; thoughts of suicide are self_harm (below)
        ("ils veulent me tuer", True),
        ("jveu me suicider", False),
        ("n b'a fɛ ka n yɛrɛ faga", False),
        ("je veux en finir avec ce voyage", False),
        ("mourir de rire", False),
        ("la vie en europe", False),
    ],
)
def test_content_keywords_put_emergencies_happening_now_first(
    catalog: Catalog, text: str, emergency: bool
) -> None:
    assert KeywordMatcher(catalog.keywords()).is_emergency(text) is emergency


@pytest.mark.parametrize(
    "text",
    [
        "jveu me suicider",
        "j'ai plus envie de vivre",
        "je pense a mettre fin a mes jours",
        "je veux me tuer",
        "n b'a fɛ ka n yɛrɛ faga",
        "n ba fe ka sa",
    ],
)
def test_content_keywords_give_thoughts_of_suicide_their_own_intent(
    catalog: Catalog, text: str
) -> None:
    # Issue 17: "j ai envie de mourir" must get the self_harm reply, not the emergency block
    # (whose Malian police lines and IOM Dakar office do not answer it).
    assert KeywordMatcher(catalog.keywords()).match(text).intent == "self_harm"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("jveu partir en espagne cmt faire", "intent_to_leave"),
        ("mes parents veulent que je parte", "family_pressure"),
        ("c vrai que les canaries donnent les papiers", "myth_check"),
        ("une dame me propose du travail de menagere, billet paye", "job_offer"),
        ("ok je pars quand meme", "going_anyway"),
        ("je suis en France, je veux demander l asile", "rights_abroad"),
        ("qui voit mes messages ?", "privacy_question"),
        ("arrete de faire la morale", "feedback"),
        ("merci c'est top", "feedback"),
        # and the intents around them keep their own words
        ("merci", "thank"),
        ("stop", "unsubscribe"),
        ("je veux partir legalement", "legal_migration"),
        ("je suis bloque en libye je veux partir de la", "return_help"),
    ],
)
def test_content_keywords_for_the_new_intents(catalog: Catalog, text: str, intent: str) -> None:
    assert KeywordMatcher(catalog.keywords()).match(text).intent == intent


def test_no_new_intent_keyword_sets_off_the_emergency_tripwire(catalog: Catalog) -> None:
    # "c pour la police ?", a family selling a field, a complaint: never emergency contacts.
    matcher = KeywordMatcher(catalog.keywords())
    new = ("family_pressure", "job_offer", "going_anyway", "privacy_question", "feedback")
    for intent, _language, phrase in catalog.keywords():
        if intent in new:
            assert not matcher.is_emergency(phrase), (intent, phrase)
    assert not matcher.is_emergency("c pour la police ?")
    assert not matcher.is_emergency("ils veulent vendre le champ pour payer mon voyage")


class RasaStub:
    """A loopback HTTP server speaking Rasa's /model/parse and /status."""

    def __init__(self) -> None:
        self.token = "s3cret"
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self.claims: list[dict[str, Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def authorised(self, request: web.Request) -> bool:
        """Rasa's sanic-jwt check: an HS256 token of our secret, unexpired, role admin."""
        if "token" in request.query:
            return False  # the secret must never travel in a URL
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token.count(".") != 2:
            return False
        header, body, signature = token.split(".")
        expected = hmac.new(self.token.encode(), f"{header}.{body}".encode(), hashlib.sha256)
        padded = signature + "=" * (-len(signature) % 4)
        if not hmac.compare_digest(base64.urlsafe_b64decode(padded), expected.digest()):
            return False
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        self.claims.append(claims)
        return bool(claims["exp"] > time.time() and claims["user"]["role"] == "admin")

    async def parse(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return web.json_response({"message": "unauthorized"}, status=401)
        body = await request.json()
        self.requests.append(body)
        await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.json_response({"error": "boom"}, status=self.status)
        return web.json_response(
            {
                "text": body["text"],
                "intent": {"name": "risks_libya", "confidence": 0.91},
                "entities": [{"entity": "country", "value": "libya", "start": 0, "end": 4}],
                "intent_ranking": [
                    {"name": "risks_libya", "confidence": 0.91},
                    {"name": "risks_sea", "confidence": 0.05},
                ],
            }
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/model/parse", self.parse)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def rasa_stub() -> AsyncIterator[RasaStub]:
    stub = RasaStub()
    await stub.start()
    yield stub
    await stub.stop()


async def test_client_sends_token_and_parses_the_answer(rasa_stub: RasaStub) -> None:
    client = RasaClient(rasa_stub.url, rasa_stub.token, timeout=2)
    result = await client.parse("Libi kɔnɔ")
    await client.aclose()
    assert rasa_stub.requests == [{"text": "Libi kɔnɔ"}]
    assert (result.intent, result.confidence, result.source) == (
        "risks_libya",
        0.91,
        NluSource.RASA,
    )
    assert result.ranking[1] == ("risks_sea", 0.05)
    assert result.entities[0].entity == "country" and result.entities[0].value == "libya"
    assert json.loads(json.dumps(result.as_json()))["intent"] == "risks_libya"
    assert rasa_stub.claims[0]["exp"] > time.time() + 500


def test_the_signed_token_is_renewed_before_it_expires() -> None:
    now = [1_000_000.0]
    auth = RasaAuth("s3cret", lifetime=600, clock=lambda: now[0])
    first = auth.headers()["Authorization"]
    now[0] += 500
    assert auth.headers()["Authorization"] == first  # still valid for 100 s
    now[0] += 50
    assert auth.headers()["Authorization"] != first  # 50 s left: renewed
    assert "s3cret" not in repr(auth) and "s3cret" not in first


@pytest.mark.parametrize("text", ["//Libi kɔnɔ", " / Libi kɔnɔ"])
async def test_client_never_sends_a_leading_slash_that_rasa_reads_as_an_intent(
    rasa_stub: RasaStub, text: str
) -> None:
    client = RasaClient(rasa_stub.url, rasa_stub.token, timeout=2)
    result = await client.parse(text)
    await client.aclose()
    assert rasa_stub.requests == [{"text": "Libi kɔnɔ"}]
    assert result.text == text
    # positions still point into what the user typed
    entity = result.entities[0]
    assert entity.start is not None and entity.end is not None
    assert text[entity.start : entity.end] == "Libi"


async def test_wrong_token_timeout_and_server_error_are_unavailable(rasa_stub: RasaStub) -> None:
    wrong = RasaClient(rasa_stub.url, "nope", timeout=2)
    with pytest.raises(NluUnavailable):
        await wrong.parse("x")
    await wrong.aclose()
    rasa_stub.delay = 0.5
    slow = RasaClient(rasa_stub.url, rasa_stub.token, timeout=0.1)
    with pytest.raises(NluUnavailable):
        await slow.parse("x")
    await slow.aclose()
    rasa_stub.delay, rasa_stub.status = 0.0, 500
    failing = RasaClient(rasa_stub.url, rasa_stub.token)
    with pytest.raises(NluUnavailable):
        await failing.parse("x")
    await failing.aclose()


async def test_breaker_stops_calling_a_dead_server_then_retries(rasa_stub: RasaStub) -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=lambda: now[0])
    rasa_stub.status = 503
    client = RasaClient(rasa_stub.url, rasa_stub.token, breaker=breaker)
    for _ in range(2):
        with pytest.raises(NluUnavailable):
            await client.parse("x")
    assert breaker.is_open
    calls = len(rasa_stub.requests)
    with pytest.raises(NluUnavailable, match="circuit open"):
        await client.parse("x")
    assert len(rasa_stub.requests) == calls  # not called while open
    now[0] = 31.0
    rasa_stub.status = 200
    assert (await client.parse("x")).intent == "risks_libya"  # half-open trial succeeds
    assert not breaker.is_open
    await client.aclose()


async def test_one_persons_slow_messages_do_not_open_the_breaker(
    rasa_stub: RasaStub, catalog: Catalog
) -> None:
    """Three 2-second parses from one user used to open the circuit for everyone."""
    breaker = CircuitBreaker(threshold=3, cooldown=30)
    client = RasaClient(rasa_stub.url, rasa_stub.token, timeout=0.1, breaker=breaker)
    matcher = KeywordMatcher(catalog.keywords())
    service = NluService(client, lambda: matcher)
    rasa_stub.delay = 0.3
    for _ in range(5):
        result = await service.parse("Libi kɔnɔ", caller="telegram:1")
        assert result.source is not NluSource.RASA  # too slow: keywords answered
    assert not breaker.is_open
    rasa_stub.delay = 0.0
    assert (await service.parse("Libi kɔnɔ", caller="telegram:2")).source is NluSource.RASA
    # Slow for three different people: the server is the problem; the circuit opens.
    rasa_stub.delay = 0.3
    for caller in ("telegram:1", "telegram:2", "telegram:3"):
        await service.parse("Libi kɔnɔ", caller=caller)
    assert breaker.is_open
    await client.aclose()


async def test_an_unreachable_server_opens_the_breaker_whoever_asks() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown=30)
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    client = RasaClient("http://127.0.0.1:9", None, timeout=1, breaker=breaker)
    token = CALLER.set("telegram:1")
    try:
        for _ in range(2):
            with pytest.raises(NluUnavailable, match="unreachable"):
                await client.parse("x")
    finally:
        CALLER.reset(token)
    assert breaker.is_open
    await client.aclose()


def test_the_breaker_counts_each_caller_once() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=lambda: 0.0)
    for _ in range(10):
        breaker.failure("a")
    assert not breaker.is_open
    breaker.failure("b")
    assert breaker.is_open
    breaker.success()
    breaker.failure()
    breaker.failure()  # no caller: each failure counts
    assert breaker.is_open


async def test_service_uses_keywords_when_rasa_is_unreachable(catalog: Catalog) -> None:
    matcher = KeywordMatcher(catalog.keywords())
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    service = NluService(RasaClient("http://127.0.0.1:9", "t", timeout=0.5), lambda: matcher)
    phrase = catalog.intents["greet"].keywords["fr"][0]
    result = await service.parse(phrase)
    await service.aclose()
    assert result.intent == "greet" and result.source is NluSource.KEYWORDS


async def test_service_prefers_an_emergency_keyword_over_the_model(
    rasa_stub: RasaStub, catalog: Catalog
) -> None:
    matcher = KeywordMatcher(catalog.keywords())
    service = NluService(RasaClient(rasa_stub.url, rasa_stub.token), lambda: matcher)
    phrase = catalog.intents["emergency"].keywords["bm"][0]
    result = await service.parse(phrase)
    await service.aclose()
    assert result.intent == "emergency"
