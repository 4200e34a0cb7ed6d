#!/usr/bin/env bash
# Scale-out on a real queue: `photoflux worker` processes consuming S3 events from SQS, against
# `photoflux serve`'s in-process function host, on the same photos uploaded the same way. Photos
# per second from the first upload to the last photo completed, and the per-photo overhead of
# each path (the time a slot spends on a photo beyond the engine's own), by
# bench/worker/worker_bench.py.
#
#   bench/worker.sh [--count N] [--repeats R] [--configs LIST] [--quick]
#
# Each run starts from scratch:
#   - moto_server (S3 and SQS, Python) on loopback: a bucket `photos` whose uploads/ prefix
#     notifies a queue `photos` (QueueConfiguration, s3:ObjectCreated:*), then W
#     `photoflux worker --queue URL --concurrency C` processes (PF_VIPS_CONCURRENCY=1: one libvips
#     thread a photo, as serve gives each of its 2 function workers on 2 cores). Configurations,
#     W:C: 1:1, 2:1, 3:1 (one photo at a time each: scale-out by processes) and 1:2 (one worker,
#     two photos at once: the shape of serve's host);
#   - `photoflux serve` on its defaults (its own store, 2 function workers), the reference.
# Per run: 2 warm-up photos a slot (not measured), then N photos (default 120) uploaded by 4
# threads as fast as they go; the clock stops when the processes' own counters show every photo
# done (read every 50 ms); every manifest is then read back (it must name the uploaded ETag) for
# the engine's time. R repetitions (default 1; --repeats 2 for a second pass) take turns. The
# CPU of moto_server, of the workers (with their function processes) or serve, of the driver
# and of everything else is counted from /proc: moto_server near 100% of a core would be the
# bottleneck, not photoflux.
#
# The photos: those of bench/pipeline.sh (tests/data/photos camera.jpg, phone.jpg,
# progressive.jpg, orientation-6.jpg, p3.jpg, round robin), so the figures compare with it.
# Before each measured run the driver waits for a quiet machine (bench/lib.sh's rule); a run
# during which other processes used more than 5% of the machine is repeated (up to 3 tries).
# About 3.5 minutes a pass on a quiet machine. Writes bench/results/worker-<date>.json and .md,
# and prints the tables.
# PHOTOFLUX=path measures another binary (default: a private copy of build/photoflux).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
command_line="bench/worker.sh${*:+ $*}"
count=120
repeats=1
configs=1:1,2:1,3:1,1:2
quiet_limit=60
while (($#)); do
    case "$1" in
    --count) count=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    # A smoke test of the script itself: few photos, one pass, hardly waiting for quiet.
    --quick) count=10; repeats=1; quiet_limit=4; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "worker.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
while read -r var; do unset "$var"; done < <(env | awk -F= '/^(PF_|PHOTOFLUX_|AWS_|VIPS_)/ { print $1 }')

for tool in python3 moto_server; do
    command -v "$tool" >/dev/null || { echo "worker.sh: $tool missing (scripts/setup.sh installs moto[server])" >&2; exit 1; }
done
python3 -c 'import boto3' 2>/dev/null || { echo "worker.sh: python3 boto3 missing" >&2; exit 1; }

work=${BENCH_WORK:-/tmp/pf-bench}
bench_lock "$work"
wwork="$work/worker"
rm -rf "$wwork"
mkdir -p "$wwork" "$here/results"
if [[ -z "${PHOTOFLUX:-}" ]]; then
    [[ -x "$repo/build/photoflux" ]] || { echo "worker.sh: build/photoflux missing (make build)" >&2; exit 1; }
    # A private copy: a rebuild during the run cannot change what is measured (workers and serve
    # start their function processes from their own executable).
    cp "$repo/build/photoflux" "$wwork/photoflux.tmp" && mv "$wwork/photoflux.tmp" "$wwork/photoflux"
    PHOTOFLUX="$wwork/photoflux"
    PHOTOFLUX_LABEL="build/photoflux of $(date -u -r "$repo/build/photoflux" '+%Y-%m-%d %H:%M UTC')"
fi
PHOTOFLUX_LABEL=${PHOTOFLUX_LABEL:-$PHOTOFLUX}
photoflux_sha=$(sha256sum "$PHOTOFLUX" | cut -c1-12)
photo_dir="$repo/tests/data/photos"
photos=("$photo_dir/camera.jpg" "$photo_dir/phone.jpg" "$photo_dir/progressive.jpg"
    "$photo_dir/orientation-6.jpg" "$photo_dir/p3.jpg")
config_args=()
IFS=, read -ra config_list <<<"$configs"
for c in "${config_list[@]}"; do config_args+=(--config "$c"); done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
builds_before=$(pgrep -c cc1plus || true)
echo "worker.sh: photoflux $photoflux_sha, load average before: $load_before, compilers running: $builds_before" >&2
python3 "$here/worker/worker_bench.py" run --photoflux "$PHOTOFLUX" --photos "${photos[@]}" \
    --count "$count" --repeats "$repeats" "${config_args[@]}" --serve \
    --quiet-limit "$quiet_limit" --retry-disturbed --work "$wwork" --out "$wwork/run.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
builds_after=$(pgrep -c cc1plus || true)

stamp=$(date -u +%Y-%m-%dT%H%M)
machine="Machine: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores,\
 $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); $("$PHOTOFLUX" version | head -1),\
 binary sha256 $photoflux_sha ($PHOTOFLUX_LABEL); moto $(python3 -c "import moto; print(moto.__version__)" 2>/dev/null || echo "(version unknown)");\
 load average $load_before before, $load_after after; compiler processes (cc1plus) running: $builds_before before, $builds_after after."
python3 "$here/worker/worker_bench.py" report --run "$wwork/run.json" --command "$command_line" \
    --machine "$machine" >"$here/results/worker-$stamp.md"
cp "$wwork/run.json" "$here/results/worker-$stamp.json"
cat "$here/results/worker-$stamp.md"
echo "worker.sh: written to bench/results/worker-$stamp.md and .json" >&2
