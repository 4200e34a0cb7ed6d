#!/usr/bin/env bash
# The whole pipeline of `photoflux serve` with zero configuration: a photo PUT to
# s3://photos/uploads/ fires an S3 event, a `photoflux function` worker makes its derivatives under
# processed/<key>/ and publishes photo.processed to the topic photo-events. Measured per photo, by
# bench/pipeline/pipeline_bench.py: from the upload's 200 to the notification arriving, split into
# processing (the manifest's "millis": the engine) and pipeline overhead (the rest).
#
#   bench/pipeline.sh [--seconds S] [--closed-seconds S] [--clients LIST] [--quick]
#
# In one run (about 4-5 minutes):
#   1. serve on its defaults (log level error) on a fresh data directory, with one webhook
#      subscription on photo-events (a config file; PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS=127.0.0.0/8
#      lets it reach the local receiver) and one SSE stream (/_/sns/sse?TopicArn=..., HTTP Basic).
#      The SSE arrival is the headline (the moment the function's Publish fanned out); the webhook's
#      signed, persisted delivery is reported beside it.
#      a. steady uploads at 2 photos/s, then at 4 photos/s, S seconds each (default 30);
#      b. closed loop: N uploaders, each uploading its next photo when the last one's notification
#         arrived, N = 1, 2, 3, 4, 6, 8 for --closed-seconds each (default 12), stopping when
#         photos/s grew by less than 5%: the maximum sustained throughput and its latency.
#   2. a second serve with --log-level debug, 2 photos/s for 20 s: serve's own log lines (each
#      request with its path and duration, each event handed to the function host) time every step
#      of every photo (pipeline_bench.py breakdown). Its overhead is printed next to the first
#      serve's, so the cost of debug logging shows.
#   3. the engine alone on the same photos (12 copies of the mix, 60 photos):
#      `photoflux process --jobs 1` and `--jobs 2`, and
#      vipsthumbnail making the same two derivatives (320 px attention-cropped WebP, 1280 px JPEG),
#      VIPS_CONCURRENCY=1, one process.
# The photos: tests/data/photos camera.jpg (2560x1600 baseline), phone.jpg (1483x2000),
# progressive.jpg (2560x1600 progressive, ICC, GPS), orientation-6.jpg (640x428, rotated),
# p3.jpg (1200x750 Display P3), uploaded round robin; 100-700 KB, what phones and web uploads send.
#
# Before each measured phase the driver waits for a quiet machine (bench/lib.sh's rule) and counts
# the CPU other processes used meanwhile; a phase they disturbed (more than 5% of the machine) is
# run again, up to 3 tries (the last is kept, and flagged in the table if it was disturbed too).
# Writes bench/results/pipeline-<date>.json (every photo's timestamps) and .md (the tables), and
# prints the tables.
# PHOTOFLUX=path measures another binary (default: a private copy of build/photoflux).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
command_line="bench/pipeline.sh${*:+ $*}"
seconds=30
closed_seconds=12
clients=1,2,3,4,6,8
debug_seconds=20
engine_copies=12
warmup=6
quiet_limit=60
while (($#)); do
    case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --closed-seconds) closed_seconds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    # A smoke test of the script itself: a few seconds of each part, hardly waiting for quiet.
    --quick) seconds=4; closed_seconds=4; clients=1,2; debug_seconds=4; engine_copies=2; warmup=2; quiet_limit=4; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "pipeline.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
while read -r var; do unset "$var"; done < <(env | awk -F= '/^(PF_|PHOTOFLUX_|AWS_|VIPS_)/ { print $1 }')

for tool in python3 vipsthumbnail /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "pipeline.sh: $tool missing" >&2; exit 1; }
done
python3 -c 'import boto3' 2>/dev/null || { echo "pipeline.sh: python3 boto3 missing (apt-get install python3-boto3)" >&2; exit 1; }

work=${BENCH_WORK:-/tmp/pf-bench}
bench_lock "$work"
pwork="$work/pipeline"
rm -rf "$pwork"
mkdir -p "$pwork" "$here/results"
if [[ -z "${PHOTOFLUX:-}" ]]; then
    [[ -x "$repo/build/photoflux" ]] || { echo "pipeline.sh: build/photoflux missing (make build)" >&2; exit 1; }
    # A private copy, so that a rebuild during the run cannot change what is measured (serve starts
    # its workers from its own executable).
    cp "$repo/build/photoflux" "$pwork/photoflux.tmp" && mv "$pwork/photoflux.tmp" "$pwork/photoflux"
    PHOTOFLUX="$pwork/photoflux"
    PHOTOFLUX_LABEL="build/photoflux of $(date -u -r "$repo/build/photoflux" '+%Y-%m-%d %H:%M UTC')"
