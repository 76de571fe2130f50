# The bot: Python 3.11, python-telegram-bot, SQLAlchemy 2. Rasa runs in its own image (nlu/).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CONTENT_DIR=/app/content \
    NLU_DATA_DIR=/app/nlu/data

WORKDIR /app
# The console converts voice notes (a browser's recording, an MP3 from a phone) to the
# OGG/Opus Telegram plays with Debian's ffmpeg; without it only OGG/Opus files are taken.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY bot ./bot
# A fixed uid and gid (10001), named in docker-compose.yml: secret files and the content
# folder on the host are made readable (and the content writable) for it.
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 kunnafoni \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app kunnafoni
COPY content ./content
# Language identification learns from the NLU examples as well as the content.
COPY nlu/data ./nlu/data
USER 10001:10001

# The HTTP server (webhook, /healthz, /readyz, /metrics); docker-compose.yml sets
# HTTP_HOST=0.0.0.0 so the proxy reaches it over the compose network. The image may have no
# curl: Python checks liveness.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HTTP_PORT', '8080'), timeout=3)"]

# Migrations run as a release step (`kunnafoni db upgrade`), see docker-compose.yml.
CMD ["kunnafoni", "run"]
