#!/usr/bin/env bash
# Reruns the mclust reference scripts and rewrites their JSON outputs (R + mclust 6.0.0 needed;
# reference only: gmmcli's tests read the committed JSON and never need R).
#   bash tests/reference/run_all.sh            # the mclust_*.R scripts
#   bash tests/reference/run_all.sh --data     # also rewrite data/*.csv first (write_datasets.R)
# Writes the wall time of each `Rscript` run to timings.txt.
set -euo pipefail
cd "$(dirname "$0")"
if [[ "${1:-}" == "--data" ]]; then Rscript write_datasets.R; fi
{
  echo "# wall time of each Rscript run (seconds), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs"
  echo "# $(Rscript -e 'cat(R.version.string, "; mclust", as.character(packageVersion("mclust")))' 2>/dev/null)"
} > timings.txt
for s in mclust_me.R mclust_icl.R mclust_bic.R mclust_lrt.R mclust_lrt_fits.R mclust_noise.R; do
  echo "== $s"
  t0=$(date +%s.%N)
  Rscript "$s"
  t1=$(date +%s.%N)
  awk -v s="$s" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s %.1f\n", s, b - a }' | tee -a timings.txt
done
