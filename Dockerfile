# One image for every HUB process. EXTRAS picks the optional parts:
#   api and channel worker: EXTRAS=""        (no torch)
#   imaging worker:        EXTRAS="[imaging]" (torch from PyPI ships CUDA on Linux)
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HUB_DATA_DIR=/var/lib/hub HUB_PROMPTS_DIR=/app/prompts
WORKDIR /app

# The media folder exists, owned by hub, before any volume is mounted on it: Docker copies a folder's
# ownership into an empty named volume, so compose's `media` volume starts writable by the hub user.
RUN useradd --system --create-home --home-dir "$HUB_DATA_DIR" hub \
  && install -d -o hub -g hub "$HUB_DATA_DIR/media"

ARG EXTRAS=""
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY hub ./hub
COPY agents ./agents
COPY tools ./tools
COPY graphs ./graphs
COPY prompts ./prompts
COPY evals ./evals
COPY imaging_service ./imaging_service
COPY chat_ui ./chat_ui
RUN pip install -c constraints.txt ".${EXTRAS}"

USER hub
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["hub", "serve", "--host", "0.0.0.0", "--port", "8000"]
