#!/usr/bin/env bash
# The second test environment: sktangent with the active-learning libraries
# it integrates with. modAL 0.4.2.1 works only with scikit-learn < 1.8, so
# this environment pins scikit-learn below 1.8 and runs the modAL and
# scikit-activeml integration tests there.
#
#   bash .ci/integration_env.sh            # a fresh venv in a temporary folder
#   bash .ci/integration_env.sh PATH       # create (or reuse) the venv at PATH
#
# Exits non-zero if the install or any test fails; prints pytest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ge 1 ]; then
    venv=$1
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    venv="$work/venv"
fi
python3 -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install --quiet --upgrade pip
# Editable: pytest runs on the working tree anyway, and an editable install
# leaves no build/ folder behind in it.
# The extras pin what the README promises: modal-python 0.4.2.1 with
# scikit-learn < 1.8, and scikit-activeml.
"$py" -m pip install --quiet -e ".[modal,skactiveml]" "pytest>=7"

echo "== integration environment"
"$py" - <<'EOF'
import importlib.metadata as md

for name in ("scikit-learn", "numpy", "scipy", "modal-python", "scikit-activeml"):
    print(f"{name} {md.version(name)}")
EOF

"$py" -c "import modAL, skactiveml"  # fail here rather than skip below

echo "== integration tests (modAL, scikit-activeml)"
# pyproject's warning filters apply: FutureWarning and DeprecationWarning are
# errors, except the one modAL raises itself, which its test module ignores.
# -p no:cacheprovider keeps pytest from writing into the repository, and
# -rs lists skips: none are expected here.
"$py" -m pytest -p no:cacheprovider -rs \
    tests/test_modal_integration.py tests/test_skactiveml_integration.py
