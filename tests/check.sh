#!/usr/bin/env bash
# The whole test suite, as the README gives it: interop peers, lint, the layering
# contracts (pyproject.toml [tool.importlinter]), the C core's tests under ASan and
# UBSan, a short libFuzzer run of every parser, the hostile-input Python tests
# against a sanitizer build of the extension, and then every Python test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/peers/install-debian.sh
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check .
.venv/bin/lint-imports
make -C csrc check
bash csrc/fuzz/run.sh "${LUNARELAY_FUZZ_SECONDS:-10}"
core=$(.venv/bin/python -m onboard.core._build --sanitize build/sanitize | tail -n 1)
LD_PRELOAD="$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0 LUNARELAY_CORE="$core" \
    .venv/bin/python -m pytest -q -p no:cacheprovider -m sanitize
.venv/bin/python -m pytest "$@"
