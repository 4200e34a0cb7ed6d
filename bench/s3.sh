#!/usr/bin/env bash
# The S3 API of `photoflux serve` against moto_server, driven by the same client (bench/s3/s3load)
# in the same run, with the disk under the data directory measured as the limit.
#
#   bench/s3.sh [--repeats N] [--seconds S] [--quick]
#
# Cases; each run has its own warm-up (on the same connections), each case N repetitions
# (default 3), and the median is reported:
#   small objects, ops/s   PUT and GET of 4 KiB and 64 KiB objects by 1 and by 16 concurrent
#                          clients for S seconds (default 5). PUTs write new keys; GETs read 1024
#                          keys written just before (untimed) and check every body.
#   large objects, MB/s    PUT and GET of a 256 MiB object by one client, 3 transfers per run,
#                          bodies sent from and received into memory. GET "warm" is served from
#                          the page cache (moto from its own temporary file, equally cached); GET
#                          "cold", photoflux only, reads the object just after the page cache was
#                          dropped.
#   the disk               dd of 256 MiB (bs=1M, conv=fsync), and read back just after the page
#                          cache was dropped; the same 256 MiB written and read back the way serve
#                          stores a body (s3load disk-write/disk-read: temp file, buffer growing to
#                          1 MiB, fsync, rename, fsync of the directory); and 2,000 4 KiB / 64 KiB
#                          files written that way one after another: the fsync-bound limit of one
#                          client's PUTs.
#
# Both servers get identical requests: path-style, SigV4 with UNSIGNED-PAYLOAD, HTTP/1.1 keep-alive
# (moto_server's Werkzeug closes the connection after each response; s3load reconnects, as any
# client must). The servers take turns within a repetition, the order alternating, so a drift of
# the machine affects both alike. The photoflux data directory is a fresh folder under
# bench/cache/ (the repository's filesystem) and the disk is measured in the same folder.
#
# Before each run the script waits for the machine to be quiet (bench/lib.sh). s3load reports the
# CPU used during the timed phase by itself, by the server, by all other user-space processes and
# by the whole machine; a run in which other processes used more than 5% of the machine is
# repeated (up to 3 tries; the last is kept and flagged). Not the machine's busy time minus client
# and server, as bench/lib.sh does: here interrupts and kernel writeback for the benchmark's own
# network and disk traffic are a large share of it (0.6 s in 5 s of single-client PUTs), and no
# process is charged for them. Dropping the page cache needs root (/proc/sys/vm/drop_caches); without it the
# files read cold are evicted one by one with dd iflag=nocache, and the report says which was used.
#
# Writes every run, the medians and the machine to bench/results/s3-<date>.json and prints the
# Markdown tables. PHOTOFLUX=path measures another binary (default: a private copy of
# build/photoflux); S3LOAD=path uses a prebuilt s3load (default: built here, in build-bench/).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
command_line="bench/s3.sh${*:+ $*}"
repeats=3
seconds=5
warmup=1
large_count=3
quiet_limit=1800  # seconds to wait for a quiet machine before each run (then measure anyway)
while (($#)); do
    case "$1" in
    --repeats) repeats=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    # A smoke test of the script itself: one short run of each, hardly waiting for quiet.
    --quick) repeats=1; seconds=2; large_count=1; quiet_limit=4; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "s3.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# Photoflux runs on its defaults; nothing in the environment tunes either server.
while read -r var; do unset "$var"; done < <(env | awk -F= '/^(PF_|PHOTOFLUX_|AWS_|MOTO_)/ { print $1 }')

work=${BENCH_WORK:-/tmp/pf-bench}
bench_lock "$work"
s3work="$work/s3"
rm -rf "$s3work"
mkdir -p "$s3work" "$here/results" "$here/cache"
log="$s3work/s3load.log"
records="$s3work/runs.jsonl"
: >"$records"

for tool in moto_server python3 dd cmake; do
    command -v "$tool" >/dev/null || { echo "s3.sh: $tool missing" >&2; exit 1; }
done

