#!/usr/bin/env bash
# Does photoflux's memory stay flat over thousands of photos, and what does jemalloc change?
#
#   bench/memory.sh [--count N] [--thumb-count N] [--rebuild] [--hardlinks] [--from-commit REV]
#   bench/memory.sh --report-only     (rewrites bench/results/memory.md from the last run's files)
#
# Builds a second photoflux without jemalloc (build-nojemalloc/, glibc malloc) unless it exists,
# makes a folder of symlinks that repeat the benchmark photos (bench/cache/photos), and runs
# `photoflux process DIR --out ... --jobs 2` with each build while sampling the process's VmRSS
# from /proc/PID/status every 0.5 s, together with how many photos have been written (output
# folders appear as photos finish). Reports the RSS after 10%, 50% and 100% of the photos and
# the peak (the kernel's VmHWM, which catches spikes between samples). A single sample depends
# on which photos happen to be in flight (an 18 MP progressive JPEG needs far more than a 2 MP
# baseline one), so the report also gives the mean and the largest RSS in each tenth of the run:
# the trend is in those.
#
# Two passes per build:
#   default recipe (WebP thumb + 1280 px JPEG + manifest), --count photos (default 2000: at
#     about 9 photos/s on 2 cores a run takes ~4 minutes; lower it on a slower machine);
#   a one-output 400 px JPEG recipe, --thumb-count photos (default 2000), the "thousands of
#     photos" case within the same time.
# Writes the table to stdout and bench/results/memory.md, each RSS series to bench/results/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

count=2000
thumb_count=2000
rebuild=0
report_only=0
hardlinks=0
from_commit=""
while (($#)); do
    case "$1" in
    --count) count=$2; shift 2 ;;
    --thumb-count) thumb_count=$2; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --report-only) report_only=1; shift ;;
    --hardlinks) hardlinks=1; shift ;;
    --from-commit) from_commit=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "memory.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
while read -r var; do unset "$var"; done < <(env | awk -F= '/^(PF_|VIPS_)/ { print $1 }')

bench_lock "${BENCH_WORK:-/tmp/pf-bench}"
work=${BENCH_WORK:-/tmp/pf-bench}/memory
mkdir -p "$work"
results_dir="$here/results"
mkdir -p "$results_dir"

