# The bot: Python 3.11, python-telegram-bot, SQLAlchemy 2. Rasa runs in its own image (nlu/).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CONTENT_DIR=/app/content \
    NLU_DATA_DIR=/app/nlu/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir . && useradd --system --home /app kunnafoni
COPY content ./content
# Language identification learns from the NLU examples as well as the content.
COPY nlu/data ./nlu/data
USER kunnafoni

# Migrations run as a release step (`kunnafoni db upgrade`), see docker-compose.yml.
CMD ["kunnafoni", "run"]
