"""Start the Rasa NLU server of the container, or check it (``--check``, the healthcheck).

The shared secret comes from ``RASA_TOKEN_FILE`` (a Compose or Docker secret) or
``RASA_TOKEN``, never both. It is handed to Rasa inside this process, so it never appears
on a command line (``/proc/<pid>/cmdline`` and ``ps`` are readable by every user of the
host). Requests need ``Authorization: Bearer <JWT>`` signed with it (HS256); no token is
read from a URL (no ``--auth-token``).

Runs on Rasa's Python (3.8 to 3.10): the typing stays in that spelling.
"""

import os
import sys
import time
from typing import List, Optional

PORT = 5005
MODEL = "models/nlu.tar.gz"


def shared_secret(environ: Optional[dict] = None) -> str:
    """The JWT secret from RASA_TOKEN_FILE (trailing newline dropped) or RASA_TOKEN."""
    environ = dict(os.environ if environ is None else environ)
    value = (environ.get("RASA_TOKEN") or "").strip()
    path = (environ.get("RASA_TOKEN_FILE") or "").strip()
    if value and path:
        raise SystemExit("RASA_TOKEN and RASA_TOKEN_FILE are both set: keep only one of them")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().rstrip("\r\n")
        except OSError as exc:
            raise SystemExit(f"RASA_TOKEN_FILE: cannot read {path}: {exc.strerror}") from exc
    if not value.strip():
        raise SystemExit("RASA_TOKEN or RASA_TOKEN_FILE must give the shared secret")
    return value


def rasa_arguments(secret: str) -> List[str]:
    """``rasa run`` with the HTTP API behind JSON Web Tokens, on the container's interface
    (reachable only over the private compose network)."""
    return [
        "rasa",
        "run",
        "--enable-api",
        "--jwt-secret",
        secret,
        "--jwt-method",
        "HS256",
        "--interface",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--model",
        MODEL,
    ]


def check(secret: str) -> None:
    """Ask /status with a short-lived token; any error ends with a non-zero status."""
    import urllib.request

    import jwt  # PyJWT, a dependency of Rasa

    claims = {"user": {"username": "health", "role": "admin"}, "exp": int(time.time()) + 60}
    token = jwt.encode(claims, secret, algorithm="HS256")
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/status", headers={"Authorization": f"Bearer {token}"}
    )
    urllib.request.urlopen(request, timeout=4)


def main(argv: List[str]) -> None:
    secret = shared_secret()
    if argv[1:] == ["--check"]:
        check(secret)
        return
    from rasa.__main__ import main as rasa_main

    # Replacing sys.argv changes what Rasa parses, not the process's command line.
    sys.argv = rasa_arguments(secret)
    rasa_main()


if __name__ == "__main__":
    main(sys.argv)
