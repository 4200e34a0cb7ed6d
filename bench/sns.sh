#!/usr/bin/env bash
# The notification service of `photoflux serve`: Publish -> delivered notifications per second
# and the latency from sending a Publish to receiving its notification, with 1 and with 50 HTTP
# subscribers, measured by bench/sns/snsload (its own receiver; every delivery is the real signed
# SNS POST, persisted before it is attempted).
#
#   bench/sns.sh [--repeats N] [--messages-1 M] [--messages-50 M]
#
# Each case runs N times (default 3) on one server, each run on a new topic, and the median is
# reported. Publishes come from 4 client threads back to back (a burst), so the latency includes
# the time a notification waits behind the burst: it is the latency under full load, not of an
# idle system. Writes bench/results/sns-<date>.json and prints a Markdown table.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
repeats=3
messages_1=2000
messages_50=200
while (($#)); do
    case "$1" in
    --repeats) repeats=$2; shift 2 ;;
    --messages-1) messages_1=$2; shift 2 ;;
    --messages-50) messages_50=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "sns.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
while read -r var; do unset "$var"; done < <(env | awk -F= '/^(PF_|PHOTOFLUX_|AWS_)/ { print $1 }')

work=${BENCH_WORK:-/tmp/pf-bench}
bench_lock "$work"
snswork="$work/sns"
rm -rf "$snswork"
mkdir -p "$snswork" "$here/results"
cores=$(nproc)
PHOTOFLUX=${PHOTOFLUX:-$repo/build/photoflux}
SNSLOAD=${SNSLOAD:-}
if [[ -z "$SNSLOAD" ]]; then
    cmake -S "$repo" -B "$repo/build-bench" -DCMAKE_BUILD_TYPE=Release >"$snswork/build.log" 2>&1
    cmake --build "$repo/build-bench" --target snsload -j"$cores" >>"$snswork/build.log" 2>&1 ||
        { echo "sns.sh: building snsload failed (see $snswork/build.log)" >&2; exit 1; }
    SNSLOAD="$repo/build-bench/snsload"
fi
cp "$PHOTOFLUX" "$snswork/photoflux"

export AWS_ACCESS_KEY_ID=snsbench AWS_SECRET_ACCESS_KEY=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
AWS_REGION=us-east-1
export AWS_REGION
PHOTOFLUX_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID PHOTOFLUX_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
    PF_SERVE_NOTIFY_ALLOWED_DESTINATIONS=127.0.0.0/8 \
    "$snswork/photoflux" --log-level warn serve --data-dir "$snswork/data" --listen 127.0.0.1:0 \
    --ready-file "$snswork/ready" >"$snswork/photoflux.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for ((i = 0; i < 300; i++)); do [[ -s "$snswork/ready" ]] && break; sleep 0.1; done
[[ -s "$snswork/ready" ]] || { echo "sns.sh: serve did not start" >&2; cat "$snswork/photoflux.log" >&2; exit 1; }
url=$(head -1 "$snswork/ready")

runs="$snswork/runs.jsonl"
: >"$runs"
for ((rep = 1; rep <= repeats; rep++)); do
    for case in "1 $messages_1" "50 $messages_50"; do
        set -- $case
        wait_for_quiet 600
        out=$("$SNSLOAD" --endpoint "$url" --subscribers "$1" --messages "$2" --server-pid "$pid")
        echo "$out" >>"$runs"
        echo "  $1 subscriber(s), run $rep: $out" >&2
    done
done

stamp=$(date -u +%Y-%m-%dT%H%M)
python3 - "$runs" "$here/results/sns-$stamp.json" "$(sha256sum "$snswork/photoflux" | cut -c1-12)" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
out = {"binary_sha256": sys.argv[3], "runs": runs, "medians": {}}
print("| subscribers | messages | Publish calls/s | notifications delivered/s | latency p50 / p99 (ms) | server CPU per delivery (ms) | delivered / expected |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for subs in sorted({r["subscribers"] for r in runs}):
    rs = [r for r in runs if r["subscribers"] == subs]
    med = lambda k: statistics.median(r[k] for r in rs)
    m = {k: med(k) for k in ("publish_per_s", "delivered_per_s", "p50_ms", "p99_ms", "server_cpu_s", "delivered", "expected")}
    out["medians"][subs] = m
    print(f"| {subs} | {rs[0]['messages']} | {m['publish_per_s']:,.0f} | {m['delivered_per_s']:,.0f} | {m['p50_ms']:,.0f} / {m['p99_ms']:,.0f} | {1000 * m['server_cpu_s'] / m['delivered']:.2f} | {int(m['delivered'])} / {int(m['expected'])} |")
json.dump(out, open(sys.argv[2], "w"), indent=1)
print(f"\nwritten to {sys.argv[2]}", file=sys.stderr)
PY
