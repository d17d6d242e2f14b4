#!/usr/bin/env bash
# Set up what is missing (the test requirements too), then run the whole test suite offline.
# Extra arguments go to pytest (e.g. tests/test_retrieval.py -x).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUIREMENTS=requirements-dev.txt bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false   # the tests never reach a model hub
exec .venv/bin/python -m pytest -q "$@"
