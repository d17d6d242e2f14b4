#!/bin/sh
# Start the explorer (serve.py: app.py plus /ready): $PORT (default 8501) on all interfaces, headless, file watcher off.
# Extra arguments go to `streamlit run` (e.g. --server.maxUploadSize 20).
set -eu
cd "$(dirname "$0")/.."
PORT="${PORT:-8501}"
ADDRESS="${ADDRESS:-0.0.0.0}"
case "$PORT" in
  ''|*[!0-9]*) echo "entrypoint: PORT must be a number, got '$PORT'" >&2; exit 2 ;;
esac
mkdir -p "${NUMBA_CACHE_DIR:-$HOME/.cache/numba}"
# A typo in the host's settings stops the start here, with the setting named, instead of being ignored.
python -m core settings >/dev/null
exec python -m streamlit run serve.py \
  --server.port "$PORT" \
  --server.address "$ADDRESS" \
  --server.headless true \
  --server.fileWatcherType none \
  --browser.gatherUsageStats false \
  "$@"
