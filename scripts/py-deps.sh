#!/usr/bin/env bash
# Creates .build/pyvenv with the Python readers the tests check exports against (DuckDB,
# pyarrow; Tests/python/requirements.txt). A virtual environment, since Debian's Python
# refuses `pip install` outside one (PEP 668). Reinstalls only when the requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/pyvenv
req=Tests/python/requirements.txt
stamp=$venv/.requirements
if [[ -x $venv/bin/python ]] && cmp -s "$req" "$stamp"; then exit 0; fi
echo "python test readers: creating $venv from $req"
mkdir -p .build
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$stamp"