mapfile -t photos < <(find "$here/cache/photos" -maxdepth 1 -name '*.jpg' | LC_ALL=C sort)
((${#photos[@]} > 0)) || { echo "memory.sh: no photos; run bench/fetch-photos.sh" >&2; exit 1; }

# --- the two builds ----------------------------------------------------------------------------
# Default: build/photoflux (jemalloc, as `make build` makes it) against build-nojemalloc/ (the
# same tree, PF_USE_JEMALLOC=OFF). With --from-commit REV both are built from `git archive REV`
# under $work instead: the same source for both, whatever state the work tree is in.
built_from="the work tree"
if ((!report_only)); then
    if [[ -n "$from_commit" ]]; then
        rev=$(git -C "$repo" rev-parse --short "$from_commit")
        built_from="commit $rev"
        src="$work/src-$rev"
        if [[ ! -f "$src/CMakeLists.txt" ]]; then
            rm -rf "$src"
            mkdir -p "$src"
            git -C "$repo" archive "$rev" | tar -x -C "$src"
        fi
        for variant in jemalloc glibc; do
            flag=ON
            [[ $variant == glibc ]] && flag=OFF
            if ((rebuild)) || [[ ! -x "$work/build-$variant-$rev/photoflux" ]]; then
                echo "memory.sh: building photoflux ($variant) from commit $rev" >&2
                cmake -S "$src" -B "$work/build-$variant-$rev" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
                    -DPF_USE_JEMALLOC=$flag -DPF_BUILD_TESTS=OFF >/dev/null
                cmake --build "$work/build-$variant-$rev" -j2 --target photoflux >/dev/null
            fi
            cp "$work/build-$variant-$rev/photoflux" "$work/photoflux-$variant"
        done
    else
        [[ -x "$repo/build/photoflux" ]] || { echo "memory.sh: build/photoflux missing (make build)" >&2; exit 1; }
        nojemalloc="$repo/build-nojemalloc"
        if ((rebuild)) || [[ ! -x "$nojemalloc/photoflux" ]]; then
            echo "memory.sh: building photoflux without jemalloc in ${nojemalloc#"$repo/"}" >&2
            cmake -S "$repo" -B "$nojemalloc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPF_USE_JEMALLOC=OFF \
                -DPF_BUILD_TESTS=OFF >/dev/null
            if ! cmake --build "$nojemalloc" -j2 --target photoflux >"$work/build.log" 2>&1; then
                tail -n 20 "$work/build.log" >&2
                echo "memory.sh: the work tree does not build; try --from-commit HEAD" >&2
                exit 1
            fi
        fi
        # Private copies, so a rebuild meanwhile cannot change what is measured.
        cp "$repo/build/photoflux" "$work/photoflux-jemalloc"
        cp "$nojemalloc/photoflux" "$work/photoflux-glibc"
    fi
    if ! ldd "$work/photoflux-jemalloc" | grep -q libjemalloc; then
        echo "memory.sh: the jemalloc build is not linked with jemalloc (PF_USE_JEMALLOC=OFF?)" >&2
        exit 1
    fi
    if ldd "$work/photoflux-glibc" | grep -q libjemalloc; then
        echo "memory.sh: the glibc build is linked with jemalloc" >&2
        exit 1
    fi
    echo "$built_from; jemalloc build sha256 $(sha256sum "$work/photoflux-jemalloc" | cut -c1-12)," \
        "glibc build $(sha256sum "$work/photoflux-glibc" | cut -c1-12)" >"$results_dir/memory-builds.txt"
fi

thumb_recipe="$here/thumb-400.yaml"

# A flat folder of N symlinks cycling through the photos; photoflux walks folders recursively
# and follows symlinked files. (Builds before commit ac48a9f computed a symlinked file's output
# folder from the link's target and failed; --hardlinks works around that for such builds.)
make_inputs() {  # $1 folder, $2 count
    rm -rf "$1"
    mkdir -p "$1"
    local i
    for ((i = 0; i < $2; i++)); do
        local p=${photos[i % ${#photos[@]}]}
        local link
        link="$1/$(printf '%05d' "$i")-$(basename "$p")"
        if ((hardlinks)); then
            ln "$p" "$link" 2>/dev/null || cp "$p" "$link"
        else
            ln -s "$p" "$link"
        fi
    done
}

# --- one sampled run ---------------------------------------------------------------------------
# Prints: photos seconds peak_kb rss10_kb rss50_kb rss100_kb foreign_cpu_s; the series goes to $4.
sampled_run() {  # $1 binary, $2 input folder, $3 count, $4 series file, $5... extra arguments
    local binary=$1 input=$2 n=$3 series=$4
    shift 4
    local out="$work/out"
    rm -rf "$out"
    mkdir -p "$out"
    sync
    wait_for_quiet
    local before after
    before=$(machine_busy_ticks)
    "$binary" process "$input" --out "$out" --jobs 2 --json "$@" >"$work/summary.json" 2>"$work/stderr.log" &
    local pid=$!
    local started hwm=0 own_ticks=0
    started=$(date +%s.%N)
    : >"$series"
    while [[ -r /proc/$pid/status ]]; do
        local rss h done_count
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        h=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        [[ -n "$rss" ]] || break
        [[ -n "$h" ]] && hwm=$h
        own_ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo "$own_ticks")
        # Each photo's folder appears when its first output is written; at most --jobs are
        # in flight, so this counts finished photos give or take 2.
        done_count=$(find "$out" -mindepth 1 -maxdepth 1 -type d | wc -l)
        printf '%s\t%s\t%s\n' "$(awk -v s="$started" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - s }')" \
            "$done_count" "$rss" >>"$series"
        sleep 0.5
    done
    local status=0
    wait "$pid" || status=$?
    after=$(machine_busy_ticks)
    if ((status != 0)); then
        echo "memory.sh: $binary exited with $status (see $work/stderr.log)" >&2
        exit 1
    fi
    local processed seconds peak cpu foreign
    cpu=$(awk -v t="$own_ticks" -v hz="$clock_ticks" 'BEGIN { print t / hz }')
    foreign=$(foreign_cpu_seconds "$before" "$after" "$cpu")
    processed=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).processed' "$work/summary.json")
    seconds=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).seconds' "$work/summary.json")
    peak=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).peak_rss_bytes / 1024' "$work/summary.json")
    ((processed == n)) || { echo "memory.sh: processed $processed of $n photos" >&2; exit 1; }
    # RSS at the first sample where 10% / 50% of the photos were done, and at the last sample
    # (all photos done, the process about to exit).
    awk -F'\t' -v n="$n" -v peak="$peak" -v hwm="$hwm" -v processed="$processed" -v seconds="$seconds" \
        -v foreign="$foreign" '
        { last = $3 }
        !r10 && $2 >= 0.10 * n { r10 = $3 }
        !r50 && $2 >= 0.50 * n { r50 = $3 }
        END { p = peak > hwm ? peak : hwm; print processed, seconds, p, r10, r50, last, foreign }' "$series"
    rm -rf "$out"
}

# --- the passes --------------------------------------------------------------------------------
table="$results_dir/memory-table.md"

pass() {  # $1 label, $2 count, $3... extra arguments for photoflux
    local label=$1 n=$2
    shift 2
    local input="$work/in-$n"
    make_inputs "$input" "$n"
    local variant
    for variant in jemalloc glibc; do
        echo "memory.sh: $label recipe, $n photos, $variant..." >&2
        local series="$results_dir/memory-$label-$variant.tsv"
        local line try processed seconds peak r10 r50 r100 foreign
        for try in 1 2; do
            line=$(sampled_run "$work/photoflux-$variant" "$input" "$n" "$series" "$@")
            read -r processed seconds peak r10 r50 r100 foreign <<<"$line"
            if disturbed "$foreign" "$seconds" && ((try < 2)); then
                echo "  other processes used $foreign CPU s during the run; repeating it" >&2
                continue
            fi
            break
        done
        awk -v l="$label" -v n="$processed" -v v="$variant" -v s="$seconds" -v p="$peak" \
            -v a="$r10" -v b="$r50" -v c="$r100" -v f="$foreign" 'BEGIN {
            printf "| %s | %d | %s | %.1f | %.2f | %.0f | %.0f | %.0f | %.0f | %.1f |\n",
                l, n, v == "glibc" ? "glibc malloc" : "jemalloc", s, n / s, a / 1024, b / 1024,
                c / 1024, p / 1024, f }' | tee -a "$table" >&2
    done
    rm -rf "$input"
}

# Mean and largest VmRSS in each tenth of a run (by photos written), from a series file.
deciles() {  # $1 series, $2 count
    awk -F'\t' -v n="$2" '
        { d = int($2 * 10 / n); if (d > 9) d = 9; sum[d] += $3; cnt[d]++; if ($3 > mx[d]) mx[d] = $3 }
        END {
            line = ""
            for (i = 0; i < 10; i++) line = line sprintf(" %.0f / %.0f |", cnt[i] ? sum[i] / cnt[i] / 1024 : 0, mx[i] / 1024)
            first = sum[0] / cnt[0]; last = sum[9] / cnt[9]
            printf "%s %+.0f%% |\n", line, (last - first) / first * 100
        }' "$1"
}

write_report() {
    {
        echo "# Photoflux memory over many photos, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
        echo "photoflux process DIR --jobs 2 over a folder of $( ((hardlinks)) && echo "hard links" || echo symlinks) repeating the ${#photos[@]} benchmark"
        echo "photos; VmRSS sampled every 0.5 s. RSS at 10%/50%/100%: the first sample after that share of"
        echo "the photos was written (100%: the last sample). Peak: the larger of the kernel's VmHWM and"
        echo "getrusage's maximum RSS (photoflux's --json peak_rss_bytes). Series:"
        echo "bench/results/memory-RECIPE-ALLOCATOR.tsv (seconds, photos written, VmRSS kB)."
        [[ -f "$results_dir/memory-builds.txt" ]] && echo "Builds: $(cat "$results_dir/memory-builds.txt")."
        echo
        echo "| recipe | photos | allocator | seconds | photos/s | RSS at 10% (MB) | at 50% (MB) | at 100% (MB) | peak (MB) | CPU s of other processes |"
        echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        cat "$table"
        echo
        echo "A single sample depends on which photos are in flight at that moment (an 18 MP progressive"
        echo "JPEG needs several times what a 4 MP baseline one does), so the trend is in the mean and the"
        echo "largest VmRSS (MB) of each tenth of the run, and the change of the mean from the first tenth"
        echo "to the last:"
        echo
        echo "| recipe | allocator | 1st | 2nd | 3rd | 4th | 5th | 6th | 7th | 8th | 9th | 10th | mean, 1st→10th |"
        echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        local label variant n
        for label in default thumb; do
            n=$count
            [[ $label == thumb ]] && n=$thumb_count
            for variant in jemalloc glibc; do
                local series="$results_dir/memory-$label-$variant.tsv"
                [[ -s "$series" ]] || continue
                echo "| $label | $([[ $variant == glibc ]] && echo "glibc malloc" || echo jemalloc) |$(deciles "$series" "$n")"
            done
        done
    } >"$results_dir/memory.md"
}

if ((report_only)); then
    [[ -s "$table" ]] || { echo "memory.sh: no previous run in ${results_dir#"$repo/"}" >&2; exit 1; }
    write_report
    cat "$results_dir/memory.md"
    exit 0
fi

: >"$table"
pass default "$count"
pass thumb "$thumb_count" --recipe "$thumb_recipe"
write_report
cat "$results_dir/memory.md"
echo "memory.sh: written to ${results_dir#"$repo/"}/memory.md" >&2