fi
PHOTOFLUX_LABEL=${PHOTOFLUX_LABEL:-$PHOTOFLUX}
photoflux_sha=$(sha256sum "$PHOTOFLUX" | cut -c1-12)
driver="$here/pipeline/pipeline_bench.py"
photo_dir="$repo/tests/data/photos"
photos=("$photo_dir/camera.jpg" "$photo_dir/phone.jpg" "$photo_dir/progressive.jpg"
    "$photo_dir/orientation-6.jpg" "$photo_dir/p3.jpg")
cat "${photos[@]}" >/dev/null  # into the page cache

export AWS_ACCESS_KEY_ID=pipebench
AWS_SECRET_ACCESS_KEY=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
export AWS_SECRET_ACCESS_KEY
topic_arn=arn:aws:sns:us-east-1:000000000000:photo-events

serve_pid=""
cleanup() {
    # Only the serve this script started, by its process id (it stops its own workers).
    if [[ -n "$serve_pid" ]]; then
        kill "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts serve on a fresh data directory; $1 a name, then global options (e.g. --log-level debug).
# Sets serve_pid, serve_url and hook_port.
start_serve() {
    local name=$1
    shift
    local dir="$pwork/$name"
    mkdir -p "$dir"
    hook_port=$(free_port)
    cat >"$dir/config.yaml" <<EOF
serve:
  notify:
    topics:
      - name: photo-events
        subscriptions:
          - {protocol: http, endpoint: "http://127.0.0.1:$hook_port/hook"}
EOF
    PHOTOFLUX_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID PHOTOFLUX_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
        PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS=127.0.0.0/8 \
        "$PHOTOFLUX" --config "$dir/config.yaml" "$@" serve --data-dir "$dir/data" \
        --listen 127.0.0.1:0 --ready-file "$dir/ready" >"$dir/serve.log" 2>&1 &
    serve_pid=$!
    for ((i = 0; i < 300; i++)); do [[ -s "$dir/ready" ]] && break; sleep 0.1; done
    [[ -s "$dir/ready" ]] || { echo "pipeline.sh: serve did not start" >&2; cat "$dir/serve.log" >&2; exit 1; }
    serve_url=$(head -1 "$dir/ready")
    echo "pipeline.sh: serve ($name) at $serve_url, pid $serve_pid, webhook receiver on port $hook_port" >&2
}

stop_serve() {
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=""
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "pipeline.sh: photoflux $photoflux_sha, load average before: $load_before" >&2

# --- 1. the pipeline on its defaults ------------------------------------------------------------
start_serve default
python3 "$driver" run --endpoint "$serve_url" --serve-pid "$serve_pid" --hook-port "$hook_port" \
    --topic-arn "$topic_arn" --photos "${photos[@]}" --warmup "$warmup" \
    --quiet-limit "$quiet_limit" --retry-disturbed \
    --phase "open:2:$seconds" --phase "open:4:$seconds" --phase "closed:$clients:$closed_seconds" \
    --out "$pwork/default.json"
workers=$(pgrep -c -P "$serve_pid" || true)
stop_serve

# --- 2. the same with serve's debug log, for the breakdown --------------------------------------
start_serve debug --log-level debug
python3 "$driver" run --endpoint "$serve_url" --serve-pid "$serve_pid" --hook-port "$hook_port" \
    --topic-arn "$topic_arn" --photos "${photos[@]}" --warmup "$warmup" \
    --quiet-limit "$quiet_limit" --retry-disturbed \
    --phase "open:2:$debug_seconds" --out "$pwork/debug.json"
stop_serve
python3 "$driver" breakdown --run "$pwork/debug.json" --log "$pwork/debug/serve.log" \
    --out "$pwork/breakdown.json" 2>/dev/null

# --- 3. the engine alone on the same photos ----------------------------------------------------
# 12 copies of the mix (symlinks with distinct names), so that start-up is a small part of the time.
engine_in="$pwork/engine-in"
mkdir -p "$engine_in"
for ((c = 0; c < engine_copies; c++)); do
    for p in "${photos[@]}"; do ln -s "$p" "$engine_in/$c-$(basename "$p")"; done
done
n_engine=$((engine_copies * ${#photos[@]}))
: >"$pwork/engine.tsv"
timed() {  # $1 label; then the command. Appends "label, wall s, CPU s, others' CPU s" to engine.tsv.
    local label=$1 wall cpu before after foreign try
    shift
    for try in 1 2 3; do
        wait_for_quiet "$quiet_limit"
        rm -rf "$pwork/engine-out"
        mkdir -p "$pwork/engine-out"
        sync
        before=$(machine_busy_ticks)
        /usr/bin/time -o "$pwork/time.txt" -f '%e %U %S' "$@" >/dev/null 2>>"$pwork/engine.log"
        after=$(machine_busy_ticks)
        read -r wall cpu < <(awk '{ print $1, $2 + $3 }' "$pwork/time.txt")
        foreign=$(foreign_cpu_seconds "$before" "$after" "$cpu")
        if disturbed "$foreign" "$wall" && ((try < 3)); then
            echo "  $label: other processes used $foreign CPU s; running it again" >&2
            continue
        fi
        break
    done
    printf '%s\t%s\t%s\t%s\n' "$label" "$wall" "$cpu" "$foreign" >>"$pwork/engine.tsv"
    echo "  $label: ${wall}s, ${cpu} CPU s for $n_engine photos (others: $foreign CPU s)" >&2
}
echo "pipeline.sh: the engine alone, $n_engine photos" >&2
timed 'photoflux process --jobs 1 (one photo at a time, one libvips thread)' \
    "$PHOTOFLUX" process "$engine_in" --out "$pwork/engine-out" --jobs 1
timed 'photoflux process --jobs 2 (both cores)' \
    "$PHOTOFLUX" process "$engine_in" --out "$pwork/engine-out" --jobs 2
# shellcheck disable=SC2016
timed 'vipsthumbnail, the same two derivatives, no manifest (VIPS_CONCURRENCY=1, one process)' \
    env VIPS_CONCURRENCY=1 sh -c 'vipsthumbnail --size 320x320 --smartcrop attention \
            -o "$0/%s-thumb.webp[Q=80,strip]" "$1"/* &&
        vipsthumbnail --size 1280x1280 \
            -o "$0/%s-preview.jpg[Q=82,interlace,strip,optimize_coding]" "$1"/*' \
    "$pwork/engine-out" "$engine_in"
python3 -c '
import json, sys
n = int(sys.argv[1])
rows = []
for line in open(sys.argv[2]):
    what, wall, cpu, others = line.rstrip("\n").split("\t")
    wall, cpu = float(wall), float(cpu)
    rows.append({"what": what, "wall_s": wall, "cpu_s": cpu, "others_s": others, "photos": n,
                 "photos_per_s": n / wall, "ms_per_photo": 1000 * wall / n, "cpu_ms_per_photo": 1000 * cpu / n})
json.dump({"rows": rows}, open(sys.argv[3], "w"), indent=1)
' "$n_engine" "$pwork/engine.tsv" "$pwork/engine.json"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo "pipeline.sh: load average after: $load_after" >&2

# --- report ------------------------------------------------------------------------------------
stamp=$(date -u +%Y-%m-%dT%H%M)
machine="Machine: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores,\
 $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); $("$PHOTOFLUX" version | head -1),\
 binary sha256 $photoflux_sha ($PHOTOFLUX_LABEL);\
 ${workers:-?} function workers (serve's default: one per core); load average $load_before before, $load_after after."
python3 "$driver" report --default "$pwork/default.json" --debug "$pwork/debug.json" \
    --breakdown "$pwork/breakdown.json" --engine "$pwork/engine.json" \
    --command "$command_line" --machine "$machine" >"$here/results/pipeline-$stamp.md"
python3 - "$here/results/pipeline-$stamp.json" "$pwork" <<'PY'
import json, sys, os
out = {name: json.load(open(os.path.join(sys.argv[2], name + ".json")))
       for name in ("default", "debug", "breakdown", "engine")}
json.dump(out, open(sys.argv[1], "w"))
PY
cat "$here/results/pipeline-$stamp.md"
echo "pipeline.sh: written to bench/results/pipeline-$stamp.md and .json" >&2
