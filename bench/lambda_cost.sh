#!/usr/bin/env bash
# What does processing 1,000 photos cost on AWS Lambda? Measured, not guessed: the CPU time and
# peak memory of the photo function's work on real photos, turned into Lambda GB-seconds and
# request charges at a few memory sizes.
#
#   bench/lambda_cost.sh [--repeats N] [--io-ms MS] [--photos DIR]...
#
# The function (`photoflux function` on Lambda) runs the same engine and recipe as
# `photoflux process`; what differs is only where the bytes come from and go (S3 instead of
# files). So this runs `photoflux process --jobs 1 --json` with the built-in recipe over each
# photo set, one photo at a time as a Lambda execution environment takes them, and reads the
# process's own CPU time (user + sys, from wait4's rusage) and peak RSS. A run over no photos
# gives the start-up cost (libvips, the recipe), which is subtracted and reported separately as
# the cold-start cost. The photo sets: tests/data/photos (13 small test photos of every format)
# and, when bench/fetch-photos.sh has been run, bench/cache/photos (34 camera photos of
# 2.3-17.9 MP); or the folders given with --photos.
#
# bench/lambda_cost.py turns the figures into the cost table (its header states the prices and
# the model). Each set is run --repeats times (default 3; the median is used) after waiting for
# the machine to be quiet (up to 30 s); a run disturbed by other processes is flagged in the
# report. Takes about a minute with both sets. Prints the Markdown report and writes it to
# bench/results/lambda-cost.md.
# PHOTOFLUX=path measures another binary (default: a private copy of build/photoflux).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

case "${1:-}" in
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
# The function reads PF_* from its environment, and so does process: measure the defaults.
while read -r var; do unset "$var"; done < <(env | awk -F= '/^(PF_|VIPS_)/ { print $1 }')

bench_lock "${BENCH_WORK:-/tmp/pf-bench}"
work=${BENCH_WORK:-/tmp/pf-bench}/lambda-cost
rm -rf "$work"
mkdir -p "$work"

binary=${PHOTOFLUX:-}
if [[ -z "$binary" ]]; then
    [[ -x "$repo/build/photoflux" ]] || { echo "lambda_cost.sh: no build/photoflux; run make build" >&2; exit 1; }
    # A rebuild during the run must not change what is measured.
    cp "$repo/build/photoflux" "$work/photoflux"
    binary="$work/photoflux"
fi

wait_for_quiet 30
mkdir -p "$here/results"
exec python3 "$here/lambda_cost.py" --binary "$binary" --work "$work" \
    --repo "$repo" --report "$here/results/lambda-cost.md" "$@"
