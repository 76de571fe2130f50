"""The real Rasa server with the trained model, started once for the whole test run.

`./dev test` trains the model (cached by a hash of nlu/) and passes its path and the
Rasa executable in KUNNAFONI_RASA_MODEL and KUNNAFONI_RASA_BIN. Without them the tests
that need the server are skipped locally and fail under CI. The server runs on a free
loopback port with a random token (`scripts/nlu_eval/rasa_server.py`), and is stopped at
the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.nlu_eval.errors import ReportError
from scripts.nlu_eval.rasa_server import RasaServer
from tests.support.environment import IN_CI

MISSING = "no trained Rasa model: run the suite with ./dev test"


def rasa_paths() -> tuple[Path, Path] | None:
    """(rasa executable, trained model) from the environment, when both exist."""
    rasa_bin = os.environ.get("KUNNAFONI_RASA_BIN", "")
    model = os.environ.get("KUNNAFONI_RASA_MODEL", "")
    if rasa_bin and Path(rasa_bin).exists() and model and Path(model).exists():
        return Path(rasa_bin), Path(model)
    return None


@pytest.fixture(scope="session")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(url, token) of the running server; one server for every test that asks for it."""
    paths = rasa_paths()
    if paths is None:
        if IN_CI:
            pytest.fail(f"Rasa integration tests must run in CI: {MISSING}", pytrace=False)
        pytest.skip(MISSING)
    rasa_bin, model = paths
    log = tmp_path_factory.mktemp("rasa") / "rasa.log"
    try:
        server = RasaServer(rasa_bin, model, log, tmp_path_factory.mktemp("cwd"))
        with server:
            yield server.url, server.token
    except ReportError as exc:
        pytest.fail(str(exc), pytrace=False)