# --- what is measured --------------------------------------------------------------------------
if [[ -z "${S3LOAD:-}" ]]; then
    # Its own build folder: build/ belongs to whoever is developing, and s3load needs only the aws
    # and crypto libraries.
    if [[ ! -f "$repo/build-bench/CMakeCache.txt" ]]; then
        cmake -S "$repo" -B "$repo/build-bench" -DCMAKE_BUILD_TYPE=Release -DPF_BUILD_TESTS=OFF \
            >"$s3work/cmake.log" || { cat "$s3work/cmake.log" >&2; exit 1; }
    fi
    cmake --build "$repo/build-bench" --target s3load -j"$cores" >"$s3work/build.log" 2>&1 ||
        { tail -30 "$s3work/build.log" >&2; exit 1; }
    S3LOAD="$repo/build-bench/s3load"
fi
if [[ -z "${PHOTOFLUX:-}" ]]; then
    [[ -x "$repo/build/photoflux" ]] || { echo "s3.sh: build/photoflux missing (make build)" >&2; exit 1; }
    # A private copy, so that a rebuild during the run cannot change what is measured.
    cp "$repo/build/photoflux" "$s3work/photoflux.tmp" && mv "$s3work/photoflux.tmp" "$s3work/photoflux"
    PHOTOFLUX="$s3work/photoflux"
fi
"$PHOTOFLUX" serve --help >/dev/null 2>&1 || { echo "s3.sh: $PHOTOFLUX has no serve command" >&2; exit 1; }

# Data and disk measurements on the repository's filesystem (bench/cache/ is git-ignored).
data_root=$(mktemp -d "$here/cache/s3-run.XXXXXX")
if [[ $(stat -c %d "$data_root") != $(stat -c %d "$repo") ]]; then
    echo "s3.sh: WARNING: $data_root is not on the filesystem of $repo" >&2
fi
disk_dir="$data_root/disk"
mkdir -p "$disk_dir"

