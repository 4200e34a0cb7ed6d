#!/usr/bin/env bash
# Where the time goes in workload B, photo by photo: runs photoflux's built-in recipe and the
# sharp equivalent (bench/sharp-bench.mjs) one photo at a time (--jobs 1, one libvips thread) and
# reads the per-stage times both write into their manifests (PF_IMAGING_CONCURRENCY=1 for
# photoflux, sharp.concurrency(1) for sharp):
#   photoflux: each output's millis (its steps + encoding), and the photo's millis; the rest is
#              opening, the single decode (shrunk on load as far as every output allows) and the
#              manifest's analysis;
#   sharp:     thumb, preview and analysis pipelines (each decodes the JPEG again, each shrunk on
#              load for its own size) and the photo's total.
# Prints mean milliseconds per photo for baseline JPEGs, progressive JPEGs and all, and writes
# the table to bench/results/stages.md. A profiling aid for whoever changes the pipeline.
#
#   bench/stages.sh            (PHOTOFLUX=path to measure another binary than build/photoflux)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
while read -r var; do unset "$var"; done < <(env | awk -F= '/^(PF_|VIPS_)/ { print $1 }')

bench_lock "${BENCH_WORK:-/tmp/pf-bench}"
work=${BENCH_WORK:-/tmp/pf-bench}/stages
mkdir -p "$work" "$here/results"
# PHOTOFLUX=path measures another binary; default: a private copy of build/photoflux.
source_binary=${PHOTOFLUX:-$repo/build/photoflux}
[[ -x "$source_binary" ]] || { echo "stages.sh: $source_binary missing" >&2; exit 1; }
cp "$source_binary" "$work/photoflux"
mapfile -t photos < <(find "$here/cache/photos" -maxdepth 1 -name '*.jpg' | LC_ALL=C sort)
((${#photos[@]} > 0)) || { echo "stages.sh: no photos; run bench/fetch-photos.sh" >&2; exit 1; }

rm -rf "$work/photoflux-out" "$work/sharp-out"
wait_for_quiet
# --jobs 1 alone would give the one photo all the cores' libvips threads; pin it to one, as sharp.
PF_IMAGING_CONCURRENCY=1 "$work/photoflux" process "${photos[@]}" --out "$work/photoflux-out" \
    --jobs 1 --json >"$work/photoflux.json"
wait_for_quiet
(cd "$here" && UV_THREADPOOL_SIZE=1 node sharp-bench.mjs --workload B --jobs 1 --threads 1 \
    --out "$work/sharp-out" "${photos[@]}" >"$work/sharp.json")

node "$here/stages-report.mjs" "$work/photoflux-out" "$work/sharp-out" | tee "$here/results/stages.md"
