#!/usr/bin/env bash
# Builds the isolution Python wheel (abi3, CPython >= 3.9) and runs its pytest suite in a
# fresh virtual environment. Run it from the repository root:
#
#     bash py-bindings/test.sh [PYTEST_ARGS...]
#
# Needs the Rust toolchain, python3 with the venv module, and network access to PyPI
# (maturin, pytest, pycdlib). Exits with pytest's status. Set PYTHON to pick an interpreter,
# KEEP_VENV=1 to keep the temporary directory. Cargo builds into py-bindings/target (or
# $CARGO_TARGET_DIR), so later runs are incremental.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
python="${PYTHON:-python3}"
start=$SECONDS

tmp="$(mktemp -d "${TMPDIR:-/tmp}/isolution-py.XXXXXX")"
cleanup() {
    if [[ "${KEEP_VENV:-0}" != 1 ]]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi
}
trap cleanup EXIT

echo "== venv in $tmp" >&2
"$python" -m venv "$tmp/venv"
venv_py="$tmp/venv/bin/python"
"$venv_py" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv_py" -m pip install --quiet --disable-pip-version-check "maturin>=1.9,<2" pytest
# Optional: the cross-check against an independent reader (pycdlib) and the stub check
# (mypy.stubtest) are skipped without them.
"$venv_py" -m pip install --quiet --disable-pip-version-check pycdlib mypy \
    || echo "pycdlib/mypy not installed: the pycdlib cross-check and stubtest will be skipped" >&2

echo "== building the wheel ($((SECONDS - start)) s)" >&2
(cd "$repo" && "$tmp/venv/bin/maturin" build --release --interpreter "$venv_py" \
    -m py-bindings/Cargo.toml -o "$tmp/wheels")
"$venv_py" -m pip install --quiet --disable-pip-version-check --no-index "$tmp"/wheels/isolution-*.whl

echo "== pytest ($((SECONDS - start)) s)" >&2
status=0
(cd "$repo" && "$venv_py" -m pytest -p no:cacheprovider "$here/tests" "$@") || status=$?
echo "== done in $((SECONDS - start)) s, pytest exit status $status" >&2
exit "$status"