pf_pid=""
moto_pid=""
cleanup() {
    # Only the two servers this script started, by their process ids.
    for pid in $pf_pid $moto_pid; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $pf_pid $moto_pid; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$data_root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # so that the EXIT trap runs

if (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
    cache_drop="drop_caches"
else
    cache_drop="dd iflag=nocache (no permission to write /proc/sys/vm/drop_caches)"
    echo "s3.sh: cannot drop the page cache (not root?); evicting the files read cold instead" >&2
fi
# $@: the files that must come from the disk at the next read.
drop_page_cache() {
    sync
    if [[ $cache_drop == drop_caches ]]; then
        echo 3 >/proc/sys/vm/drop_caches
    else
        local f
        for f; do dd if="$f" iflag=nocache count=0 status=none; done
    fi
}

# Files the next measurement reads cold. Their page cache is dropped after the wait for a quiet
# machine, immediately before the run, not earlier: this VM's balloon driver hands freed memory
# back to the host within seconds (free page reporting), and then every page-cache page filled
# again costs a host fault. Reads then run at ~370 MB/s with the CPU busy instead of ~1.3 GB/s,
# whatever the disk, and the measurement would be of the hypervisor.
cold=()

json_field() {  # $1 name, $2 a one-line JSON object as s3load prints it
    sed -E "s/.*\"$1\": \"?([^,\"}]*)\"?.*/\1/" <<<"$2"
}

# Appends one record: the case, who served it, the repetition, the try, and what was measured.
record() {  # $1 case, $2 server, $3 repetition, $4 try, $5 disturbed (true|false), $6 result JSON
    printf '{"case": "%s", "server": "%s", "rep": %s, "try": %s, "disturbed": %s, "load1": %s, "result": %s}\n' \
        "$1" "$2" "$3" "$4" "$5" "$(cut -d' ' -f1 /proc/loadavg)" "$6" >>"$records"
}

# One s3load run, repeated while other processes disturb it (up to 3 tries, the last kept). Each
# try writes under its own key prefix (unless the caller passes one), so no run overwrites objects
# of another: an overwrite makes serve reclaim the old blob, work the run did not ask for.
measure() {  # $1 case, $2 server, $3 repetition; then s3load's arguments
    local case=$1 server=$2 rep=$3 try out foreign wall flag
    shift 3
    for try in 1 2 3; do
        wait_for_quiet "$quiet_limit"
        ((${#cold[@]} == 0)) || drop_page_cache "${cold[@]}"
        if ! out=$("$S3LOAD" --prefix "$case/r$rep-t$try/" "$@" 2>>"$log"); then
            echo "s3.sh: s3load failed ($case against $server): $(tail -1 "$log")" >&2
            echo "  output: $out" >&2
            exit 1
        fi
        foreign=$(json_field others_cpu_s "$out")
        wall=$(json_field seconds "$out")
        flag=false
        if disturbed "$foreign" "$wall"; then
            flag=true
            if ((try < 3)); then
                echo "  $case $server: other processes used ${foreign}s of CPU; run again" >&2
                continue
            fi
        fi
        break
    done
    record "$case" "$server" "$rep" "$try" "$flag" "$out"
    printf '  %-22s %-9s rep %s: %s\n' "$case" "$server" "$rep" \
        "$(json_field ops_per_s "$out") ops/s, $(json_field mb_per_s "$out") MB/s" >&2
}

# dd's own summary line -> the JSON s3load would print for the same measurement.
measure_dd() {  # $1 case, $2 repetition; then dd's arguments
    local case=$1 rep=$2 out secs
    shift 2
    wait_for_quiet "$quiet_limit"
    ((${#cold[@]} == 0)) || drop_page_cache "${cold[@]}"
    out=$(LC_ALL=C dd "$@" 2>&1 | tail -1)
    secs=$(awk '{ for (i = 2; i <= NF; i++) if ($i == "s,") print $(i - 1) }' <<<"$out")
    record "$case" disk "$rep" 1 false "$(awk -v s="$secs" -v n=$((256 << 20)) -v op="$case" \
        'BEGIN { printf "{\"op\": \"%s\", \"size\": %d, \"seconds\": %.3f, \"ops\": 1, \"mb_per_s\": %.1f}", op, n, s, n / s / 1e6 }')"
    printf '  %-22s %-9s rep %s: %s\n' "$case" disk "$rep" "$out" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "s3.sh: load average before: $load_before" >&2


large=$((256 << 20))

# --- the servers -------------------------------------------------------------------------------
bucket=photos
access_key=s3bench
secret_key=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
export AWS_ACCESS_KEY_ID=$access_key AWS_SECRET_ACCESS_KEY=$secret_key AWS_REGION=us-east-1

PHOTOFLUX_ACCESS_KEY_ID=$access_key PHOTOFLUX_SECRET_ACCESS_KEY=$secret_key \
    "$PHOTOFLUX" serve --data-dir "$data_root/photoflux" --listen 127.0.0.1:0 \
    --ready-file "$s3work/ready" >"$s3work/photoflux.log" 2>&1 &
pf_pid=$!
for ((i = 0; i < 300; i++)); do
    [[ -s "$s3work/ready" ]] && break
    sleep 0.1
done
[[ -s "$s3work/ready" ]] || { echo "s3.sh: photoflux serve did not start" >&2; cat "$s3work/photoflux.log" >&2; exit 1; }
pf_url=$(head -1 "$s3work/ready")

# moto_server picks no free port itself: ask the kernel for one.
moto_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$moto_port" >"$s3work/moto.log" 2>&1 &
moto_pid=$!
moto_url="http://127.0.0.1:$moto_port"
for ((i = 0; i < 300; i++)); do
    "$S3LOAD" --endpoint "$moto_url" --bucket "$bucket" --op create-bucket >/dev/null 2>&1 && break
    sleep 0.1
done
"$S3LOAD" --endpoint "$moto_url" --bucket "$bucket" --op create-bucket >/dev/null 2>>"$log" ||
    { echo "s3.sh: moto_server did not start" >&2; cat "$s3work/moto.log" >&2; exit 1; }
echo "s3.sh: photoflux serve at $pf_url (pid $pf_pid), moto_server at $moto_url (pid $moto_pid)" >&2

# Both servers, in turns, for one case and repetition; odd repetitions start with photoflux.
both() {  # $1 case, $2 repetition; then s3load's arguments (without endpoint and bucket)
    local case=$1 rep=$2 order
    shift 2
    order=(photoflux moto)
    ((rep % 2 == 0)) && order=(moto photoflux)
    for server in "${order[@]}"; do
        if [[ $server == photoflux ]]; then
            measure "$case" photoflux "$rep" --endpoint "$pf_url" --server-pid "$pf_pid" \
                --bucket "$bucket" "$@"
        else
            measure "$case" moto "$rep" --endpoint "$moto_url" --server-pid "$moto_pid" \
                --bucket "$bucket" "$@"
        fi
    done
}

echo "s3.sh: small objects, ${seconds}s per run" >&2
for op in put get; do
    for size in 4096 65536; do
        for clients in 1 16; do
            for ((rep = 1; rep <= repeats; rep++)); do
                both "$op-$size-c$clients" "$rep" --op "$op" --size "$size" --clients "$clients" \
                    --seconds "$seconds" --warmup "$warmup"
            done
        done
    done
done

echo "s3.sh: large objects, $large_count x 256 MiB per run" >&2
for ((rep = 1; rep <= repeats; rep++)); do
    # One key overwritten: moto keeps what it stores, and 256 MiB objects would pile up.
    both "put-$large-c1" "$rep" --op put --size "$large" --count "$large_count" --keys 1 \
        --warmup "$warmup"
    both "get-$large-c1-warm" "$rep" --op get --size "$large" --count "$large_count" \
        --warmup "$warmup"
done
# Cold GETs: one object, the page cache dropped before each read, no warm-up (it would fill it).
"$S3LOAD" --endpoint "$pf_url" --bucket "$bucket" --prefix cold/ --op put --size "$large" \
    --count 1 --keys 1 >/dev/null 2>>"$log"
mapfile -t cold < <(find "$data_root/photoflux" -type f -size +200M)
for ((rep = 1; rep <= repeats; rep++)); do
    measure "get-$large-c1-cold" photoflux "$rep" --endpoint "$pf_url" --server-pid "$pf_pid" \
        --bucket "$bucket" --prefix cold/ --op get --size "$large" --count 1 --skip-populate
done
cold=()

# --- the disk ----------------------------------------------------------------------------------
# Measured after the servers, not before: these cases create and delete thousands of files, and
# ext4 without a journal then skips the freed inodes for about 30 s when it allocates new ones
# (`recently_deleted`, up to a fifth of the server's CPU in `perf`), which would slow the PUTs
# measured next for a reason that is not theirs.
echo "s3.sh: the disk under $data_root" >&2
for ((rep = 1; rep <= repeats; rep++)); do
    measure_dd dd-write "$rep" if=/dev/zero of="$disk_dir/dd.bin" bs=1M count=256 conv=fsync
    cold=("$disk_dir/dd.bin")
    measure_dd dd-read-cold "$rep" if="$disk_dir/dd.bin" of=/dev/null bs=1M
    cold=()
    measure serve-style-write disk "$rep" --op disk-write --dir "$disk_dir" --size "$large" --count 1
    cold=("$disk_dir/blobs/f0")
    measure serve-style-read-cold disk "$rep" --op disk-read --dir "$disk_dir" --size "$large" --count 1
    cold=()
    for size in 4096 65536; do
        rm -rf "$disk_dir/small"
        measure "fsync-files-$size" disk "$rep" --op disk-write --dir "$disk_dir/small" \
            --size "$size" --count 2000
    done
done
rm -rf "$disk_dir"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo "s3.sh: load average after: $load_after" >&2

# --- the report --------------------------------------------------------------------------------
stamp=$(date +%Y-%m-%dT%H%M)
result_file="$here/results/s3-$stamp.json"
meta=$(python3 - "$PHOTOFLUX" "$data_root" <<'EOF'
import json, platform, subprocess, sys, hashlib, os
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return ""
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
with open(sys.argv[1], "rb") as f:
    sha = hashlib.sha256(f.read()).hexdigest()[:12]
version = sh(sys.argv[1], "version").splitlines()
print(json.dumps({
    "photoflux": version[0] if version else "",
    "photoflux_sha256": sha,
    "moto": sh("python3", "-c", "import moto; print(moto.__version__)"),
    "cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
    "filesystem": sh("findmnt", "-no", "SOURCE,FSTYPE,OPTIONS", "-T", sys.argv[2]),
}))
EOF
)
python3 "$here/s3/report.py" "$records" "$result_file" \
    --meta "$meta" --command "$command_line" --load-before "$load_before" \
    --load-after "$load_after" --cache-drop "$cache_drop" --seconds "$seconds" \
    --repeats "$repeats" --large-count "$large_count"
echo "s3.sh: written to ${result_file#"$repo/"}" >&2
