#!/usr/bin/env bash
# Reference figure for real-only EASE on ml-100k, leave-last-out, NDCG@10: synthrec's side vs cornac.
#
#   bash benchmarks/reference/run.sh
#
# Environment (all optional):
#   SYNTHREC_PY  python of synthrec's venv            (default: .venv/bin/python, relative to the repo root)
#   REF_PYTHON   python used to create the ref venv    (default: python3; must be 3.10-3.12)
#   REF_VENV     the reference venv                     (default: benchmarks/.venv-ref, git-ignored)
#   DATA         path to ml-100k u.data                 (default: ../shared/data/ml-100k/u.data)
#   OUT          folder for train.csv, test.csv, *.json (default: benchmarks/reference/out, git-ignored)
#   LAMBDAS      comma-separated EASE λ values          (default: 100,200,300,500,750,1000)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

SYNTHREC_PY="${SYNTHREC_PY:-.venv/bin/python}"
REF_PYTHON="${REF_PYTHON:-python3}"
REF_VENV="${REF_VENV:-benchmarks/.venv-ref}"
DATA="${DATA:-$ROOT/../shared/data/ml-100k/u.data}"
OUT="${OUT:-$HERE/out}"
LAMBDAS="${LAMBDAS:-100,200,300,500,750,1000}"

if [ ! -x "$SYNTHREC_PY" ]; then
    echo "run.sh: $SYNTHREC_PY not found; create synthrec's venv first (make install) or set SYNTHREC_PY" >&2
    exit 2
fi

# The reference library lives in its own venv, never in synthrec's dependencies.
if [ ! -x "$REF_VENV/bin/python" ]; then
    echo "== creating $REF_VENV"
    "$REF_PYTHON" -m venv "$REF_VENV"
fi
STAMP="$REF_VENV/.installed-reference"
if [ ! -f "$STAMP" ] || [ "$HERE/requirements.txt" -nt "$STAMP" ]; then
    echo "== installing $HERE/requirements.txt into $REF_VENV"
    # Nothing here needs torch. If a future requirement does, install the local CPU wheel first
    # ("$REF_VENV/bin/python" -m pip install torch==2.13.0) or pip pulls a multi-GB CUDA build.
    "$REF_VENV/bin/python" -m pip install --quiet -r "$HERE/requirements.txt"
    touch "$STAMP"
fi

echo "== synthrec side: split + EASE ($SYNTHREC_PY)"
"$SYNTHREC_PY" "$HERE/export_split.py" --data "$DATA" --out "$OUT" --lambdas "$LAMBDAS"
echo
echo "== reference: cornac EASE + cornac NDCG ($REF_VENV)"
"$REF_VENV/bin/python" "$HERE/ease_reference.py" --out "$OUT" --lambdas "$LAMBDAS"
