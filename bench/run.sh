#!/usr/bin/env bash
# Photoflux against its peers, in one run, side by side on the same photos (bench/cache/photos,
# made by bench/fetch-photos.sh; bench/setup.sh installs the peers).
#
#   bench/run.sh [--repeats N] [--only A|B]   (default: 3 runs of both; medians are reported)
#
# Workload A: one 400x400 fit-inside JPEG q80 thumbnail per photo:
#   photoflux (a one-output recipe), vipsthumbnail, ImageMagick's convert, sharp.
# Workload B: photoflux's built-in recipe (320x320 attention-cropped WebP q80 + 1280 px
#   progressive JPEG q82 + manifest) against the same in sharp (bench/sharp-bench.mjs).
#
# Every tool gets both cores, the same way photoflux uses them: two photos at a time, one
# libvips (or ImageMagick) worker thread each.
#   photoflux      --jobs 2 (it then gives each photo 2/2 = 1 libvips thread)
#   vipsthumbnail  two processes (xargs -P2), VIPS_CONCURRENCY=1, each given half of the photos
#                  in one invocation (the list is sorted by size and dealt out alternately so the
#                  halves weigh the same); one process per photo would spend ~70 ms per photo on
#                  process start and libvips module loading, which is not a fair picture of it
#   convert        xargs -P2 -n1 (it takes one input per output), MAGICK_THREAD_LIMIT=1,
#                  -define jpeg:size=800x800 so libjpeg shrinks on load (2x the target, as
#                  ImageMagick's documentation advises for quality)
#   sharp          sharp-bench.mjs: 2 photos at a time, sharp.concurrency(1), UV_THREADPOOL_SIZE=2,
#                  libvips cache off (sharp.cache(false)) as in photoflux
# A diagnostic row, sharp-exact, runs sharp with fastShrinkOnLoad: false: its JPEG decoder then
# shrinks on load no further than twice the target size, as photoflux and vipsthumbnail do. It
# shows how much of sharp's speed comes from its more aggressive default; the verdict uses sharp
# as it comes.
#
# Wall time and peak RSS come from GNU time (/usr/bin/time -f '%e %M') around each whole run.
# For the xargs runs the peak RSS is the largest of the per-process peaks, each measured with
# /usr/bin/time inside xargs. Each run starts with an empty output folder; an untimed warm-up
# run of every tool comes first (page cache, shared libraries). The tools take turns within a
# repetition, so a slow drift of the machine affects them alike. Before each run the script
# waits for the machine to be quiet, and a run during which other processes used more than 5%
# of the CPU is thrown away and repeated (bench/lib.sh); the report lists that CPU for each run.
#
# Prints a Markdown table and writes it, with every single run, to bench/results/latest.md.
# PHOTOFLUX=path overrides the binary (default: a private copy of build/photoflux, made first
# so that a rebuild during the run cannot change what is measured).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
repeats=3
workloads=AB
while (($#)); do
    case "$1" in
    --repeats) repeats=$2; shift 2 ;;
    --only) workloads=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# Photoflux's settings come from defaults only; the peers get no tuning from the environment.
while read -r var; do unset "$var"; done < <(env | awk -F= '/^(PF_|VIPS_|MAGICK_)/ { print $1 }')

photo_dir="$here/cache/photos"
work=${BENCH_WORK:-/tmp/pf-bench}
bench_lock "$work"
results_dir="$here/results"
mkdir -p "$results_dir"

