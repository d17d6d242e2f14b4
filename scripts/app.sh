#!/usr/bin/env bash
# Set up what is missing, then run the app on the bundled offline model: http://localhost:8501
# Extra arguments go to `streamlit run` (e.g. --server.port 8600).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUIREMENTS=requirements.txt bash scripts/setup.sh
exec .venv/bin/python -m streamlit run app.py "$@"
