#!/usr/bin/env bash
# Regenerate the figures of docs/figures.md (docs/figures/*.png) from a results store: runs the experiments
# into $STORE first (quick preset, about 15 minutes on two cores; stored, so a second run only redraws).
# Run from anywhere: bash docs/make_figures.sh   (STORE=path/to/results.sqlite to use another store)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
INTERPLAY=${INTERPLAY:-$ROOT/.venv/bin/interplay}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
STORE=${STORE:-$ROOT/out/figures.sqlite}
ROWS=differential-privacy,adversarial-training,outlier-removal
mkdir -p "$(dirname "$STORE")" docs/figures

"$INTERPLAY" validate --all --quick --defenses "$ROWS" --store "$STORE" >/dev/null
"$INTERPLAY" sweep DP MIA --factor D3 --values 10,20,40 --quick --store "$STORE" >/dev/null

"$INTERPLAY" export heatmap --defenses "$ROWS" --store "$STORE" -o docs/figures/heatmap.png
"$INTERPLAY" export forest --cell AT,evasion --store "$STORE" -o docs/figures/forest.png
"$INTERPLAY" export sweep --cell DP,MIA --factor D3 --store "$STORE" -o docs/figures/sweep.png
# The reasoner's risk-coverage curves under leave-one-paper-out, as `interplay eval loo` scores them.
"$INTERPLAY" export risk-coverage -o docs/figures/risk-coverage.png
echo "wrote docs/figures/heatmap.png forest.png sweep.png risk-coverage.png"
