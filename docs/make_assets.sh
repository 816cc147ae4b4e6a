#!/usr/bin/env bash
# Regenerate the README figures: docs/graph.svg, docs/graph.png (Graphviz) and docs/matrix.png (pdflatex,
# bibtex and poppler's pdftoppm). Run from anywhere: bash docs/make_assets.sh
# The figures of results (docs/figures/*.png) come from docs/make_figures.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
INTERPLAY=${INTERPLAY:-$ROOT/.venv/bin/interplay}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$INTERPLAY" export svg -o docs/graph.svg --renderer graphviz
"$INTERPLAY" export dot -o "$work/graph.dot"
dot -Tpng -Gdpi=80 "$work/graph.dot" -o docs/graph.png

"$INTERPLAY" export latex --standalone -o "$work/matrix.tex"
(
  cd "$work"
  pdflatex -interaction=nonstopmode -halt-on-error matrix.tex >/dev/null
  bibtex matrix >/dev/null
  pdflatex -interaction=nonstopmode -halt-on-error matrix.tex >/dev/null
  pdflatex -interaction=nonstopmode -halt-on-error matrix.tex >/dev/null
  pdftoppm -png -r 110 -singlefile matrix.pdf matrix
)
# Crop the page to the table (plus a margin); Pillow comes with matplotlib.
"$PYTHON" - "$work/matrix.png" docs/matrix.png <<'PY'
import sys
from PIL import Image, ImageChops
im = Image.open(sys.argv[1]).convert("RGB")
box = ImageChops.difference(im, Image.new("RGB", im.size, (255, 255, 255))).getbbox()
pad = 16
im.crop((max(box[0] - pad, 0), max(box[1] - pad, 0), min(box[2] + pad, im.width), min(box[3] + pad, im.height))).save(
    sys.argv[2], optimize=True
)
PY
echo "wrote docs/graph.svg docs/graph.png docs/matrix.png"
