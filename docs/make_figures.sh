#!/usr/bin/env bash
# Regenerate the README's pictures in docs/ with gmmcli itself (about a minute: the digits
# demo fits 150 components). Run from the repository root with gmmcli installed:
#   bash docs/make_figures.sh
# Set GMMCLI to use another executable (default: .venv/bin/gmmcli if present, else gmmcli).
set -euo pipefail
cd "$(dirname "$0")/.."
gmmcli=${GMMCLI:-$([ -x .venv/bin/gmmcli ] && echo .venv/bin/gmmcli || echo gmmcli)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The notebook's plot_gmm figures: blobs (4 components), stretched blobs (4, full covariance)
"$gmmcli" fit sample_data/blobs.csv -k 4 --exclude id --seed 0 -o "$work/blobs.joblib"
"$gmmcli" plot "$work/blobs.joblib" sample_data/blobs.csv -o docs/blobs.png \
    --title "blobs: 4 components"
"$gmmcli" fit sample_data/stretched.csv -k 4 --seed 2018 -o "$work/stretched.joblib"
"$gmmcli" plot "$work/stretched.joblib" sample_data/stretched.csv -o docs/stretched.png \
    --title "stretched blobs: 4 full-covariance components"

# The notebook's k-means figure: labels and farthest-point circles on the stretched blobs
"$gmmcli" plot sample_data/stretched.csv --kmeans 4 --seed 2018 -o docs/stretched-kmeans.png \
    --title "stretched blobs: k-means, 4 clusters (circles reach each cluster's farthest point)"

# Density estimation: 16 components on the moons, with 400 generated points on top
"$gmmcli" fit sample_data/moons.csv -k 16 --seed 0 -o "$work/moons16.joblib"
"$gmmcli" plot "$work/moons16.joblib" sample_data/moons.csv --no-labels --samples 400 --seed 1 \
    -o docs/moons16.png --title "moons: 16 components and 400 generated points"

# The digits generative model, with the notebook's settings (150 components, seed 0)
"$gmmcli" digits-demo -o "$work/digits"
cp "$work/digits/digits_original.png" "$work/digits/digits_generated.png" docs/
chmod 644 docs/*.png