# --- what is measured --------------------------------------------------------------------------
for tool in /usr/bin/time /usr/bin/convert vipsthumbnail vipsheader node; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool missing; run bench/setup.sh" >&2; exit 1; }
done
[[ -d "$here/node_modules/sharp" ]] || { echo "run.sh: sharp missing; run bench/setup.sh" >&2; exit 1; }
mapfile -t photos < <(find "$photo_dir" -maxdepth 1 -name '*.jpg' | LC_ALL=C sort)
((${#photos[@]} > 0)) || { echo "run.sh: no photos; run bench/fetch-photos.sh" >&2; exit 1; }
n=${#photos[@]}

if [[ -z "${PHOTOFLUX:-}" ]]; then
    [[ -x "$repo/build/photoflux" ]] || { echo "run.sh: build/photoflux missing (make build)" >&2; exit 1; }
    cp "$repo/build/photoflux" "$work/photoflux.tmp" && mv "$work/photoflux.tmp" "$work/photoflux"
    PHOTOFLUX="$work/photoflux"
fi
photoflux_sha=$(sha256sum "$PHOTOFLUX" | cut -c1-12)

# Workload A as a photoflux recipe.
recipe_a="$here/thumb-400.yaml"

# The photo list for vipsthumbnail's two processes: biggest first, dealt out alternately.
mapfile -t by_size < <(for p in "${photos[@]}"; do
    echo "$(( $(vipsheader -f width "$p" 2>/dev/null) * $(vipsheader -f height "$p" 2>/dev/null) )) $p"
done | sort -rn | cut -d' ' -f2-)
vt_order=()
for ((i = 0; i < n; i += 2)); do vt_order+=("${by_size[i]}"); done
for ((i = 1; i < n; i += 2)); do vt_order+=("${by_size[i]}"); done
half=$(((n + 1) / 2))
total_mp=$(for p in "${photos[@]}"; do
    echo "$(vipsheader -f width "$p" 2>/dev/null) $(vipsheader -f height "$p" 2>/dev/null)"
done | awk '{ s += $1 * $2 } END { printf "%.1f", s / 1e6 }')

cat "${photos[@]}" >/dev/null  # into the page cache

# --- one run of one tool -----------------------------------------------------------------------
# Each prints "wall_seconds peak_rss_kb cpu_seconds" on stdout; outputs go to $out.
out="$work/out"
timing="$work/time.txt"
rss_log="$work/rss.txt"
log="$work/tools.log"

run_photoflux() {  # $1: A or B
    local recipe=()
    [[ "$1" == A ]] && recipe=(--recipe "$recipe_a")
    /usr/bin/time -o "$timing" -f '%e %M %U %S' \
        "$PHOTOFLUX" process "${photos[@]}" "${recipe[@]}" --out "$out" --jobs 2 --json \
        >"$work/photoflux-$1.json" 2>>"$log"
    awk '{ print $1, $2, $3 + $4 }' "$timing"
}

run_sharp() {  # $1: A or B, then extra sharp-bench.mjs options
    local w=$1
    shift
    (cd "$here" && UV_THREADPOOL_SIZE=2 /usr/bin/time -o "$timing" -f '%e %M %U %S' \
        node sharp-bench.mjs --workload "$w" --jobs 2 --threads 1 "$@" --out "$out" "${photos[@]}" \
        >"$work/sharp-$w.json" 2>>"$log")
    awk '{ print $1, $2, $3 + $4 }' "$timing"
}

# Diagnostic: sharp with fastShrinkOnLoad: false (JPEG shrink-on-load leaves a factor of 2 for
# the resize, like photoflux and vipsthumbnail). Not part of the verdict.
run_sharp-exact() { run_sharp "$1" --exact-shrink; }

run_vipsthumbnail() {
    : >"$rss_log"
    printf '%s\0' "${vt_order[@]}" |
        VIPS_CONCURRENCY=1 /usr/bin/time -o "$timing" -f '%e %M %U %S' \
            xargs -0 -P2 -n "$half" \
            /usr/bin/time -a -o "$rss_log" -f '%M' \
            vipsthumbnail --size 400x400 -o "$out/%s.jpg[Q=80,strip,optimize_coding]" 2>>"$log"
    local peak
    peak=$(sort -n "$rss_log" | tail -n1)
    awk -v peak="$peak" '{ print $1, peak, $3 + $4 }' "$timing"
}

run_convert() {
    : >"$rss_log"
    # shellcheck disable=SC2016  # expanded by the inner sh
    printf '%s\0' "${photos[@]}" |
        MAGICK_THREAD_LIMIT=1 /usr/bin/time -o "$timing" -f '%e %M %U %S' \
            xargs -0 -P2 -n1 sh -c \
            'exec /usr/bin/time -a -o "$1" -f %M /usr/bin/convert -define jpeg:size=800x800 "$3" \
                -auto-orient -thumbnail 400x400 -quality 80 "$2/$(basename "$3")"' \
            sh "$rss_log" "$out" 2>>"$log"
    local peak
    peak=$(sort -n "$rss_log" | tail -n1)
    awk -v peak="$peak" '{ print $1, peak, $3 + $4 }' "$timing"
}

# Files each tool must have written for n photos.
expected_files() {  # $1 workload, $2 tool
    case "$1/$2" in
    A/photoflux) echo $((2 * n)) ;;  # thumb.jpg, manifest.json (photoflux always writes one)
    A/*) echo "$n" ;;
    B/*) echo $((3 * n)) ;;  # thumb.webp, preview.jpg, manifest.json
    esac
}

records="$work/records.tsv"
: >"$records"
: >"$log"

measure() {  # $1 workload, $2 tool, $3 repetition (0 = warm-up, not recorded)
    local try result files want wall rss cpu before after foreign
    want=$(expected_files "$1" "$2")
    for try in 1 2 3 4 5; do
        rm -rf "$out"
        mkdir -p "$out"
        sync
        wait_for_quiet
        before=$(machine_busy_ticks)
        result=$("run_$2" "$1") || { echo "run.sh: $2 failed on workload $1 (see $log)" >&2; exit 1; }
        after=$(machine_busy_ticks)
        files=$(find "$out" -type f | wc -l)
        if ((files != want)); then
            echo "run.sh: $2 wrote $files files for workload $1, expected $want (see $log)" >&2
            exit 1
        fi
        read -r wall rss cpu <<<"$result"
        foreign=$(foreign_cpu_seconds "$before" "$after" "$cpu")
        if disturbed "$foreign" "$wall" && ((try < 5)); then
            echo "  $1 $2: other processes used $foreign CPU s during the run; repeating it" >&2
            continue
        fi
        break
    done
    if (($3 > 0)); then
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$wall" "$rss" "$cpu" "$files" "$foreign" >>"$records"
        printf '  %s %-13s run %d: %6.2f s  %7.1f MB peak  %6.2f CPU s  %d files  (others: %s CPU s)\n' \
            "$1" "$2" "$3" "$wall" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$cpu" "$files" "$foreign" >&2
    fi
}

tools_a=(photoflux vipsthumbnail convert sharp sharp-exact)
tools_b=(photoflux sharp sharp-exact)
[[ $workloads == *A* ]] || tools_a=()
[[ $workloads == *B* ]] || tools_b=()
echo "run.sh: $n photos ($total_mp MP), $repeats runs each, photoflux $photoflux_sha" >&2
for rep in $(seq 0 "$repeats"); do
    for t in "${tools_a[@]}"; do measure A "$t" "$rep"; done
    for t in "${tools_b[@]}"; do measure B "$t" "$rep"; done
done

# --- report ------------------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() {  # $1 workload, $2 tool, $3 column (4 wall, 5 rss, 6 cpu)
    awk -F'\t' -v w="$1" -v t="$2" -v c="$3" '$1 == w && $2 == t { print $c }' "$records" | median
}
spread() {  # $1 workload, $2 tool: "min-max" of the wall times
    awk -F'\t' -v w="$1" -v t="$2" '$1 == w && $2 == t {
        if (lo == "" || $4 < lo) lo = $4; if (hi == "" || $4 > hi) hi = $4 }
        END { printf "%.2f-%.2f", lo, hi }' "$records"
}

json_field() {  # $1 file, $2 key
    node -e 'const fs = require("fs"); process.stdout.write(String(JSON.parse(fs.readFileSync(process.argv[1], "utf8"))[process.argv[2]]))' "$1" "$2"
}
sharp_json="$work/sharp-${workloads:0:1}.json"
sharp_version=$(json_field "$sharp_json" sharp)
sharp_vips=$(json_field "$sharp_json" libvips)
vt_version=$(vipsthumbnail --vips-version 2>/dev/null | head -n1 | awk '{ print $2 }')
im_version=$(/usr/bin/convert -version | awk 'NR == 1 { print $3 }')
pf_version=$("$PHOTOFLUX" version 2>/dev/null | head -n1)
if [[ "$PHOTOFLUX" == "$work/photoflux" ]]; then
    git_state="build/photoflux; the work tree was at $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
else
    git_state="$PHOTOFLUX"
fi

table() {  # $1 workload, then the tools
    local w=$1
    shift
    local pf_wall pf_rss
    pf_wall=$(field "$w" photoflux 4)
    pf_rss=$(field "$w" photoflux 5)
    echo "| tool | photos/s | wall (s) | wall, all runs (s) | peak RSS (MB) | CPU (s) | cores busy | photos/s vs photoflux | peak RSS vs photoflux |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for t in "$@"; do
        awk -v t="$t" -v n="$n" -v wall="$(field "$w" "$t" 4)" -v rss="$(field "$w" "$t" 5)" \
            -v cpu="$(field "$w" "$t" 6)" -v pw="$pf_wall" -v pr="$pf_rss" -v range="$(spread "$w" "$t")" 'BEGIN {
            if (t == "sharp-exact") t = "sharp, fastShrinkOnLoad off (diagnostic)"
            printf "| %s | %.2f | %.2f | %s | %.0f | %.2f | %.2f | %.2fx | %.2fx |\n",
                t, n / wall, wall, range, rss / 1024, cpu, cpu / wall, pw / wall, rss / pr }'
    done
}

verdict() {  # $1 workload: photoflux against sharp
    awk -v pw="$(field "$1" photoflux 4)" -v pr="$(field "$1" photoflux 5)" \
        -v sw="$(field "$1" sharp 4)" -v sr="$(field "$1" sharp 5)" 'BEGIN {
        fast = pw <= sw; lean = pr <= sr
        printf "Target (at least sharp'"'"'s throughput at no more than its peak memory): %s. ",
            (fast && lean) ? "**met**" : "**not met**"
        printf "Throughput %.2fx sharp'"'"'s, peak RSS %.2fx sharp'"'"'s.\n", sw / pw, pr / sr }'
}

report="$results_dir/latest.md"
{
    echo "# Photoflux benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores." \
        "$n photos, $total_mp MP in total. Median of $repeats runs; every tool on both cores."
    echo "$pf_version (binary sha256 $photoflux_sha: $git_state), vipsthumbnail (libvips $vt_version)," \
        "ImageMagick $im_version, sharp $sharp_version (libvips $sharp_vips), Node.js $(node --version)."
    echo
    if ((${#tools_a[@]})); then
        echo "## A: one 400 px fit-inside JPEG q80 per photo"
        echo
        table A "${tools_a[@]}"
        echo
        verdict A
        echo
    fi
    if ((${#tools_b[@]})); then
        echo "## B: the built-in recipe (320 px attention-cropped WebP + 1280 px progressive JPEG + manifest)"
        echo
        table B "${tools_b[@]}"
        echo
        verdict B
        echo
    fi
    echo "\"photos/s vs photoflux\" is the tool's photos/s divided by photoflux's (above 1: faster than"
    echo "photoflux); \"peak RSS vs photoflux\" is the tool's peak RSS divided by photoflux's (above 1:"
    echo "more memory). \"cores busy\" is CPU time over wall time (2.00 = both cores all the time)."
    echo "Each column is the median of its own; wall, all runs: the fastest and slowest run."
    echo "The verdict compares photoflux with sharp as configured by default (fastShrinkOnLoad on)."
    echo
    echo "## Every run"
    echo
    echo "| workload | tool | run | wall (s) | peak RSS (MB) | CPU (s) | files | CPU s of other processes meanwhile |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk -F'\t' '{ printf "| %s | %s | %s | %.2f | %.1f | %.2f | %s | %s |\n", $1, $2, $3, $4, $5 / 1024, $6, $7, $8 }' "$records"
} >"$report"
cp "$records" "$results_dir/latest.tsv"

sed -n '/^## [AB]:/,/^## Every run/p' "$report" | sed '$d'
echo "run.sh: written to ${report#"$repo/"} (every run: ${results_dir#"$repo/"}/latest.tsv)" >&2
