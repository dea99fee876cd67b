# Shared by scripts/demo and scripts/test: make .venv with Python 3.11+ and install Ovoz into it
# (which also compiles the translation catalogs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
    python=""
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            python=$candidate
            break
        fi
    done
    if [ -z "$python" ]; then
        echo "Ovoz needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2
        exit 1
    fi
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
